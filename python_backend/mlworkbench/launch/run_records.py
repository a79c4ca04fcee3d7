"""The launcher's own MLflow writes: mirrored metrics, event files, and finishing a run.

The bootstrap records a run's end from inside the script's process; this module covers what
it cannot: a script killed by a signal (no exit handler ran), output printed after it
uploaded the log, a cancel the script swallowed, TensorBoard scalars. Every write is retried
while SQLite is busy, and finishing is idempotent: whichever side comes second only fills in
what is missing.
"""

from __future__ import annotations

import functools
import json
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlworkbench.launch.child.retry import call_with_retry
from mlworkbench.launch.log_tail import tail_lines
from mlworkbench.launch.results import MetricPoint

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

TAG = "mlworkbench."
METRICS_PER_BATCH = 1000  # MLflow's limit for one log_batch call
PARAMS_PER_BATCH = 100
TERMINAL = frozenset({"FINISHED", "FAILED", "KILLED"})


def open_client(tracking_uri: str) -> MlflowClient:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def describe_exit(returncode: int) -> tuple[int, str | None]:
    """Shell-style exit code and, for a death by signal, the signal's name."""
    if returncode >= 0:
        return returncode, None
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return 128 - returncode, name


def log_points(client: MlflowClient, run_id: str, points: Sequence[MetricPoint]) -> None:
    """Log metric points in batches of MLflow's maximum size: one round trip per 1,000."""
    from mlflow.entities import Metric

    metrics = [Metric(p.key, p.value, p.timestamp_ms, p.step) for p in points]
    for start in range(0, len(metrics), METRICS_PER_BATCH):
        batch = metrics[start : start + METRICS_PER_BATCH]
        call_with_retry(functools.partial(client.log_batch, run_id, metrics=batch))


def log_event_files(client: MlflowClient, run_id: str, files: Sequence[Path], logdir: Path) -> None:
    """Keep the event files with the run (under tensorboard/, same layout) so TensorBoard can
    open them from the artifacts even after the workspace copy is gone."""
    for path in files:
        relative = path.parent.relative_to(logdir).as_posix()
        target = "tensorboard" if relative == "." else f"tensorboard/{relative}"
        call_with_retry(functools.partial(client.log_artifact, run_id, str(path), target))
    call_with_retry(lambda: client.set_tag(run_id, TAG + "tensorboard_logdir", str(logdir)))


def _upload_log(client: MlflowClient, run_id: str, log_path: Path) -> dict[str, str]:
    size = log_path.stat().st_size
    call_with_retry(lambda: client.log_artifact(run_id, str(log_path), "mlworkbench"))
    return {TAG + "log_bytes": str(size)}


def _log_captured_params(
    client: MlflowClient, run_id: str, params_file: Path, have: set[str]
) -> None:
    from mlflow.entities import Param

    captured = read_json(params_file) or {}
    fresh = [Param(str(k), str(v)) for k, v in captured.items() if k not in have]
    for start in range(0, len(fresh), PARAMS_PER_BATCH):
        batch = fresh[start : start + PARAMS_PER_BATCH]
        call_with_retry(functools.partial(client.log_batch, run_id, params=batch))


def finish_run(
    client: MlflowClient,
    run_id: str,
    *,
    returncode: int,
    cancelled: bool,
    log_path: Path,
    params_file: Path,
    report: dict[str, Any] | None,
) -> None:
    """Make the stored run reflect how the process ended, adding only what is missing."""
    from mlflow.entities import RunTag

    run = call_with_retry(lambda: client.get_run(run_id))
    exit_code, signal_name = describe_exit(returncode)
    tags: dict[str, str] = {}
    if run.info.status not in TERMINAL:
        status = "KILLED" if cancelled else ("FINISHED" if exit_code == 0 else "FAILED")
        _log_captured_params(client, run_id, params_file, set(run.data.params))
        tags[TAG + "exit_code"] = str(exit_code)
        if status != "FINISHED":
            tags[TAG + "error_tail"] = tail_lines(log_path)
        if signal_name is not None and not cancelled:
            tags[TAG + "error"] = f"the script's process was killed by {signal_name}"
        tags.update(_upload_log(client, run_id, log_path))
    else:
        status = run.info.status
        uploaded = report.get("log_bytes") if report else run.data.tags.get(TAG + "log_bytes")
        if str(uploaded) != str(log_path.stat().st_size):  # printed after the upload
            tags.update(_upload_log(client, run_id, log_path))
        if cancelled and status != "KILLED":  # the script caught the interrupt and exited
            status = "KILLED"
            tags[TAG + "exit_code"] = str(exit_code)
    if tags:
        run_tags = [RunTag(k, v) for k, v in tags.items()]
        call_with_retry(lambda: client.log_batch(run_id, tags=run_tags))
    if status != run.info.status:
        call_with_retry(lambda: client.set_terminated(run_id, status))


class StoreMetricWatcher:
    """Metric points the script (or autologging) logged to the store itself, for live charts.

    A key's history is fetched again only when its latest value changed, so a poll costs one
    `get_run` while nothing moves; points are reported once each.
    """

    def __init__(self, run_id: str, skip: Callable[[], set[str]]) -> None:
        self.run_id = run_id
        self._skip = skip
        self._latest: dict[str, float] = {}
        self._seen: set[tuple[str, int, int]] = set()

    def poll(self, client: MlflowClient, *, complete: bool = False) -> list[MetricPoint]:
        run = call_with_retry(lambda: client.get_run(self.run_id))
        skip = self._skip()
        points: list[MetricPoint] = []
        for key, value in run.data.metrics.items():
            if key in skip or (not complete and self._latest.get(key) == value):
                continue
            self._latest[key] = value
            history = call_with_retry(
                functools.partial(client.get_metric_history, self.run_id, key)
            )
            for metric in sorted(history, key=lambda m: (m.step, m.timestamp)):
                mark = (key, metric.step, metric.timestamp)
                if mark not in self._seen:
                    self._seen.add(mark)
                    points.append(MetricPoint(key, metric.value, metric.step, metric.timestamp))
        return points
