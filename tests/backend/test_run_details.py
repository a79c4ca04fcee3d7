"""One run's details and artifact listing, read from a real MLflow sqlite store."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from run_details_store import LOSS, Store, make_store

from mlworkbench.errors import (
    ArtifactNotFoundError,
    ArtifactPathRefusedError,
    ExperimentDeletedError,
    RunNotFoundError,
    TrackingStoreTooNewError,
)
from mlworkbench.explorer.run_details import ArtifactEntry, get_run_details, list_artifacts

pytestmark = pytest.mark.usefixtures("no_tracking_env")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return make_store(tmp_path_factory.mktemp("details"), with_models=True)


@pytest.mark.slow
def test_details_carry_params_exact_latest_metrics_and_split_tags(store: Store) -> None:
    details = get_run_details(store.workspace, store.run_id)
    assert details.run_id == store.run_id
    assert (details.experiment_name, details.run_name) == ("iris", "rich")
    assert details.status == "FINISHED" and details.lifecycle_stage == "active"
    assert (details.start_time, details.end_time) == (1_000, 66_000)
    assert details.params == {"c": "1.0", "solver": "lbfgs"}
    assert details.metrics == {"accuracy": 0.875, "loss": LOSS}
    assert details.tags == {"team": "vision"}
    assert details.system_tags["mlflow.runName"] == "rich"
    assert details.system_tags["mlworkbench.script"] == str(store.workspace / "train.py")
    assert not any(k.startswith(("mlflow.", "mlworkbench.")) for k in details.tags)
    assert details.note == "first try"
    assert details.script == str(store.workspace / "train.py")
    assert details.artifact_uri.startswith((store.workspace / "mlruns").as_uri())


@pytest.mark.slow
def test_details_give_the_script_args_the_log_and_the_models(store: Store) -> None:
    details = get_run_details(store.workspace, store.run_id)
    assert details.args == ["--c", "1.0", "--name", "a b"]
    assert details.log_artifact == "mlworkbench/output.log"
    assert store.logged_model_uri is not None and store.logged_model_uri.startswith("models:/")
    assert [(m.label, m.uri) for m in details.models] == [
        ("clf", store.logged_model_uri),
        ("model", f"runs:/{store.run_id}/model"),
    ]
    assert details.models[0].model_id == store.logged_model_uri.removeprefix("models:/")
    assert details.models[1].model_id is None
    assert details.to_dict()["models"] == [m.to_dict() for m in details.models]


@pytest.mark.slow
def test_a_run_without_workbench_tags_has_no_args_log_note_or_models(store: Store) -> None:
    details = get_run_details(store.workspace, store.plain_id)
    assert details.args is None and details.log_artifact is None
    assert details.note is None and details.models == [] and details.tags == {}
    assert details.status == "RUNNING" and details.end_time is None


def test_args_fall_back_to_the_command_tag_and_ignore_garbage() -> None:
    from mlworkbench.explorer.run_details import script_args

    assert script_args({"mlworkbench.command": '["py", "t.py", "--x", "1"]'}) == ["--x", "1"]
    assert script_args({"mlworkbench.argv": "not json", "mlworkbench.command": "[1]"}) is None
    assert script_args({"mlworkbench.argv": '["t.py"]'}) == []


@pytest.mark.slow
def test_list_artifacts_lists_one_level_sorted_with_sizes(store: Store) -> None:
    top = list_artifacts(store.workspace, store.run_id)
    assert [e.path for e in top] == [
        "README",
        "mlworkbench",
        "model",
        "notes.txt",
        "plot.png",
        "reports",
        "table.csv",
        "weights.bin",
    ]
    assert ArtifactEntry("notes.txt", False, len("hello artifacts\n")) in top
    assert ArtifactEntry("reports", True, None) in top
    assert list_artifacts(store.workspace, store.run_id, "reports") == [
        ArtifactEntry("reports/summary.md", False, len("# summary\n"))
    ]
    assert "model/MLmodel" in [
        e.path for e in list_artifacts(store.workspace, store.run_id, "model")
    ]
    assert list_artifacts(store.workspace, store.run_id, "./reports/") == list_artifacts(
        store.workspace, store.run_id, "reports"
    )


@pytest.mark.slow
@pytest.mark.parametrize("path", ["../", "/etc", "reports/../..", "%2e%2e", "a\\b", "x#y", "x?y"])
def test_list_artifacts_refuses_paths_that_could_leave_the_run(store: Store, path: str) -> None:
    with pytest.raises(ArtifactPathRefusedError):
        list_artifacts(store.workspace, store.run_id, path)


@pytest.mark.slow
def test_list_artifacts_of_a_missing_folder_is_not_found(store: Store) -> None:
    with pytest.raises(ArtifactNotFoundError) as raised:
        list_artifacts(store.workspace, store.run_id, "nothing-here")
    assert raised.value.code == "ARTIFACT_NOT_FOUND" and raised.value.path == "nothing-here"


@pytest.mark.slow
@pytest.mark.parametrize("run_id", ["0" * 32, "not-a-run", "../x", ""])
def test_a_missing_run_is_run_not_found(store: Store, run_id: str) -> None:
    with pytest.raises(RunNotFoundError) as raised:
        get_run_details(store.workspace, run_id)
    assert raised.value.code == "RUN_NOT_FOUND"
    with pytest.raises(RunNotFoundError):
        list_artifacts(store.workspace, run_id)


def test_no_store_is_run_not_found_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(RunNotFoundError):
        get_run_details(tmp_path, "0" * 32)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_run_of_a_deleted_experiment_says_the_experiment_is_deleted(store: Store) -> None:
    with pytest.raises(ExperimentDeletedError) as raised:
        get_run_details(store.workspace, store.deleted_experiment_run_id)
    assert raised.value.code == "EXPERIMENT_DELETED"
    assert raised.value.name == "wine" and "restore" in raised.value.message


def test_a_store_from_a_newer_mlflow_is_reported_and_left_unchanged(tmp_path: Path) -> None:
    made = make_store(tmp_path)
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    connection.close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with pytest.raises(TrackingStoreTooNewError) as raised:
        get_run_details(tmp_path, made.run_id)
    assert raised.value.code == "TRACKING_STORE_TOO_NEW"
    assert raised.value.revision == "ffffffffffff" and "newer MLflow" in raised.value.message
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


@pytest.mark.slow
def test_list_artifacts_does_not_follow_a_symlink_out_of_the_run(
    store: Store, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("x")
    uri = MlflowClient(store.uri).get_run(store.run_id).info.artifact_uri
    link = Path(uri.removeprefix("file://")) / "escape"
    link.symlink_to(outside, target_is_directory=True)
    try:
        with pytest.raises(ArtifactPathRefusedError) as raised:
            list_artifacts(store.workspace, store.run_id, "escape")
        assert "outside the run's artifact folder" in raised.value.message
    finally:
        link.unlink()
