"""The model registry on a real sqlite store: register a run's model, list, move aliases, refuse.

The runs log real scikit-learn models with `mlflow.sklearn.log_model` (MLflow 3 LoggedModels)
or keep an older-style artifact folder with an MLmodel file; the registry is read back with
MLflow's own client. One store is shared by the module (logging a model takes seconds); each
test uses its own model names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlworkbench.errors import RunNotFoundError
from mlworkbench.registry.model_registry import delete_alias, list_models, register_model, set_alias
from mlworkbench.registry.registry_errors import (
    InvalidModelNameError,
    ModelNotFoundError,
    NoModelInRunError,
    SeveralModelsInRunError,
)


@dataclass(frozen=True)
class Store:
    workspace: Path
    uri: str
    one_model: str  # run id: one LoggedModel named "model"
    two_models: str  # run id: LoggedModels "model" and "scaler"
    legacy: str  # run id: an artifact folder "legacy_model" with an MLmodel file
    no_model: str  # run id: metrics only


def _fit() -> Any:
    import numpy as np
    from sklearn.linear_model import LinearRegression

    return LinearRegression().fit(np.array([[0.0], [1.0], [2.0]]), np.array([0.0, 1.0, 2.0]))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    import mlflow
    import mlflow.sklearn
    from mlflow.tracking import MlflowClient

    workspace = tmp_path_factory.mktemp("workspace")
    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment(
        "train", artifact_location=(workspace / "mlruns").as_uri()
    )
    mlflow.set_tracking_uri(uri)
    requirements = ["scikit-learn"]  # skips MLflow's slow requirement inference
    try:
        with mlflow.start_run(experiment_id=experiment) as run:
            info = mlflow.sklearn.log_model(_fit(), name="model", pip_requirements=requirements)
        one_model = run.info.run_id
        with mlflow.start_run(experiment_id=experiment) as run:
            mlflow.sklearn.log_model(_fit(), name="model", pip_requirements=requirements)
            mlflow.sklearn.log_model(_fit(), name="scaler", pip_requirements=requirements)
        two_models = run.info.run_id
        with mlflow.start_run(experiment_id=experiment) as run:
            # An MLflow 2 style run: the model lives in the run's own artifacts.
            local = Path(mlflow.artifacts.download_artifacts(info.model_uri))
            mlflow.log_artifacts(str(local), "legacy_model")
        legacy = run.info.run_id
        with mlflow.start_run(experiment_id=experiment) as run:
            mlflow.log_metric("loss", 0.5)
        no_model = run.info.run_id
    finally:
        mlflow.set_tracking_uri(None)
    return Store(workspace, uri, one_model, two_models, legacy, no_model)


def _client(store: Store) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(store.uri)


def _logged_models(store: Store, run_id: str) -> list[Any]:
    run = _client(store).get_run(run_id)
    return list(
        _client(store).search_logged_models(
            experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id='{run_id}'"
        )
    )


def _model_names(store: Store) -> list[str]:
    return sorted(m.name for m in _client(store).search_registered_models())


def test_a_workspace_without_a_store_has_no_models_and_none_is_created(tmp_path: Path) -> None:
    assert list_models(tmp_path) == []
    assert not (tmp_path / "mlflow.db").exists()
    with pytest.raises(RunNotFoundError):
        register_model(tmp_path, "0" * 32, "iris")
    with pytest.raises(ModelNotFoundError):
        set_alias(tmp_path, "iris", "champion", "1")
    assert not (tmp_path / "mlflow.db").exists()


def test_registering_a_logged_model_creates_the_model_and_version_one(store: Store) -> None:
    version = register_model(store.workspace, store.one_model, "iris-reg")

    assert (version.name, version.version, version.run_id) == ("iris-reg", "1", store.one_model)
    assert version.status == "READY" and version.aliases == []
    again = register_model(store.workspace, store.one_model, "iris-reg")
    assert again.version == "2"
    stored = _client(store).get_model_version("iris-reg", "2")
    (logged,) = _logged_models(store, store.one_model)
    assert stored.run_id == store.one_model and stored.source == logged.artifact_location
    assert version.source == logged.artifact_location


def test_list_models_gives_every_version_newest_first_with_aliases(store: Store) -> None:
    register_model(store.workspace, store.one_model, "iris-list")
    register_model(store.workspace, store.legacy, "iris-list")
    set_alias(store.workspace, "iris-list", "champion", "1")

    (model,) = [m for m in list_models(store.workspace) if m.name == "iris-list"]

    assert [v.version for v in model.versions] == ["2", "1"]
    assert model.aliases == {"champion": "1"}
    assert model.versions[1].aliases == ["champion"]
    assert model.versions[0].run_id == store.legacy
    assert model.to_dict()["versions"][0]["version"] == "2"  # type: ignore[index]


def test_an_older_run_with_an_mlmodel_folder_registers_that_folder(store: Store) -> None:
    version = register_model(store.workspace, store.legacy, "iris-legacy")

    assert version.source.endswith("/legacy_model")
    assert version.run_id == store.legacy


def test_several_models_need_a_choice_and_the_choice_registers_it(store: Store) -> None:
    with pytest.raises(SeveralModelsInRunError) as raised:
        register_model(store.workspace, store.two_models, "iris-two")
    assert raised.value.models == ["model", "scaler"]
    assert "iris-two" not in _model_names(store)

    version = register_model(store.workspace, store.two_models, "iris-two", model_path="scaler")

    (scaler,) = [m for m in _logged_models(store, store.two_models) if m.name == "scaler"]
    assert _client(store).get_model_version("iris-two", version.version).source == (
        scaler.artifact_location
    )


def test_a_run_without_a_model_says_how_to_log_one(store: Store) -> None:
    with pytest.raises(NoModelInRunError, match="log_model") as raised:
        register_model(store.workspace, store.no_model, "iris-none")
    assert raised.value.code == "NO_MODEL_IN_RUN"
    with pytest.raises(NoModelInRunError, match="'nope'"):
        register_model(store.workspace, store.one_model, "iris-none", model_path="nope")
    assert "iris-none" not in _model_names(store)


def test_an_unknown_run_is_refused(store: Store) -> None:
    with pytest.raises(RunNotFoundError):
        register_model(store.workspace, "f" * 32, "iris-unknown")
    with pytest.raises(RunNotFoundError):
        register_model(store.workspace, "not a run id", "iris-unknown")
    assert "iris-unknown" not in _model_names(store)


@pytest.mark.parametrize("name", ["", "  ", " padded", "a/b", "team:model"])
def test_invalid_model_names_are_refused_before_anything_is_written(
    store: Store, name: str
) -> None:
    before = _model_names(store)
    with pytest.raises(InvalidModelNameError) as raised:
        register_model(store.workspace, store.one_model, name)
    assert raised.value.code == "INVALID_MODEL_NAME"
    assert _model_names(store) == before


def test_an_alias_moves_between_versions_and_can_be_removed(store: Store) -> None:
    register_model(store.workspace, store.one_model, "iris-alias")
    register_model(store.workspace, store.one_model, "iris-alias")

    assert set_alias(store.workspace, "iris-alias", "champion", "1").aliases == {"champion": "1"}
    moved = set_alias(store.workspace, "iris-alias", "champion", "2")
    assert moved.aliases == {"champion": "2"}
    assert [v.aliases for v in moved.versions] == [["champion"], []]
    set_alias(store.workspace, "iris-alias", "staging-candidate", "1")

    left = delete_alias(store.workspace, "iris-alias", "champion")

    assert left.aliases == {"staging-candidate": "1"}
    assert _client(store).get_registered_model("iris-alias").aliases == {"staging-candidate": 1}


@pytest.mark.parametrize("alias", ["", "latest", "LATEST", "v1", "v12", "has space", "a/b"])
def test_reserved_and_malformed_aliases_are_refused_and_nothing_changes(
    store: Store, alias: str
) -> None:
    register_model(store.workspace, store.one_model, "iris-bad-alias")
    before = _client(store).get_registered_model("iris-bad-alias").aliases

    with pytest.raises(InvalidModelNameError) as raised:
        set_alias(store.workspace, "iris-bad-alias", alias, "1")

    assert raised.value.what == "alias"
    assert _client(store).get_registered_model("iris-bad-alias").aliases == before


def test_unknown_models_versions_and_aliases_are_model_not_found(store: Store) -> None:
    register_model(store.workspace, store.one_model, "iris-missing")
    set_alias(store.workspace, "iris-missing", "champion", "1")

    with pytest.raises(ModelNotFoundError, match="no registered model 'ghost'"):
        set_alias(store.workspace, "ghost", "champion", "1")
    with pytest.raises(ModelNotFoundError, match="no version 9") as raised:
        set_alias(store.workspace, "iris-missing", "champion", "9")
    assert raised.value.code == "MODEL_NOT_FOUND" and raised.value.version == "9"
    with pytest.raises(InvalidModelNameError, match="number"):
        set_alias(store.workspace, "iris-missing", "champion", "one")
    with pytest.raises(ModelNotFoundError, match="no alias 'ghost'"):
        delete_alias(store.workspace, "iris-missing", "ghost")
    with pytest.raises(ModelNotFoundError):
        delete_alias(store.workspace, "ghost", "champion")
    assert _client(store).get_registered_model("iris-missing").aliases == {"champion": 1}
