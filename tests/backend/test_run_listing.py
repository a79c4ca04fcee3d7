"""Listing runs for the Runs view: newest first, summaries, and a store left untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mlworkbench.errors import TrackingStoreCorruptError
from mlworkbench.explorer.run_listing import list_runs, primary_metric


def test_primary_metric_prefers_what_people_mean_by_score() -> None:
    assert primary_metric({"zeta": 1.0, "val_loss": 0.3, "training_accuracy_score": 0.9}) == (
        "training_accuracy_score"
    )
    assert primary_metric({"rmse": 2.0, "loss": 1.0}) == "loss"
    assert primary_metric({"b": 1.0, "a": 2.0}) == "a"
    assert primary_metric({}) is None


def test_a_workspace_without_a_store_lists_nothing_and_creates_nothing(tmp_path: Path) -> None:
    assert list_runs(tmp_path) == []
    assert not (tmp_path / "mlflow.db").exists()


def test_runs_are_listed_newest_first_with_their_workbench_tags(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("iris", artifact_location=(tmp_path / "mlruns").as_uri())
    older = client.create_run(experiment, run_name="older", start_time=1_000)
    client.set_terminated(older.info.run_id, "FAILED")
    client.set_tag(older.info.run_id, "mlworkbench.exit_code", "3")
    client.set_tag(older.info.run_id, "mlworkbench.error_tail", "ValueError: bad column")
    newer = client.create_run(
        experiment,
        run_name="newer",
        start_time=2_000,
        tags={"mlworkbench.script": str(tmp_path / "train.py")},
    )
    client.log_metric(newer.info.run_id, "accuracy", 0.75)
    client.log_param(newer.info.run_id, "c", "0.5")

    runs = list_runs(tmp_path)

    assert [r.run_name for r in runs] == ["newer", "older"]
    assert runs[0].experiment_name == "iris"
    assert runs[0].status == "RUNNING"
    assert runs[0].script == str(tmp_path / "train.py")
    assert runs[0].metrics == {"accuracy": 0.75} and runs[0].primary_metric == "accuracy"
    assert runs[0].params == {"c": "0.5"}
    assert (runs[1].status, runs[1].exit_code, runs[1].error_tail) == (
        "FAILED",
        3,
        "ValueError: bad column",
    )
    assert runs[0].to_dict()["run_id"] == newer.info.run_id


def test_a_corrupt_store_is_reported_and_left_byte_for_byte(tmp_path: Path) -> None:
    store = tmp_path / "mlflow.db"
    store.write_bytes(b"this is not a database\n" * 100)
    before = hashlib.sha256(store.read_bytes()).hexdigest()
    with pytest.raises(TrackingStoreCorruptError) as raised:
        list_runs(tmp_path)
    assert str(store) in str(raised.value)
    assert hashlib.sha256(store.read_bytes()).hexdigest() == before


def test_nan_and_infinite_metrics_become_json_the_editor_can_parse(tmp_path: Path) -> None:
    import json
    import sys

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("e", artifact_location=(tmp_path / "mlruns").as_uri())
    run_id = client.create_run(experiment).info.run_id
    client.log_metric(run_id, "loss", float("nan"))
    client.log_metric(run_id, "gain", float("inf"))
    client.log_metric(run_id, "accuracy", 0.5)
    [run] = list_runs(tmp_path)
    assert run.metrics == {"gain": sys.float_info.max, "accuracy": 0.5}
    json.dumps(run.to_dict(), allow_nan=False)  # raises on NaN or Infinity
