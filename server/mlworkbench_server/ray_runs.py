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
        result = self._handle.wait(on_output=on_output, cancel=self._cancel)
        return RayRunOutcome(
            run_id=result.run_id,
            status=result.status,
            job_id=result.job_id,
            job_status=result.job_status,
            message=result.message,
        )

    def cancel(self, grace_s: float = 5.0) -> None:
        self._cancel.set()
        self._handle.cancel()


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
