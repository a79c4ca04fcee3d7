"""A run the editor sends to a Ray target, followed like a local one.

`RunSessions` keeps one kind of handle: this adapter gives a Ray job's run the local handle's
shape (run id, `wait` streaming output, `cancel`), so the terminal, the status bar, the Runs view
and cancel work the same for both. The job tracks to a tracking server, never the workspace's
file: the `mlWorkbench.trackingUri` setting when it is a server, else the workspace's own server,
started here on first use (`mlworkbench server start` does the same from a shell).
"""

from __future__ import annotations

import os
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


def tracking_for_ray(workspace: Path, setting: str | None) -> tuple[str, dict[str, str]]:
    """The tracking URI a job on a cluster can reach, and the environment it needs for it.

    A server named by the setting is the user's choice (its token, set with ML Workbench: Set
    Tracking Token, goes with it); otherwise the workspace's own server, started if needed. Its
    secret becomes this process's scoped token (sent to that origin only, `tracking_token`), so
    the run created here and the Runs view reach it; the job gets MLflow's token variable alone.
    """
    from mlworkbench.compute.ray_jobs import tracking_env
    from mlworkbench.tracking import tracking_server

    if setting and tracking_server.is_server_uri(setting):
        return setting, tracking_env(setting)
    info = tracking_server.start_server(workspace)
    token = tracking_server.server_token(workspace)
    if token is None:  # it stopped between the two calls
        raise tracking_server.TrackingServerNotRunningError(workspace)
    admit(info.uri, token)
    return info.uri, {"MLFLOW_TRACKING_TOKEN": token}


def admit(uri: str, token: str) -> None:
    """Let this process's MLflow clients reach the workspace's server: its token, scoped to its
    origin. Only used when no tracking-server setting holds the scoped token (see above)."""
    from mlworkbench.tracking.tracking_token import (
        AUTH_NAME,
        MLFLOW_AUTH_ENV,
        TOKEN_ENV,
        TOKEN_URI_ENV,
    )

    os.environ[TOKEN_ENV], os.environ[TOKEN_URI_ENV] = token, uri
    os.environ[MLFLOW_AUTH_ENV] = AUTH_NAME


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

    # An unreachable cluster is named in seconds, before a tracking server is started for it.
    require_reachable(address)
    uri, env = tracking_for_ray(workspace, tracking_setting)
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
