"""The models a run logged (MLflow 3 LoggedModels and MLmodel folders) and their MLmodel file.

The store is real: `log_model` and an old-style `model/` folder written by MLflow itself
(run_details_store.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from artifact_server import serve_artifacts
from run_details_store import Store, make_store

from mlworkbench.errors import ArtifactNotFoundError, ArtifactPathRefusedError, RunNotFoundError
from mlworkbench.explorer.run_models import resolve_model_file
from mlworkbench.tracking.private_dirs import CACHE_PREFIX

# The store logs real models with MLflow: ~15 s to build.
pytestmark = pytest.mark.slow


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


def _artifact_root(store: Store) -> Path:
    from mlflow.tracking import MlflowClient

    uri = MlflowClient(store.uri).get_run(store.run_id).info.artifact_uri
    return Path(uri.removeprefix("file://"))


def test_an_mlmodel_symlink_out_of_the_runs_artifacts_is_refused(
    store: Store, tmp_path: Path
) -> None:
    """A model folder whose MLmodel links out would show a file the run never had. A model
    folder that is itself a link out is not even listed (MLflow refuses to list it), and does
    not stop the run's other models from opening."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "MLmodel").write_text("secret: not a model\n")
    root = _artifact_root(store)
    (root / "linked_file").mkdir()
    (root / "linked_file" / "MLmodel").symlink_to(outside / "MLmodel")
    (root / "linked_folder").symlink_to(outside, target_is_directory=True)
    try:
        with pytest.raises(ArtifactPathRefusedError) as raised:
            resolve_model_file(store.workspace, store.run_id, "linked_file")
        assert "outside the model's folder" in raised.value.message
        with pytest.raises(ArtifactNotFoundError):
            resolve_model_file(store.workspace, store.run_id, "linked_folder")
        assert resolve_model_file(store.workspace, store.run_id, "model").local_path.is_file()
    finally:
        (root / "linked_file" / "MLmodel").unlink()
        (root / "linked_file").rmdir()
        (root / "linked_folder").unlink()


def test_a_remote_models_mlmodel_is_downloaded_into_a_private_cache(
    store: Store, tmp_path: Path
) -> None:
    """The workspace ships `.mlworkbench` as a symlink to `.git`: nothing is written there."""
    from mlflow.tracking import MlflowClient

    workspace = tmp_path / "repo"
    git = workspace / ".git"
    git.mkdir(parents=True)
    (workspace / ".mlworkbench").symlink_to(git, target_is_directory=True)
    with serve_artifacts(tmp_path / "served") as server:
        client = MlflowClient(store.uri)
        experiment = client.create_experiment("remote-models", server.location("m"))
        run_id = client.create_run(experiment).info.run_id
        folder = server.folder / "m" / run_id / "artifacts" / "model"
        folder.mkdir(parents=True)
        (folder / "MLmodel").write_text("flavors: {}\n")

        resolved = resolve_model_file(workspace, run_id, "model", tracking_uri=store.uri)

    assert list(git.iterdir()) == []
    assert resolved.kind == "model" and resolved.local_path.read_text() == "flavors: {}\n"
    cache = next(p for p in resolved.local_path.parents if p.name.startswith(CACHE_PREFIX))
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700 and cache.stat().st_uid == os.getuid()
