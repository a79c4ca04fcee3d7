"""Start a training script inside one MLflow run, stream it, cancel it: the API of runs.

`start_run` checks its input (typed errors, before any run exists), starts
`python bootstrap.py SPEC SCRIPT ARGS` in its own session with output going straight to a log
file, and returns once the bootstrap has created the MLflow run. `RunHandle.wait` tails the
log, mirrors TensorBoard scalars, and finishes whatever the bootstrap could not record.

mlflow is never imported before the script starts, and on the common path (no TensorBoard,
no live chart) not at all in this process: the bootstrap reports the outcome in a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlworkbench.errors import (
    MissingPackageError,
    RunStartError,
    TrackingStoreCorruptError,
)
from mlworkbench.launch import run_records, warm_pool
from mlworkbench.launch.child.proc_info import host_name, session_members
from mlworkbench.launch.child.store_open import sqlite_path
from mlworkbench.launch.launch_plan import (
    LaunchFiles,
    LaunchPlan,
    debug_launch,
    prepare_launch,
)
from mlworkbench.launch.log_tail import LogTail, tail_lines
from mlworkbench.launch.process_group import GroupStopper, signal_group, spawn
from mlworkbench.launch.reconcile import reconcile_stale_runs
from mlworkbench.launch.results import MetricPoint, RunResult
from mlworkbench.launch.tensorboard_mirror import TensorBoardMirror

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

__all__ = [
    "LaunchPlan",
    "MetricPoint",
    "RunHandle",
    "RunResult",
    "debug_launch",
    "prepare_launch",
    "prepare_warm_pool",
    "reconcile_stale_runs",
    "start_run",
]

HANDSHAKE_TIMEOUT_S = 120.0  # a first run creates the SQLite schema: seconds, not minutes
OUTPUT_POLL_S = 0.05
METRICS_POLL_S = 2.0

RunProcess = subprocess.Popen[bytes] | warm_pool.WarmProcess
"""The bootstrap's process: started cold by `spawn`, or forked by the warm pool."""
OutputCallback = Callable[[str], None]
MetricsCallback = Callable[[list[MetricPoint]], None]


def start_run(
    script: Path,
    args: Sequence[str] = (),
    *,
    workspace: Path,
    python: str = sys.executable,
    experiment: str | None = None,
    run_name: str | None = None,
    tracking_uri: str | None = None,
    env: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> RunHandle:
    """Launch `script` (relative paths are relative to the workspace) with `args`.

    `tags` are set when the run is created (a sweep's `mlflow.parentRunId`), so the run is
    never seen without them. Returns once the MLflow run exists and the script's process runs.
    Raises
    ScriptNotFoundError, ScriptOutsideWorkspaceError, TrackingUnavailableError,
    TrackingStoreReadOnlyError, TrackingStoreCorruptError, MissingPackageError or
    RunStartError; a script that fails to parse or run still gets a (FAILED) run.
    """
    plan = prepare_launch(
        script,
        args,
        workspace=workspace,
        python=python,
        experiment=experiment,
        run_name=run_name,
        tracking_uri=tracking_uri,
        env=env,
        tags=tags,
    )
    files, uri = plan.files, plan.tracking_uri
    started_s = time.time()
    process: RunProcess | None = _start_warm(plan)
    if process is None:
        try:
            process = spawn(plan.command, cwd=plan.cwd, env=plan.env, log_path=files.log)
        except OSError as error:
            raise RunStartError(f"cannot start {python}: {error.strerror or error}") from error
    try:
        handshake = _await_handshake(process, files, python, uri)
    except BaseException:
        _abandon(process, files, uri)
        raise
    return RunHandle(
        run_id=str(handshake["run_id"]),
        experiment_id=str(handshake["experiment_id"]),
        process=process,
        files=files,
        tracking_uri=uri,
        workspace=plan.cwd,
        started_s=started_s,
    )


def prepare_warm_pool(
    workspace: Path,
    frameworks: Sequence[str],
    *,
    python: str = sys.executable,
    tracking_uri: str | None = None,
) -> str:
    """Ready the warm pool that `start_run(..., workspace=workspace)` would use, with
    `frameworks` preloaded, before any run: the editor calls it when a training script is
    opened, so even the first run is served warm. The pool key is computed from the very
    environment a run would get. Returns `warm_pool.prepare`'s word; never raises."""
    from mlworkbench.launch.preflight import child_environment
    from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

    try:
        uri = resolve_tracking_uri(workspace, tracking_uri)
        return warm_pool.prepare(python, child_environment(os.environ, None, uri), frameworks)
    except Exception:
        return "unavailable"


def _start_warm(plan: LaunchPlan) -> warm_pool.WarmProcess | None:
    """The run forked by the warm pool, or None to start it cold: the pool is an optimisation,
    so nothing it does (or fails to do) may stop a run from starting."""
    try:
        spec = json.loads(plan.files.spec.read_text())
        return warm_pool.start_warm(
            plan.command,
            cwd=plan.cwd,
            env=plan.env,
            log_path=plan.files.log,
            result_file=plan.files.result,
            frameworks=[str(f) for f in spec.get("frameworks", [])],
        )
    except Exception:
        return None


def _await_handshake(
    process: RunProcess, files: LaunchFiles, python: str, uri: str
) -> dict[str, Any]:
    deadline = time.monotonic() + HANDSHAKE_TIMEOUT_S
    while (data := run_records.read_json(files.handshake)) is None:
        if process.poll() is not None:
            data = run_records.read_json(files.handshake)  # written just before it exited
            if data is None:
                raise RunStartError(
                    f"{python} exited with status {process.returncode} before the run existed",
                    tail_lines(files.log),
                )
            break
        if time.monotonic() > deadline:
            raise RunStartError(
                f"the tracking store {uri} did not answer in {HANDSHAKE_TIMEOUT_S:.0f} s",
                tail_lines(files.log),
            )
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.01)
    error = data.get("error")
    if error is None:
        return data
    process.wait()
    kind, message = str(error.get("kind")), str(error.get("message"))
    if kind == "missing_mlflow":
        raise MissingPackageError("mlflow", python, "tracking")
    if kind == "store_schema":
        raise TrackingStoreCorruptError(sqlite_path(uri) or Path(uri), message)
    raise RunStartError(message, "" if kind == "experiment_deleted" else tail_lines(files.log))


def _abandon(process: RunProcess, files: LaunchFiles, uri: str) -> None:
    """Stop a launch that failed or was interrupted (Ctrl+C) before start_run returned: nobody
    would follow that run, so it must not go on training unseen, nor stay RUNNING."""
    if process.poll() is None:
        signal_group(process.pid, signal.SIGKILL)
        process.wait()
    handshake = run_records.read_json(files.handshake)
    if handshake is None or "run_id" not in handshake:
        return
    # Best effort: if the store refuses now, reconcile_stale_runs ends the run later.
    with contextlib.suppress(Exception):
        run_records.finish_run(
            run_records.open_client(uri),
            str(handshake["run_id"]),
            returncode=process.wait(),  # exited: returns at once
            cancelled=True,
            log_path=files.log,
            params_file=files.params,
            report=run_records.read_json(files.result),
        )


class RunHandle:
    """A started run. `wait()` follows it to the end; `cancel()` may come from any thread."""

    def __init__(
        self,
        *,
        run_id: str,
        experiment_id: str,
        process: RunProcess,
        files: LaunchFiles,
        tracking_uri: str,
        workspace: Path,
        started_s: float,
    ) -> None:
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.pid = process.pid
        self.log_path = files.log
        self.tracking_uri = tracking_uri
        self._process = process
        self._files = files
        self._stopper = GroupStopper(process.pid)
        self._wait_lock = threading.Lock()
        self._result: RunResult | None = None
        self._tail = LogTail(files.log)
        self._owner_pids = {process.pid}
        self._mirror = TensorBoardMirror(
            workspace, host=host_name(), owner_pids=lambda: set(self._owner_pids), since_s=started_s
        )
        self._mirrored_keys: set[str] = set()
        self._pending: list[MetricPoint] = []  # mirrored points the store has not taken yet
        self._client: MlflowClient | None = None
        self._watcher: run_records.StoreMetricWatcher | None = None
        self.metrics_error: str | None = None  # the last live-metrics failure, for diagnosis

    def cancel(self, grace_s: float = 5.0) -> None:
        """Interrupt the script's whole process group (SIGINT, then SIGTERM and SIGKILL after
        `grace_s` each); returns at once. The run ends KILLED. No-op once the script ended."""
        if self._process.poll() is None:
            self._stopper.cancel(grace_s)

    def wait(
        self,
        on_output: OutputCallback | None = None,
        on_metrics: MetricsCallback | None = None,
    ) -> RunResult:
        """Block until the script ends, streaming its output and metric points; return the
        run as stored. Safe to call again (e.g. after a KeyboardInterrupt in a callback)."""
        with self._wait_lock:
            if self._result is not None:
                return self._result
            next_metrics = 0.0
            while True:
                exited = self._process.poll() is not None
                self._emit_output(on_output)
                if exited:
                    break
                if time.monotonic() >= next_metrics:
                    self._poll_metrics(on_metrics, complete=False)
                    next_metrics = time.monotonic() + METRICS_POLL_S
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(timeout=OUTPUT_POLL_S)
            if self._stopper.requested.is_set():
                self._stopper.join()  # until nothing of the group is left
            self._emit_output(on_output, final=True)
            self._poll_metrics(on_metrics, complete=True)
            self._result = self._finish()
            self._files.remove_messages()
            return self._result

    def _emit_output(self, on_output: OutputCallback | None, final: bool = False) -> None:
        text = self._tail.read_all() if final else self._tail.read()
        if text and on_output is not None:
            on_output(text)

    def _store(self) -> MlflowClient:
        if self._client is None:
            self._client = run_records.open_client(self.tracking_uri)
        return self._client

    def _poll_metrics(self, on_metrics: MetricsCallback | None, *, complete: bool) -> None:
        """Mirror new TensorBoard scalars into the run and report new points; a failing store
        is noted and retried at the next poll, never raised into the output stream."""
        self._owner_pids.update(session_members(self.pid))
        try:
            fresh = self._mirror.poll()
        except Exception as error:  # an unreadable event file must not stop the run's output
            fresh = []
            self.metrics_error = f"{type(error).__name__}: {error}"
        self._pending.extend(fresh)
        self._mirrored_keys.update(p.key for p in fresh)
        points = list(fresh)
        try:
            if self._pending:
                run_records.log_points(self._store(), self.run_id, self._pending)
                self._pending = []
            if on_metrics is not None:
                if self._watcher is None:
                    self._watcher = run_records.StoreMetricWatcher(
                        self.run_id, lambda: self._mirrored_keys
                    )
                points.extend(self._watcher.poll(self._store(), complete=complete))
        except Exception as error:  # the store is busy or gone; the run itself goes on
            self.metrics_error = f"{type(error).__name__}: {error}"
        if points and on_metrics is not None:
            on_metrics(points)

    def _finish(self) -> RunResult:
        returncode = self._process.wait()  # exited: returns at once
        exit_code, _ = run_records.describe_exit(returncode)
        cancelled = self._stopper.requested.is_set()
        report = run_records.read_json(self._files.result)
        log_bytes = self.log_path.stat().st_size
        needs_store = (
            report is None
            or self._client is not None
            or bool(self._mirror.files)
            or bool(self._pending)
            or (cancelled and report.get("status") != "KILLED")
            or str(report.get("log_bytes")) != str(log_bytes)
        )
        if report is not None and not needs_store:
            return RunResult(
                run_id=self.run_id,
                experiment_id=self.experiment_id,
                status=str(report["status"]),
                exit_code=exit_code,
                metrics={str(k): float(v) for k, v in report["metrics"].items()},
                params={str(k): str(v) for k, v in report["params"].items()},
                error_tail=report.get("error_tail"),
            )
        client = self._store()
        if self._pending:  # mirrored points a busy store refused during the run: last chance
            run_records.log_points(client, self.run_id, self._pending)
            self._pending = []
        logdir = self._mirror.logdir()
        if logdir is not None:
            run_records.log_event_files(client, self.run_id, self._mirror.files, logdir)
        run_records.finish_run(
            client,
            self.run_id,
            returncode=returncode,
            cancelled=cancelled,
            log_path=self.log_path,
            params_file=self._files.params,
            report=report,
        )
        run = client.get_run(self.run_id)
        status = run.info.status
        tail = None if status == "FINISHED" else run.data.tags.get("mlworkbench.error_tail")
        return RunResult(
            run_id=self.run_id,
            experiment_id=self.experiment_id,
            status=status,
            exit_code=exit_code,
            metrics=dict(run.data.metrics),
            params=dict(run.data.params),
            error_tail=tail,
        )
