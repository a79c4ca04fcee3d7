"""Requests that start the MLflow UI or TensorBoard on 127.0.0.1 and stop them with the server.

The processes belong to `mlworkbench.monitor.monitor_servers`' process-wide manager; this
module registers them behind the trust check (starting a server runs code from the selected
interpreter) and stops them on LSP shutdown and exit, so a closed editor leaves no server
behind (atexit covers a crash of the client that skips both).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from mlworkbench_server.protocol import REQUESTS
from mlworkbench_server.request_path import Trust, request, workspace_of

if TYPE_CHECKING:
    from mlworkbench_server.monitor_protocol import (
        OpenMonitorParams,
        OpenMonitorResult,
        StopMonitorsResult,
    )
    from mlworkbench_server.protocol import NoParams
    from mlworkbench_server.server import WorkbenchServer

KINDS = ("mlflow", "tensorboard")


def _bad_params(message: str) -> JsonRpcException:
    return JsonRpcException(code=types.ErrorCodes.InvalidParams, message=message)


def stop_monitors() -> int:
    from mlworkbench.monitor import monitor_servers

    return monitor_servers.stop_all()


def _listen_options(params: OpenMonitorParams) -> tuple[int | None, list[str]]:
    """The port the editor chose and the extra host names it reaches the UI by (validated)."""
    from mlworkbench.monitor.monitor_servers import check_host

    port = params.get("port")
    if port is not None and not 1024 <= port <= 65535:
        raise _bad_params(f"'port' must be a number from 1024 to 65535, got {port!r}")
    hosts = params.get("allowedHosts", [])
    if len(hosts) > 8:
        raise _bad_params("'allowedHosts' must be a list of at most 8 host[:port] names")
    try:
        return port, [check_host(host) for host in hosts]
    except ValueError as error:
        raise _bad_params(str(error)) from error


def register(server: WorkbenchServer) -> None:
    @request(
        server,
        REQUESTS["OPEN_MONITOR"],
        Trust.EXECUTE,
        refused="start the MLflow UI or TensorBoard",
    )
    def open_monitor(ls: WorkbenchServer, params: OpenMonitorParams) -> OpenMonitorResult:
        from mlworkbench.monitor import monitor_servers

        kind = params["kind"]
        if kind not in KINDS:
            raise _bad_params(f"unknown monitor kind {kind!r}; expected one of {', '.join(KINDS)}")
        run_id = params.get("runId", "")
        if kind == "tensorboard" and not run_id:
            raise _bad_params("TensorBoard needs the run whose event files it shows (runId)")
        workspace = workspace_of(params)
        port, hosts = _listen_options(params)
        if kind == "mlflow":
            info = monitor_servers.ensure_mlflow_ui(
                workspace, ls.tracking_uri, port=port, extra_hosts=hosts
            )
        else:
            info = monitor_servers.ensure_tensorboard(
                workspace, run_id, ls.tracking_uri, port=port, extra_hosts=hosts
            )
        return {"kind": info.kind, "url": info.url, "reused": info.reused}

    # Only servers this process started (which needed trust) can be running.
    @request(server, REQUESTS["STOP_MONITORS"], Trust.EXECUTE)
    def stop(ls: WorkbenchServer, params: NoParams) -> StopMonitorsResult:
        return {"stopped": stop_monitors()}

    @server.feature(types.SHUTDOWN)
    def on_shutdown(ls: WorkbenchServer, params: None) -> None:
        stop_monitors()

    @server.feature(types.EXIT)
    def on_exit(ls: WorkbenchServer, params: None) -> None:
        stop_monitors()  # a client that exits without shutdown first
