"""One run's details, artifacts and edits through the real server and a real sqlite store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from mlworkbench.explorer.run_details import get_run_details
from mlworkbench_server.protocol import ERROR_CODES, REQUESTS
from tests.backend.run_details_store import Store, make_store

from .conftest import SERVER


@pytest_lsp.fixture(config=SERVER)
async def untrusted(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=types.ClientCapabilities())
    )
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return make_store(tmp_path)


async def _ask(client: LanguageClient, request: str, store: Store, **params: Any) -> Any:
    return await client.protocol.send_request_async(
        REQUESTS[request], {"workspaceUri": store.workspace.as_uri(), **params}
    )


async def _refused(client: LanguageClient, request: str, store: Store, **params: Any) -> Any:
    with pytest.raises(JsonRpcException) as raised:
        await _ask(client, request, store, **params)
    return raised.value


async def test_details_artifacts_and_resolving_one(trusted: LanguageClient, store: Store) -> None:
    details = await _ask(trusted, "RUN_DETAILS", store, runId=store.run_id)
    assert details.run_id == store.run_id and details.run_name == "rich"
    assert details.tags.team == "vision" and details.note == "first try"
    assert details.args == ["--c", "1.0", "--name", "a b"]
    assert details.log_artifact == "mlworkbench/output.log"

    listed = await _ask(trusted, "LIST_ARTIFACTS", store, runId=store.run_id)
    assert "notes.txt" in [e.path for e in listed.entries]
    inside = await _ask(trusted, "LIST_ARTIFACTS", store, runId=store.run_id, path="reports")
    assert [(e.path, e.is_dir, e.size) for e in inside.entries] == [
        ("reports/summary.md", False, 10)
    ]

    resolved = await _ask(trusted, "RESOLVE_ARTIFACT", store, runId=store.run_id, path="plot.png")
    assert resolved.kind == "image" and Path(resolved.localPath).name == "plot.png"
    assert Path(resolved.localPath).is_file()


@pytest.mark.slow
async def test_a_runs_models_are_listed_and_their_mlmodel_resolved_by_label(
    trusted: LanguageClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    store = make_store(tmp_path, with_models=True)
    details = await _ask(trusted, "RUN_DETAILS", store, runId=store.run_id)
    assert [(m.label, m.uri) for m in details.models] == [
        ("clf", store.logged_model_uri),
        ("model", f"runs:/{store.run_id}/model"),
    ]
    for label in ("clf", "model"):
        resolved = await _ask(trusted, "RESOLVE_ARTIFACT", store, runId=store.run_id, model=label)
        assert resolved.kind == "model" and Path(resolved.localPath).name == "MLmodel"
        assert "flavors:" in Path(resolved.localPath).read_text()
    error = await _refused(trusted, "RESOLVE_ARTIFACT", store, runId=store.run_id, model="../x")
    assert error.code == ERROR_CODES["ARTIFACT_NOT_FOUND"]


@pytest.mark.slow
async def test_bad_paths_and_missing_things_are_structured_errors(
    trusted: LanguageClient, store: Store
) -> None:
    for path in ("../../mlflow.db", "%2e%2e/x", "/etc/passwd"):
        error = await _refused(trusted, "RESOLVE_ARTIFACT", store, runId=store.run_id, path=path)
        assert error.code == ERROR_CODES["ARTIFACT_PATH_REFUSED"]
        assert error.data["kind"] == "ARTIFACT_PATH_REFUSED"
    error = await _refused(trusted, "RESOLVE_ARTIFACT", store, runId=store.run_id, path="no.txt")
    assert error.code == ERROR_CODES["ARTIFACT_NOT_FOUND"]
    error = await _refused(trusted, "LIST_ARTIFACTS", store, runId=store.run_id, path="../")
    assert error.code == ERROR_CODES["ARTIFACT_PATH_REFUSED"]
    error = await _refused(trusted, "RUN_DETAILS", store, runId="0" * 32)
    assert error.code == ERROR_CODES["RUN_NOT_FOUND"]
    error = await _refused(trusted, "RUN_DETAILS", store, runId=store.deleted_experiment_run_id)
    assert error.code == ERROR_CODES["EXPERIMENT_DELETED"]


@pytest.mark.slow
async def test_edits_return_the_new_details_and_show_in_the_library(
    trusted: LanguageClient, store: Store
) -> None:
    run = {"runId": store.run_id}
    renamed = await _ask(trusted, "EDIT_RUN", store, **run, action="rename", value="best")
    assert renamed.run_name == "best"
    noted = await _ask(trusted, "EDIT_RUN", store, **run, action="note", value="keep")
    assert noted.note == "keep"
    tagged = await _ask(trusted, "EDIT_RUN", store, **run, action="setTag", key="k", value="v")
    assert tagged.tags.k == "v"
    untagged = await _ask(trusted, "EDIT_RUN", store, **run, action="removeTag", key="team")
    assert not hasattr(untagged.tags, "team")
    deleted = await _ask(trusted, "EDIT_RUN", store, **run, action="delete")
    assert deleted.lifecycle_stage == "deleted"

    seen = get_run_details(store.workspace, store.run_id)
    assert (seen.run_name, seen.note, seen.tags) == ("best", "keep", {"k": "v"})
    assert seen.lifecycle_stage == "deleted"

    restored = await _ask(trusted, "EDIT_RUN", store, **run, action="restore")
    assert restored.lifecycle_stage == "active"
    assert get_run_details(store.workspace, store.run_id).lifecycle_stage == "active"


@pytest.mark.slow
async def test_bad_edits_are_refused_and_change_nothing(
    trusted: LanguageClient, store: Store
) -> None:
    before = get_run_details(store.workspace, store.run_id)
    run = {"runId": store.run_id}
    for params in (
        {"action": "rename", "value": "   "},
        {"action": "rename"},
        {"action": "setTag", "key": "mlflow.user", "value": "me"},
        {"action": "setTag", "key": "", "value": "x"},
        {"action": "removeTag", "key": "absent"},
        {"action": "restore"},
        {"action": "explode"},
        {},
    ):
        error = await _refused(trusted, "EDIT_RUN", store, **run, **params)
        assert error.code == ERROR_CODES["INVALID_RUN_EDIT"], params
    error = await _refused(trusted, "EDIT_RUN", store, runId="0" * 32, action="delete")
    assert error.code == ERROR_CODES["RUN_NOT_FOUND"]
    assert get_run_details(store.workspace, store.run_id) == before


@pytest.mark.slow
async def test_an_untrusted_workspace_reads_but_edits_nothing(
    untrusted: LanguageClient, store: Store
) -> None:
    before = get_run_details(store.workspace, store.run_id)
    details = await _ask(untrusted, "RUN_DETAILS", store, runId=store.run_id)
    assert details.run_name == "rich"
    for params in (
        {"action": "rename", "value": "x"},
        {"action": "delete"},
        {"action": "setTag", "key": "k", "value": "v"},
    ):
        error = await _refused(untrusted, "EDIT_RUN", store, runId=store.run_id, **params)
        assert error.code == ERROR_CODES["UNTRUSTED_WORKSPACE"]
    assert get_run_details(store.workspace, store.run_id) == before
