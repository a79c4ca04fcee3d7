"""Run a training script on a Ray cluster through the Ray Jobs API, as a tracked MLflow run.

`submit_run` checks everything it can before touching the cluster (a tracking server, the
script, the size of the workspace to upload), creates the MLflow run on the tracking server,
then submits a job whose entrypoint is a fixed command (`ENTRYPOINT`): Ray runs entrypoints
through a shell, so the script, its arguments and the run's settings travel as JSON in the
job's private `py_modules` package, never in that string.

Why the run is created here, on the submitting side, and resumed by the job (MLFLOW_RUN_ID):
the editor needs the run id at once, while a job may wait minutes for resources or fail
before any Python of ours runs on the cluster (a bad runtime_env, a missing package); such a
run would otherwise never exist, or exist with no one to end it. The job still runs the very
bootstrap a local run uses (`launch/bootstrap.py` + `launch/child/`, shipped as files), which
resumes the run, turns on autologging and parameter capture and records the script's end.
What the job could not record (stopped, failed before the script ran) `RayRunHandle.wait`
records from here, with the job's message in `mlworkbench.error`.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlworkbench.compute.ray_errors import (
    ComputeTargetUnreachableError,
    RayNotInstalledError,
    TrackingServerRequiredError,
)

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient
    from ray.job_submission import JobSubmissionClient

JOB_PACKAGE = "_mlworkbench_ray_job"
ENTRYPOINT = f"python -m {JOB_PACKAGE}.ray_job_entry"  # fixed: no user text, ever
POLL_S = 0.5
LOST_CONTACT_S = 30.0  # a dashboard restart takes seconds; longer means the cluster is gone
TAG = "mlworkbench."
JOB_TO_RUN_STATUS = {"SUCCEEDED": "FINISHED", "FAILED": "FAILED", "STOPPED": "KILLED"}
RUN_TERMINAL = frozenset({"FINISHED", "FAILED", "KILLED"})
ERROR_TAIL_CHARS = 4000
LAUNCH = Path(__file__).resolve().parent.parent / "launch"

OutputCallback = Callable[[str], None]


def require_tracking_server(tracking_uri: str | None) -> str:
    """A job on a cluster can only reach a tracking server: an http(s) URI, else
    TrackingServerRequiredError (a file or SQLite store lives on this machine only)."""
    if not tracking_uri or not tracking_uri.startswith(("http://", "https://")):
        raise TrackingServerRequiredError(tracking_uri)
    return tracking_uri


def tracking_env(tracking_uri: str) -> dict[str, str]:
    """The environment a job needs to reach its tracking server: MLflow's token variable when
    this user's scoped token belongs to that server, nothing else. The rest of this machine's
    environment (PATH, HOME, other secrets) is not the cluster's business."""
    import os

    from mlworkbench.tracking.tracking_token import MLFLOW_TOKEN_ENV, child_token_env

    env = child_token_env(os.environ, tracking_uri)
    return {MLFLOW_TOKEN_ENV: env[MLFLOW_TOKEN_ENV]} if MLFLOW_TOKEN_ENV in env else {}


def job_spec(
    *,
    script: str,
    args: Sequence[str],
    run_id: str,
    tracking_uri: str,
    experiment: str | None,
    run_name: str | None,
    frameworks: Sequence[str],
    tags: Mapping[str, str],
    env: Mapping[str, str],
) -> dict[str, Any]:
    """What the job's entrypoint reads (`job.json`): everything user-supplied is data here."""
    return {
        "script": script,
        "args": [str(a) for a in args],
        "run_id": run_id,
        "tracking_uri": tracking_uri,
        "experiment": experiment,
        "run_name": run_name,
        "frameworks": list(frameworks),
        "tags": {str(k): str(v) for k, v in tags.items()},
        "env": {str(k): str(v) for k, v in env.items()},
    }


def job_package(spec: Mapping[str, Any]) -> Path:
    """A private folder holding the job's package: the bootstrap, `child/`, the entrypoint and
    `job.json`. Uploaded as a `py_modules` entry, so nothing is written into the workspace and
    the environment (which may hold a tracking token) stays out of the job's listing."""
    root = Path(tempfile.mkdtemp(prefix="mlwb-rayjob-"))
    package = root / JOB_PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text('"""ML Workbench\'s job files (generated)."""\n')
    shutil.copy2(LAUNCH / "bootstrap.py", package / "bootstrap.py")
    shutil.copytree(
        LAUNCH / "child", package / "child", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy2(Path(__file__).with_name("ray_job_entry.py"), package / "ray_job_entry.py")
    (package / "job.json").write_text(json.dumps(spec))
    return package


def jobs_client(address: str) -> JobSubmissionClient:
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError as error:
        raise RayNotInstalledError(str(error)) from error
    import logging

    from mlworkbench.compute.ray_cluster import auth_headers

    # "Uploading package gcs://…" at INFO for every job is Ray's chatter, not the run's output.
    for name in ("ray.dashboard.modules.dashboard_sdk", "ray._private.runtime_env.packaging"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        return JobSubmissionClient(address, headers=auth_headers(address))
    except (ConnectionError, RuntimeError) as error:
        raise ComputeTargetUnreachableError(address, str(error)) from error


def require_tracking_answers(uri: str, timeout_s: float) -> None:
    """MLflow's client retries a dead server for minutes; one short probe says it at once.
    Any HTTP answer (even 401/404 behind a proxy) means something listens: MLflow judges it."""
    import urllib.error
    import urllib.request

    from mlworkbench.errors import TrackingUnavailableError

    try:
        urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout_s).close()  # noqa: S310
    except urllib.error.HTTPError:
        return
    except (OSError, ValueError) as error:
        raise TrackingUnavailableError(uri, str(getattr(error, "reason", None) or error)) from error


def _create_run(
    client: MlflowClient,
    experiment: str | None,
    run_name: str | None,
    tags: Mapping[str, str],
) -> tuple[str, str]:
    from mlworkbench.launch.child.retry import call_with_retry
    from mlworkbench.launch.child.store_open import resolve_experiment

    experiment_id = resolve_experiment(client, experiment)
    run = call_with_retry(
        lambda: client.create_run(experiment_id, run_name=run_name, tags=dict(tags))
    )
    # Waiting for the cluster, not running yet: the bootstrap sets RUNNING when it resumes.
    call_with_retry(lambda: client.update_run(run.info.run_id, status="SCHEDULED"))
    return run.info.run_id, experiment_id


def submit_run(
    address: str,
    script: Path,
    args: Sequence[str] = (),
    *,
    workspace: Path,
    tracking_uri: str,
    experiment: str | None = None,
    run_name: str | None = None,
    env: Mapping[str, str] | None = None,
    size_limit_mb: int = 100,
    tags: Mapping[str, str] | None = None,
    probe_timeout_s: float = 5.0,
) -> RayRunHandle:
    """Submit `script` (relative paths are relative to the workspace) to the Ray cluster whose
    dashboard is `address`; returns once the job is submitted and its run exists.

    Raises InvalidComputeTargetError, TrackingServerRequiredError, ScriptNotFoundError,
    ScriptOutsideWorkspaceError, WorkingDirTooLargeError (all before contacting anything),
    ComputeTargetUnreachableError, TrackingUnavailableError, RayNotInstalledError.
    """
    from mlworkbench.analysis.script_analysis import analyze_file
    from mlworkbench.compute.ray_cluster import normalize_address, require_reachable
    from mlworkbench.compute.ray_workdir import plan_working_dir
    from mlworkbench.launch.preflight import check_script
    from mlworkbench.launch.provenance import provenance_tags

    address = normalize_address(address)
    uri = require_tracking_server(tracking_uri)
    script_path, workspace_path = check_script(script, workspace)
    plan = plan_working_dir(workspace_path, size_limit_mb=size_limit_mb)
    relative = script_path.relative_to(workspace_path).as_posix()
    frameworks = analyze_file(script_path).frameworks
    require_reachable(address, timeout_s=probe_timeout_s)
    require_tracking_answers(uri, probe_timeout_s)
    jobs = jobs_client(address)

    from mlworkbench.launch.run_records import open_client

    job_id = f"mlworkbench-{uuid.uuid4().hex[:16]}"
    run_tags = {
        **(tags or {}),
        **provenance_tags(
            script_path,
            args,
            workspace=workspace_path,
            python="python",  # the cluster's
            frameworks=frameworks,
            log_path=Path(f"ray-job:{job_id}"),
        ),
        TAG + "compute_target": "ray",
        TAG + "ray_address": address,
        TAG + "ray_job_id": job_id,
    }
    # The log is the job's (streamed, and uploaded as the run's mlworkbench/output.log): no
    # file of this machine to point at.
    run_tags.pop(TAG + "log_path", None)
    mlflow_client = open_client(uri)
    run_id, experiment_id = _create_run(mlflow_client, experiment, run_name, run_tags)
    spec = job_spec(
        script=relative,
        args=args,
        run_id=run_id,
        tracking_uri=uri,
        experiment=experiment,
        run_name=run_name,
        frameworks=frameworks,
        tags={TAG + "compute_target": "ray", TAG + "ray_job_id": job_id},
        env=env or {},
    )
    package = job_package(spec)
    try:
        jobs.submit_job(
            entrypoint=ENTRYPOINT,
            submission_id=job_id,
            runtime_env={
                "working_dir": str(workspace_path),
                "excludes": list(plan.excludes),
                "py_modules": [str(package)],
            },
            metadata={"mlworkbench.run_id": run_id},
        )
    except BaseException as error:
        end_run_as(mlflow_client, run_id, "FAILED", f"the job was not submitted: {error}", "")
        if isinstance(error, Exception) and not isinstance(error, RayNotInstalledError):
            raise ComputeTargetUnreachableError(address, str(error)) from error
        raise
    finally:
        shutil.rmtree(package.parent, ignore_errors=True)
    return RayRunHandle(
        address=address,
        job_id=job_id,
        run_id=run_id,
        experiment_id=experiment_id,
        tracking_uri=uri,
        jobs=jobs,
        mlflow_client=mlflow_client,
    )


def end_run_as(client: MlflowClient, run_id: str, status: str, error: str, log_tail: str) -> None:
    """End a run the job could not end itself, with the job's message, unless it ended."""
    from mlflow.entities import RunTag

    from mlworkbench.launch.child.retry import call_with_retry

    run = call_with_retry(lambda: client.get_run(run_id))
    if run.info.status in RUN_TERMINAL:
        return
    tags = [RunTag(TAG + "error", error[:5000])]
    if log_tail and status != "FINISHED":
        tags.append(RunTag(TAG + "error_tail", log_tail[-ERROR_TAIL_CHARS:]))
    call_with_retry(lambda: client.log_batch(run_id, tags=tags))
    call_with_retry(lambda: client.set_terminated(run_id, status))


@dataclass(frozen=True)
class RayRunResult:
    """How a run on a Ray target ended: the run as stored, and the job as Ray saw it."""

    run_id: str
    job_id: str
    status: str  # MLflow: FINISHED | FAILED | KILLED
    job_status: str  # Ray: SUCCEEDED | FAILED | STOPPED
    message: str | None  # the job's message, or the run's error, when it did not finish
    experiment_id: str = ""
    exit_code: int | None = None
    error_tail: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RayRunHandle:
    """A submitted job's run. `wait()` follows it; `cancel()` may come from any thread."""

    def __init__(
        self,
        *,
        address: str,
        job_id: str,
        run_id: str,
        experiment_id: str,
        tracking_uri: str,
        jobs: JobSubmissionClient,
        mlflow_client: MlflowClient,
    ) -> None:
        self.address = address
        self.job_id = job_id
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.tracking_uri = tracking_uri
        self._jobs = jobs
        self._mlflow = mlflow_client
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._printed = 0
        self._result: RayRunResult | None = None

    def cancel(self) -> None:
        """Stop the job through the Jobs API; the run ends KILLED. Returns at once."""
        self._cancelled.set()
        with contextlib.suppress(Exception):  # already ended, or the cluster went away
            self._jobs.stop_job(self.job_id)

    def _emit(self, on_output: OutputCallback | None) -> str:
        logs = self._jobs.get_job_logs(self.job_id)
        if len(logs) > self._printed and on_output is not None:
            on_output(logs[self._printed :])
        self._printed = max(self._printed, len(logs))
        return logs

    def wait(
        self,
        on_output: OutputCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> RayRunResult:
        """Block until the job ends, streaming its log to `on_output`; `cancel` set (from any
        thread) stops the job. Returns the run as stored, ended whatever the job did."""
        with self._lock:
            if self._result is not None:
                return self._result
            status = self._poll_until_done(on_output, cancel)
            logs = self._emit(on_output)
            self._result = self._finish(status, logs)
            return self._result

    def _poll_until_done(
        self, on_output: OutputCallback | None, cancel: threading.Event | None
    ) -> str:
        lost_since: float | None = None
        while True:
            if cancel is not None and cancel.is_set() and not self._cancelled.is_set():
                self.cancel()
            try:
                status = str(self._jobs.get_job_status(self.job_id).value)
                lost_since = None
            except Exception as error:  # the cluster restarts, or is gone
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > LOST_CONTACT_S:
                    reason = f"lost contact with the cluster for {LOST_CONTACT_S:.0f} s: {error}"
                    with contextlib.suppress(Exception):
                        end_run_as(self._mlflow, self.run_id, "FAILED", reason, "")
                    raise ComputeTargetUnreachableError(self.address, reason) from error
                time.sleep(POLL_S)
                continue
            if status in JOB_TO_RUN_STATUS:
                return status
            with contextlib.suppress(Exception):  # logs are not there until the job starts
                self._emit(on_output)
            time.sleep(POLL_S)

    def _finish(self, job_status: str, logs: str) -> RayRunResult:
        from mlworkbench.launch.child.retry import call_with_retry

        info = self._jobs.get_job_info(self.job_id)
        message = info.message or None
        wanted = JOB_TO_RUN_STATUS[job_status]
        if self._cancelled.is_set() and job_status == "STOPPED":
            wanted = "KILLED"
        reason = {
            "STOPPED": "the Ray job was stopped",
            "FAILED": f"the Ray job failed: {message or 'no message'}",
        }.get(job_status, "the Ray job ended before the run was recorded")
        end_run_as(self._mlflow, self.run_id, wanted, reason, logs)
        run = call_with_retry(lambda: self._mlflow.get_run(self.run_id))
        run_status = run.info.status
        error_tail = run.data.tags.get(TAG + "error_tail")
        exit_tag = run.data.tags.get(TAG + "exit_code")
        exit_code = int(exit_tag) if exit_tag and exit_tag.lstrip("-").isdigit() else None
        if exit_code is None:
            exit_code = {"FINISHED": 0, "KILLED": 130}.get(run_status, 1)
        shown = None
        if run_status != "FINISHED":
            shown = run.data.tags.get(TAG + "error") or message or error_tail
        return RayRunResult(
            run_id=self.run_id,
            job_id=self.job_id,
            status=run_status,
            job_status=job_status,
            message=shown,
            experiment_id=self.experiment_id,
            exit_code=exit_code,
            error_tail=error_tail if run_status != "FINISHED" else None,
            metrics=dict(run.data.metrics),
            params=dict(run.data.params),
        )
