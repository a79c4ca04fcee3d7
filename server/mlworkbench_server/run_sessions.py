"""Training runs started from the editor: start, stream, cancel, and list them.

The run itself is the library's (`mlworkbench.launch.launcher`); this module only moves its
output and metrics to the client as batched notifications and keeps handles for cancel. All
MLflow work happens in worker threads: the server's loop never waits on a training script.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.uris import to_fs_path

from mlworkbench.explorer.run_listing import primary_metric
from mlworkbench_server.errors import to_lsp_error
from mlworkbench_server.protocol import ERROR_CODES, NOTIFICATIONS, REQUESTS
from mlworkbench_server.request_path import Trust, request, untrusted_error, workspace_of

if TYPE_CHECKING:
    from mlworkbench.launch.launcher import MetricPoint, RunHandle
    from mlworkbench_server.protocol import (
        EmptyResult,
        ListRunsParams,
        PrepareDebugRunParams,
        RunIdParams,
        StartRunParams,
        StartRunResult,
    )
    from mlworkbench_server.ray_runs import RayRunSession
    from mlworkbench_server.server import WorkbenchServer

FLUSH_INTERVAL_S = 0.1
PREPARE_EVERY_S = 60.0
"""How often an open training script may ask the warm pool to get ready (lenses are asked for
on every edit); a pool idles out after minutes, so this also keeps it while the script is open."""
MAX_BATCH_CHARS = 64 * 1024


class OutputBatcher:
    """Groups a run's output into at most ~10 notifications a second.

    A script printing 100,000 lines would otherwise send 100,000 JSON-RPC messages and keep the
    extension host busy rendering them one by one.
    """

    def __init__(self, server: WorkbenchServer, run_id: str) -> None:
        self._server = server
        self._run_id = run_id
        self._parts: list[str] = []
        self._size = 0
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()

    def add(self, text: str) -> None:
        with self._lock:
            self._parts.append(text)
            self._size += len(text)
            due = time.monotonic() - self._last_flush >= FLUSH_INTERVAL_S
            if due or self._size >= MAX_BATCH_CHARS:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        self._last_flush = time.monotonic()
        if not self._parts:
            return
        text = "".join(self._parts)
        self._parts.clear()
        self._size = 0
        self._server.protocol.notify(
            NOTIFICATIONS["RUN_OUTPUT"], {"runId": self._run_id, "text": text}
        )


def launch_target(
    server: WorkbenchServer, params: StartRunParams | PrepareDebugRunParams
) -> tuple[Path, Path]:
    """The script and workspace of a launch request, once the workspace is known trusted."""
    if not server.trusted:  # the request path checked already; `start` is public, so again
        raise untrusted_error(Trust.EXECUTE, "run scripts")
    uri = params["uri"]
    script = Path(to_fs_path(uri) or uri)
    return script, workspace_of(params)


class RunSessions:
    """The runs this server started and still follows, by run id."""

    def __init__(self, server: WorkbenchServer) -> None:
        self._server = server
        self._handles: dict[str, RunHandle | RayRunSession] = {}
        self._lock = threading.Lock()
        self._prepared: dict[tuple[str, ...], float] = {}  # frameworks -> when last asked

    def prepare_warm(self, script: Path, frameworks: Sequence[str]) -> None:
        """A training script is open: have the warm pool preload its frameworks now, so its
        first run is served warm (`launcher.prepare_warm_pool`). Trusted workspaces only; at
        most once a minute per set of frameworks; off the event loop, and never an error."""
        wanted = tuple(sorted(set(frameworks)))
        if not self._server.trusted or not wanted:
            return
        now = time.monotonic()
        with self._lock:
            if now - self._prepared.get(wanted, -PREPARE_EVERY_S) < PREPARE_EVERY_S:
                return
            self._prepared[wanted] = now

        def prepare() -> None:
            from mlworkbench.launch.launcher import prepare_warm_pool

            prepare_warm_pool(
                script.parent, wanted, python=sys.executable, tracking_uri=self._server.tracking_uri
            )

        threading.Thread(target=prepare, name="warm-pool-prepare", daemon=True).start()

    def start(self, params: StartRunParams) -> StartRunResult:
        from mlworkbench.errors import MlWorkbenchError

        script, workspace = launch_target(self._server, params)
        try:
            handle = self._launch(params, script, workspace)
        except MlWorkbenchError as error:
            raise to_lsp_error(error) from error
        with self._lock:
            self._handles[handle.run_id] = handle
        self._server.runs_changed(handle.run_id)
        status: dict[str, object] = {
            "runId": handle.run_id,
            "status": "RUNNING",
            "script": str(script),
        }
        self._server.protocol.notify(NOTIFICATIONS["RUN_STATUS"], status)
        threading.Thread(
            target=self._follow, args=(handle,), name=f"run-{handle.run_id}", daemon=True
        ).start()
        result: StartRunResult = {
            "runId": handle.run_id,
            "experimentId": handle.experiment_id,
            "pid": handle.pid,
            "logPath": str(handle.log_path) if handle.pid else "",
        }
        job_id = getattr(handle, "job_id", None)
        if job_id:
            result["jobId"] = job_id
        return result

    def _launch(
        self, params: StartRunParams, script: Path, workspace: Path
    ) -> RunHandle | RayRunSession:
        """On this machine, or on the Ray cluster the request names."""
        experiment = params.get("experiment") or None
        run_name = params.get("runName") or None
        address = params.get("targetAddress")
        if address:
            from mlworkbench_server import ray_runs

            return ray_runs.submit(
                script,
                params["args"],
                workspace=workspace,
                address=address,
                tracking_setting=self._server.tracking_uri,
                experiment=experiment,
                run_name=run_name,
            )
        from mlworkbench.launch.launcher import start_run

        return start_run(
            script,
            params["args"],
            workspace=workspace,
            python=sys.executable,
            experiment=experiment,
            run_name=run_name,
            tracking_uri=self._server.tracking_uri,
        )

    def _follow(self, handle: RunHandle | RayRunSession) -> None:
        batcher = OutputBatcher(self._server, handle.run_id)

        def on_metrics(points: list[MetricPoint]) -> None:
            self._server.protocol.notify(
                NOTIFICATIONS["RUN_METRICS"],
                {
                    "runId": handle.run_id,
                    "points": [
                        {
                            "key": p.key,
                            "value": p.value,
                            "step": p.step,
                            "timestamp": p.timestamp_ms,
                        }
                        for p in points
                    ],
                },
            )

        try:
            result = handle.wait(on_output=batcher.add, on_metrics=on_metrics)
            batcher.flush()
            payload: dict[str, object] = {
                "runId": handle.run_id,
                "status": result.status,
                "result": result.to_dict(),
            }
            key = primary_metric(result.metrics)
            if key is not None:
                payload["primaryMetric"] = key
        except Exception as error:  # the run's own record is the library's job; tell the UI
            batcher.flush()
            payload = {"runId": handle.run_id, "status": "FAILED", "error": str(error)}
        finally:
            with self._lock:
                self._handles.pop(handle.run_id, None)
        self._server.runs_changed(handle.run_id)
        self._server.protocol.notify(NOTIFICATIONS["RUN_STATUS"], payload)

    def cancel(self, run_id: str) -> None:
        with self._lock:
            handle = self._handles.get(run_id)
        if handle is None:
            raise JsonRpcException(
                code=ERROR_CODES["RUN_NOT_FOUND"],
                message=f"Run {run_id} is not running in this window (it may have ended).",
            )
        threading.Thread(target=handle.cancel, name=f"cancel-{run_id}", daemon=True).start()

    def running(self) -> list[str]:
        with self._lock:
            return list(self._handles)


def reconcile_stale(server: WorkbenchServer, folders: list[Path]) -> None:
    """Mark runs FAILED whose process died while no server watched (editor crash, reboot).

    A start-up task (`WorkbenchServer.after_start`): it runs in the background after
    `initialized`, and only where a store exists.
    """
    from mlworkbench.errors import MlWorkbenchError
    from mlworkbench.launch.reconcile import reconcile_stale_runs
    from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

    uris = {resolve_tracking_uri(folder, server.tracking_uri) for folder in folders}
    for uri in sorted(uris):
        try:
            ended = reconcile_stale_runs(uri)
        except MlWorkbenchError as error:
            server.window_log_message(
                types.LogMessageParams(type=types.MessageType.Warning, message=str(error))
            )
            continue
        for run_id in ended:
            server.runs_changed(run_id)
            server.protocol.notify(
                NOTIFICATIONS["RUN_STATUS"],
                {"runId": run_id, "status": "FAILED", "error": "its process ended unrecorded"},
            )


def register(server: WorkbenchServer) -> None:
    server.after_start(reconcile_stale, Trust.WRITE)

    @request(server, REQUESTS["START_RUN"], Trust.EXECUTE, refused="run scripts")
    def start_run(ls: WorkbenchServer, params: StartRunParams) -> StartRunResult:
        return ls.runs.start(params)

    @request(server, REQUESTS["PREPARE_DEBUG_RUN"], Trust.EXECUTE, refused="run scripts")
    def prepare_debug_run(ls: WorkbenchServer, params: PrepareDebugRunParams) -> dict[str, object]:
        from mlworkbench.launch.launcher import debug_launch

        script, workspace = launch_target(ls, params)
        return debug_launch(script, params["args"], workspace=workspace, python=sys.executable)

    # From memory, on the event loop: cancelling must not queue behind slow reads.
    @request(server, REQUESTS["CANCEL_RUN"], Trust.EXECUTE, thread=False)
    def cancel_run(ls: WorkbenchServer, params: RunIdParams) -> EmptyResult:
        ls.runs.cancel(params["runId"])
        return {}

    @request(server, REQUESTS["LIST_RUNS"], Trust.READ_LOCAL)
    def list_runs(ls: WorkbenchServer, params: ListRunsParams) -> dict[str, object]:
        from mlworkbench.explorer.run_listing import list_runs

        runs = list_runs(workspace_of(params), tracking_uri=ls.tracking_uri, max_results=200)
        if ls.script_runs.update(runs):
            ls.refresh_code_lenses()
        return {"runs": [run.to_dict() for run in runs], "running": ls.runs.running()}
