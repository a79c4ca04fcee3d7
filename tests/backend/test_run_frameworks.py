"""Real training in each framework, autologged or mirrored without touching the script."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts.run_support import (
    artifact_paths,
    artifact_text,
    client_for,
    copy_script,
    make_workspace,
)

from mlworkbench.launch.launcher import MetricPoint, start_run

# Real Keras/TensorFlow, PyTorch and scikit-learn training: about a minute together.
pytestmark = pytest.mark.slow


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_workspace(tmp_path, monkeypatch)


def test_scikit_learn_is_autologged_with_params_metrics_and_model(workspace: Path) -> None:
    script = copy_script(workspace, "train_iris_forest.py")
    handle = start_run(script, ["--n-estimators", "10"], workspace=workspace)
    result = handle.wait()

    assert result.status == "FINISHED", result.error_tail
    client = client_for(workspace)
    run = client.get_run(handle.run_id)
    # Autologged estimator params (n_estimators agrees with the argument, so it is one param).
    assert run.data.params["n_estimators"] == "10"
    assert run.data.params["max_depth"] == "3"
    assert run.data.params["criterion"] == "gini"
    assert 0.9 <= run.data.metrics["training_accuracy_score"] <= 1.0
    assert "training_f1_score" in run.data.metrics
    assert result.metrics == run.data.metrics
    # MLflow 3 logs models as LoggedModels linked to the run.
    models = client.search_logged_models(
        experiment_ids=[handle.experiment_id],
        filter_string=f"source_run_id = '{handle.run_id}'",
    )
    assert len(models) == 1
    model_files = {Path(p).name for p in _model_files(models[0].artifact_location)}
    assert "MLmodel" in model_files
    assert "mlworkbench/output.log" in artifact_paths(workspace, handle.run_id)
    assert "train accuracy" in artifact_text(workspace, handle.run_id, "mlworkbench/output.log")


def _model_files(location: str) -> list[str]:
    root = Path(location.removeprefix("file://"))
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]


def test_pytorch_tensorboard_scalars_become_metrics_while_it_runs(
    workspace: Path, tmp_path: Path
) -> None:
    script = copy_script(workspace, "train_torch_tensorboard.py")
    go = tmp_path / "go"
    args = ["--steps", "3", "--hold-after-first-step", str(go)]
    handle = start_run(script, args, workspace=workspace)
    client = client_for(workspace)
    live: list[MetricPoint] = []
    seen_while_running: list[str] = []

    def on_metrics(points: list[MetricPoint]) -> None:
        live.extend(points)
        if not go.exists() and any(p.key == "loss/train" and p.step == 0 for p in points):
            # The script is parked after step 0: the mirror saw it live, and so does the store.
            seen_while_running.append(client.get_run(handle.run_id).info.status)
            assert [m.step for m in client.get_metric_history(handle.run_id, "loss/train")] == [0]
            go.touch()

    result = handle.wait(on_metrics=on_metrics)
    assert seen_while_running == ["RUNNING"]

    assert result.status == "FINISHED", result.error_tail
    history = client.get_metric_history(handle.run_id, "loss/train")
    assert [m.step for m in sorted(history, key=lambda m: m.step)] == [0, 1, 2]
    log = artifact_text(workspace, handle.run_id, "mlworkbench/output.log")
    for metric in history:  # the same values the script printed
        assert f"step {metric.step} loss {metric.value:.4f}" in log
    assert sorted(p.step for p in live if p.key == "loss/train") == [0, 1, 2]
    run = client.get_run(handle.run_id)
    assert run.data.params == {"steps": "3", "lr": "0.1", "hold_after_first_step": str(go)}
    assert run.data.tags["mlworkbench.tensorboard_logdir"] == str(workspace / "runs" / "mlp")
    events = [p for p in artifact_paths(workspace, handle.run_id) if p.startswith("tensorboard/")]
    assert len(events) == 1 and Path(events[0]).name.startswith("events.out.tfevents.")
    assert list((workspace / "runs" / "mlp").iterdir())  # the event files stay for TensorBoard
    assert result.metrics["loss/train"] == run.data.metrics["loss/train"]


def test_keras_on_tensorflow_is_autologged_per_epoch(workspace: Path) -> None:
    script = copy_script(workspace, "train_keras_digits.py")
    handle = start_run(script, ["--epochs", "2"], workspace=workspace)
    result = handle.wait()

    assert result.status == "FINISHED", result.error_tail
    client = client_for(workspace)
    run = client.get_run(handle.run_id)
    loss = sorted(client.get_metric_history(handle.run_id, "loss"), key=lambda m: m.step)
    assert [m.step for m in loss] == [0, 1]
    assert loss[1].value < loss[0].value
    assert "accuracy" in run.data.metrics
    assert run.data.params["epochs"] == "2"  # autologged fit() argument, equal to the CLI's
    assert run.data.params["batch_size"] == "64"
    models = client.search_logged_models(
        experiment_ids=[handle.experiment_id],
        filter_string=f"source_run_id = '{handle.run_id}'",
    )
    assert len(models) == 1
