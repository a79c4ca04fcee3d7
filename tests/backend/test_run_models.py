"""The models a run logged (MLflow 3 LoggedModels and MLmodel folders) and their MLmodel file.

The store is real: `log_model` and an old-style `model/` folder written by MLflow itself
(run_details_store.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_details_store import Store, make_store

from mlworkbench.errors import ArtifactNotFoundError, RunNotFoundError
from mlworkbench.run_models import resolve_model_file


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return make_store(tmp_path_factory.mktemp("models"), with_models=True)


def test_a_logged_models_mlmodel_opens_from_its_own_location(store: Store) -> None:
    resolved = resolve_model_file(store.workspace, store.run_id, "clf")
    assert resolved.kind == "model" and resolved.local_path.name == "MLmodel"
    text = resolved.local_path.read_text()
    assert "sklearn" in text and "flavors:" in text
    # MLflow 3 keeps it outside the run's artifacts: under the experiment's models/ folder.
    assert "/models/" in resolved.local_path.as_posix()
    assert store.run_id not in resolved.local_path.as_posix()


def test_a_model_folders_mlmodel_opens_in_the_runs_artifacts(store: Store) -> None:
    resolved = resolve_model_file(store.workspace, store.run_id, "model")
    assert resolved.local_path.as_posix().endswith(f"{store.run_id}/artifacts/model/MLmodel")
    assert "flavors:" in resolved.local_path.read_text()


@pytest.mark.parametrize("label", ["nope", "../model", "model/../../x", "", "reports"])
def test_only_a_model_the_run_logged_can_be_named(store: Store, label: str) -> None:
    with pytest.raises(ArtifactNotFoundError):
        resolve_model_file(store.workspace, store.run_id, label)


def test_a_run_without_models_or_an_unknown_run(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFoundError):
        resolve_model_file(store.workspace, store.plain_id, "model")
    with pytest.raises(RunNotFoundError):
        resolve_model_file(store.workspace, "0" * 32, "model")
