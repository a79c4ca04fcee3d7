"""A run the editor sends to a Ray target, followed like a local one.

`RunSessions` keeps one kind of handle: this adapter gives a Ray job's run the local handle's
shape (run id, `wait` streaming output, `cancel`), so the terminal, the status bar, the Runs view
and cancel work the same for both. The job tracks to a tracking server, never the workspace's
file: the `mlWorkbench.trackingUri` setting when it is a server, else the workspace's own server,
started here on first use (`mlworkbench server start` does the same from a shell).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlworkbench.compute.ray_jobs import RayRunHandle
    from mlworkbench.launch.results import MetricPoint

OutputCallback = Callable[[str], None]
METRICS_POLL_S = 2.0  # how often a job's metrics are read back for the live chart


@dataclass(frozen=True)
class RayRunOutcome:
    """What `RunSessions` reads from a finished run: the local RunResult's fields it uses."""

    run_id: str
    status: str  # FINISHED | FAILED | KILLED
    job_id: str
    job_status: str
    message: str | None
    metrics: dict[str, float] = field(default_factory=dict)  # the Runs view shows them

    def to_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "exit_code": None,
            "error_tail": self.message if self.status == "FAILED" else None,
            "metrics": self.metrics,
            "job_id": self.job_id,
            "job_status": self.job_status,
        }


class RayRunSession:
    """A submitted Ray job's run with the local `RunHandle`'s surface."""

    def __init__(self, handle: RayRunHandle, tracking_uri: str) -> None:
        self._handle = handle
        self.tracking_uri = tracking_uri
        self._cancel = threading.Event()
        self.run_id = handle.run_id
        self.job_id = handle.job_id
        self.experiment_id = handle.experiment_id
        self.pid = 0
        self.log_path = Path()

    def wait(
        self,
        on_output: OutputCallback | None = None,
        on_metrics: Callable[[list[MetricPoint]], None] | None = None,
    ) -> RayRunOutcome:
        done = threading.Event()
        poller = None
        if on_metrics is not None:
            poller = threading.Thread(
                target=follow_metrics,
                args=(self.tracking_uri, self.run_id, on_metrics, done),
                name=f"ray-metrics-{self.run_id}",
                daemon=True,
            )
            poller.start()
        try:
            result = self._handle.wait(on_output=on_output, cancel=self._cancel)
        finally:
            done.set()
            if poller is not None:
                poller.join(timeout=METRICS_POLL_S * 2)
        return RayRunOutcome(
            run_id=result.run_id,
            status=result.status,
            job_id=result.job_id,
            job_status=result.job_status,
            message=result.message,
            metrics=result.metrics,
        )

    def cancel(self, grace_s: float = 5.0) -> None:
        self._cancel.set()
        self._handle.cancel()


def follow_metrics(
    tracking_uri: str,
    run_id: str,
    on_metrics: Callable[[list[MetricPoint]], None],
    done: threading.Event,
    interval_s: float = METRICS_POLL_S,
) -> None:
    """Send the live chart each metric's newest value while the job runs, and once more after.

    A local run streams every point from its own process; a job's points go straight from the
    cluster to the tracking server, so they are read back from there: one `get_run` per
    interval (whatever the number of metrics), each metric's latest (step, value) when it
    changed. The chart samples the curve at that rate; the Runs view and Compare read every
    point from the store. Errors (the server restarting) skip a poll, never end the run.
    """
    from mlflow.tracking import MlflowClient

    from mlworkbench.launch.results import MetricPoint

    client = MlflowClient(tracking_uri)
    seen: dict[str, tuple[int, int, float]] = {}
    while True:
        finished = done.wait(interval_s)
        try:
            latest = client.get_run(run_id).data._metric_objs  # Metric objects: step, timestamp
        except Exception:  # a missed poll: the next one (or the store) has it
            latest = []
        points = []
        for metric in latest:
            mark = (int(metric.step), int(metric.timestamp), float(metric.value))
            if seen.get(metric.key) != mark:
                seen[metric.key] = mark
                points.append(MetricPoint(metric.key, mark[2], mark[0], mark[1]))
        if points:
            on_metrics(sorted(points, key=lambda p: (p.timestamp_ms, p.key)))
        if finished:
            return


def submit(
    script: Path,
    args: list[str],
    *,
    workspace: Path,
    address: str,
    tracking_setting: str | None,
    experiment: str | None,
    run_name: str | None,
) -> RayRunSession:
    from mlworkbench.compute.ray_cluster import require_reachable
    from mlworkbench.compute.ray_jobs import submit_run
    from mlworkbench.compute.ray_tracking import tracking_for_ray

    # An unreachable cluster is named in seconds, before a tracking server is started for it.
    require_reachable(address)
    uri, env = tracking_for_ray(workspace, tracking_setting, start=True)
    handle = submit_run(
        address,
        script,
        args,
        workspace=workspace,
        tracking_uri=uri,
        experiment=experiment,
        run_name=run_name,
        env=env,
    )
    return RayRunSession(handle, uri)
