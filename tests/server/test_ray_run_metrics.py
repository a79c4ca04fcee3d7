"""The live chart of a run on a Ray target: its metrics read back from the tracking store.

A job's points go from the cluster to the tracking server, not through the language server, so
`ray_runs.follow_metrics` polls the run there. Here the store is a real SQLite file written by
a real MLflow client while the poller runs (a Ray job on a live cluster is the e2e test's).
"""

from __future__ import annotations

import threading
from pathlib import Path

from mlworkbench.launch.results import MetricPoint
from mlworkbench_server.ray_runs import follow_metrics


def test_the_poller_sends_each_new_latest_value_and_a_last_read_after_the_end(
    tmp_path: Path,
) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("live")).info.run_id
    batches: list[list[MetricPoint]] = []
    got_first = threading.Event()

    def on_metrics(points: list[MetricPoint]) -> None:
        batches.append(points)
        got_first.set()

    done = threading.Event()
    poller = threading.Thread(
        target=follow_metrics, args=(uri, run_id, on_metrics, done, 0.05), daemon=True
    )
    poller.start()
    client.log_metric(run_id, "loss", 0.9, step=0, timestamp=1000)
    assert got_first.wait(30)
    for step in range(1, 4):
        client.log_metric(run_id, "loss", 0.9 - step / 10, step=step, timestamp=1000 + step)
    client.log_metric(run_id, "accuracy", 0.75, step=3, timestamp=1004)
    done.set()  # the job ended: one more read, then the poller returns
    poller.join(30)
    assert not poller.is_alive()

    points = [p for batch in batches for p in batch]
    assert points[0] == MetricPoint("loss", 0.9, 0, 1000)
    last = {p.key: p for p in points}
    assert last["loss"] == MetricPoint("loss", 0.9 - 3 / 10, 3, 1003)
    assert last["accuracy"] == MetricPoint("accuracy", 0.75, 3, 1004)
    # Never the same point twice, however many polls saw it.
    assert len({(p.key, p.step, p.timestamp_ms) for p in points}) == len(points)


def test_a_failed_read_skips_the_poll_and_the_poller_still_returns(tmp_path: Path) -> None:
    done = threading.Event()
    done.set()
    batches: list[list[MetricPoint]] = []
    follow_metrics(f"sqlite:///{tmp_path / 'mlflow.db'}", "0" * 32, batches.append, done, 0.01)
    assert batches == []
