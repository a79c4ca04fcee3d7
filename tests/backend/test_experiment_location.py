"""Experiments the workbench creates keep their artifacts beside the store, whatever folder
the process runs in (MLflow would root them in `./mlruns` of the working directory: the CLI
run from elsewhere, or the language server, would write a workspace's files elsewhere)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from scripts.run_support import make_workspace, tracking_uri

from mlworkbench.launch.child.store_open import create_if_missing, resolve_experiment


def test_created_experiments_live_beside_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = make_workspace(tmp_path, monkeypatch)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    client = MlflowClient(tracking_uri(workspace))

    first = resolve_experiment(client, "privacy")
    assert resolve_experiment(client, "privacy") == first  # found, not created twice
    create_if_missing(tracking_uri(workspace), "reports")
    create_if_missing(tracking_uri(workspace), "reports")
    second = client.get_experiment_by_name("reports")
    assert second is not None

    for experiment_id in (first, second.experiment_id):
        location = client.get_experiment(experiment_id).artifact_location
        assert location == str(workspace.resolve() / "mlruns" / experiment_id)
    run_id = client.create_run(first).info.run_id
    client.log_text(run_id, "kept", "notes/a.txt")
    client.set_terminated(run_id)
    assert (workspace / "mlruns" / first / run_id / "artifacts/notes/a.txt").read_text() == "kept"
    assert not list(elsewhere.iterdir())
