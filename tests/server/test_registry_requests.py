"""Model registry requests through the real server on a real sqlite store.

Runs log real scikit-learn models (MLflow 3 LoggedModels); what the server registered is read
back with MLflow's own client. Untrusted workspaces may list models but change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from mlworkbench_server.protocol import ERROR_CODES, REQUESTS


@dataclass(frozen=True)
class Store:
    workspace: Path
    uri: str
    one_model: str
    two_models: str


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LinearRegression

    workspace = tmp_path_factory.mktemp("workspace")
    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    experiment = MlflowClient(uri).create_experiment(
        "train", artifact_location=(workspace / "mlruns").as_uri()
    )
    model = LinearRegression().fit(np.array([[0.0], [1.0]]), np.array([0.0, 1.0]))
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run(experiment_id=experiment) as one:
            mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        with mlflow.start_run(experiment_id=experiment) as two:
            mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
            mlflow.sklearn.log_model(model, name="scaler", pip_requirements=["scikit-learn"])
    finally:
        mlflow.set_tracking_uri(None)
    return Store(workspace, uri, one.info.run_id, two.info.run_id)


def _registered(store: Store) -> dict[str, dict[str, int]]:
    from mlflow.tracking import MlflowClient

    return {m.name: dict(m.aliases) for m in MlflowClient(store.uri).search_registered_models()}


async def test_register_list_and_move_aliases(trusted: LanguageClient, store: Store) -> None:
    workspace = store.workspace.as_uri()
    send = trusted.protocol.send_request_async

    version = await send(
        REQUESTS["REGISTER_MODEL"],
        {"workspaceUri": workspace, "runId": store.one_model, "name": "iris"},
    )
    assert (version.name, version.version, version.run_id) == ("iris", "1", store.one_model)
    await send(
        REQUESTS["REGISTER_MODEL"],
        {"workspaceUri": workspace, "runId": store.one_model, "name": "iris"},
    )

    model = await send(
        REQUESTS["SET_MODEL_ALIAS"],
        {"workspaceUri": workspace, "name": "iris", "alias": "champion", "version": "2"},
    )
    assert model.aliases.champion == "2"
    listed = await send(REQUESTS["LIST_MODELS"], {"workspaceUri": workspace})
    (iris,) = [m for m in listed.models if m.name == "iris"]
    assert [v.version for v in iris.versions] == ["2", "1"]
    assert list(iris.versions[0].aliases) == ["champion"]

    model = await send(
        REQUESTS["DELETE_MODEL_ALIAS"],
        {"workspaceUri": workspace, "name": "iris", "alias": "champion"},
    )
    assert not model.aliases  # pygls hands JSON objects over as named tuples
    assert _registered(store)["iris"] == {}


@pytest.mark.slow
async def test_several_models_come_back_as_a_choice_then_register(
    trusted: LanguageClient, store: Store
) -> None:
    params = {"workspaceUri": store.workspace.as_uri(), "runId": store.two_models, "name": "two"}

    with pytest.raises(JsonRpcException) as raised:
        await trusted.protocol.send_request_async(REQUESTS["REGISTER_MODEL"], params)

    assert raised.value.code == ERROR_CODES["SEVERAL_MODELS_IN_RUN"]
    assert raised.value.data["models"] == ["model", "scaler"]
    assert "two" not in _registered(store)
    version = await trusted.protocol.send_request_async(
        REQUESTS["REGISTER_MODEL"], {**params, "modelPath": "scaler"}
    )
    assert version.version == "1"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("request_name", "extra", "code"),
    [
        ("REGISTER_MODEL", {"runId": "0" * 32, "name": "ghost-run"}, "RUN_NOT_FOUND"),
        ("REGISTER_MODEL", {"runId": "RUN", "name": "a/b"}, "INVALID_MODEL_NAME"),
        ("SET_MODEL_ALIAS", {"name": "ghost", "alias": "x", "version": "1"}, "MODEL_NOT_FOUND"),
        (
            "SET_MODEL_ALIAS",
            {"name": "ghost", "alias": "latest", "version": "1"},
            "INVALID_MODEL_NAME",
        ),
        ("DELETE_MODEL_ALIAS", {"name": "ghost", "alias": "x"}, "MODEL_NOT_FOUND"),
    ],
)
async def test_bad_input_is_a_structured_error_and_changes_nothing(
    trusted: LanguageClient, store: Store, request_name: str, extra: dict[str, str], code: str
) -> None:
    before = _registered(store)
    params = {"workspaceUri": store.workspace.as_uri(), **extra}
    if params.get("runId") == "RUN":
        params["runId"] = store.one_model

    with pytest.raises(JsonRpcException) as raised:
        await trusted.protocol.send_request_async(REQUESTS[request_name], params)

    assert raised.value.code == ERROR_CODES[code]
    assert raised.value.data["kind"] == code
    assert _registered(store) == before


@pytest.mark.slow
async def test_a_run_without_a_model_says_so(trusted: LanguageClient, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("e", artifact_location=(tmp_path / "mlruns").as_uri())
    run = client.create_run(experiment)

    with pytest.raises(JsonRpcException) as raised:
        await trusted.protocol.send_request_async(
            REQUESTS["REGISTER_MODEL"],
            {"workspaceUri": tmp_path.as_uri(), "runId": run.info.run_id, "name": "none"},
        )

    assert raised.value.code == ERROR_CODES["NO_MODEL_IN_RUN"]
    assert "log_model" in raised.value.message


@pytest.mark.slow
async def test_an_untrusted_workspace_lists_but_changes_nothing(
    client: LanguageClient, store: Store
) -> None:
    workspace = store.workspace.as_uri()
    before = _registered(store)
    listed = await client.protocol.send_request_async(
        REQUESTS["LIST_MODELS"], {"workspaceUri": workspace}
    )
    assert sorted(m.name for m in listed.models) == sorted(before)

    for name, params in [
        ("REGISTER_MODEL", {"runId": store.one_model, "name": "untrusted"}),
        ("SET_MODEL_ALIAS", {"name": "iris", "alias": "x", "version": "1"}),
        ("DELETE_MODEL_ALIAS", {"name": "iris", "alias": "x"}),
    ]:
        with pytest.raises(JsonRpcException) as raised:
            await client.protocol.send_request_async(
                REQUESTS[name], {"workspaceUri": workspace, **params}
            )
        assert raised.value.code == ERROR_CODES["UNTRUSTED_WORKSPACE"]
    assert _registered(store) == before


async def test_a_workspace_without_a_store_has_no_models(
    client: LanguageClient, tmp_path: Path
) -> None:
    listed = await client.protocol.send_request_async(
        REQUESTS["LIST_MODELS"], {"workspaceUri": tmp_path.as_uri()}
    )
    assert list(listed.models) == []
    assert not (tmp_path / "mlflow.db").exists()
