"""The workspace's long-lived MLflow tracking server (`mlworkbench server start|stop|status`).

Runs on a cluster cannot write the workspace's `mlflow.db`, so they track over HTTP to this
server. It is a detached process (`tracking_server_gate`: its own session, output in
`<workspace>/.mlworkbench/server/server.log`) that outlives the CLI call, found again through a
state file (0600 in a 0700 folder) which alone holds the bearer secret. The backend store is the
workspace's SQLite file by default or a PostgreSQL URI, whose password never leaves the
processes that need it (`tracking_server_store`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from mlworkbench.errors import MlWorkbenchError
from mlworkbench.launch.child.proc_info import is_same_process
from mlworkbench.tracking.tracking_server_store import (
    InvalidBackendStoreError,
    backend_kind,
    check_backend_store,
    redact_uri,
)

__all__ = [
    "InvalidBackendStoreError",
    "ServerInfo",
    "TrackingServerNotRunningError",
    "TrackingServerStartError",
    "is_server_uri",
    "redact_uri",
    "server_env",
    "server_status",
    "start_server",
    "stop_server",
]

LOOPBACK = "127.0.0.1"
_STATE = "state.json"


class TrackingServerStartError(MlWorkbenchError):
    """The server did not come up; the message ends with its log's tail."""

    code = "TRACKING_SERVER_START_FAILED"

    def __init__(self, reason: str, log_tail: str = "") -> None:
        self.log_tail = log_tail
        super().__init__(
            f"the tracking server did not start: {reason}" + (f"\n{log_tail}" if log_tail else "")
        )


class TrackingServerNotRunningError(MlWorkbenchError):
    """No tracking server runs for this workspace."""

    code = "TRACKING_SERVER_NOT_RUNNING"

    def __init__(self, workspace: Path) -> None:
        super().__init__(f"no tracking server runs for {workspace}: mlworkbench server start")


@dataclass(frozen=True)
class ServerInfo:
    """What `status` shows: never the token, the store's password redacted."""

    uri: str
    backend: str  # the store URI, password redacted
    backend_kind: str
    pid: int
    started_at: float
    alive: bool
    log_path: str

    @property
    def uptime_s(self) -> float:
        return max(0.0, time.time() - self.started_at)

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "uptime_s": round(self.uptime_s, 1)}


def is_server_uri(uri: str) -> bool:
    """True for a tracking server (http/https), False for a local store (sqlite, file)."""
    return uri.lower().startswith(("http://", "https://"))


def _server_dir(workspace: Path) -> Path:
    folder = workspace / ".mlworkbench" / "server"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if folder.is_symlink() or folder.stat().st_uid != os.getuid():
        raise TrackingServerStartError(f"{folder} is not a folder of this user's")
    folder.chmod(0o700)
    return folder


def _read_state(workspace: Path) -> dict[str, object] | None:
    path = workspace / ".mlworkbench" / "server" / _STATE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd) as handle:
        try:
            state = json.load(handle)
        except ValueError:
            return None
    return state if isinstance(state, dict) else None


def _write_state(workspace: Path, state: Mapping[str, object]) -> None:
    folder = _server_dir(workspace)
    temp = folder / f".{_STATE}.{os.getpid()}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(dict(state), handle)
    os.replace(temp, folder / _STATE)


def _info(state: Mapping[str, object]) -> ServerInfo:
    pid = int(str(state["pid"]))
    return ServerInfo(
        uri=str(state["uri"]),
        backend=str(state["backend"]),
        backend_kind=str(state["backend_kind"]),
        pid=pid,
        started_at=float(str(state["started_at"])),
        alive=is_same_process(pid, None),
        log_path=str(state["log_path"]),
    )


def server_status(workspace: Path) -> ServerInfo | None:
    """The workspace's server, or None when none was started or it has died."""
    state = _read_state(workspace)
    if state is None:
        return None
    info = _info(state)
    return info if info.alive else None


def server_token(workspace: Path) -> str | None:
    """The running server's bearer secret (for the explorer and the launcher), else None."""
    state = _read_state(workspace)
    if state is None or server_status(workspace) is None:
        return None
    return str(state["token"])


def server_env(workspace: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A run's environment to track to the workspace's server: the URI and MLflow's token."""
    from mlworkbench.tracking.tracking_token import child_token_env

    info = server_status(workspace)
    token = server_token(workspace)
    if info is None or token is None:
        raise TrackingServerNotRunningError(workspace)
    env = child_token_env(
        dict(os.environ if environ is None else environ), info.uri, tracks_there=False
    )
    env["MLFLOW_TRACKING_URI"] = info.uri
    env["MLFLOW_TRACKING_TOKEN"] = token
    return env


def _health(uri: str, token: str) -> bool:
    request = urllib.request.Request(f"{uri}/health", headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=2) as answer:  # noqa: S310 (our own http URI)
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def start_server(
    workspace: Path,
    *,
    backend_store_uri: str | None = None,
    host: str = LOOPBACK,
    port: int | None = None,
    timeout_s: float = 60,
) -> ServerInfo:
    """Start the workspace's server (or return the running one) and wait until it answers."""
    workspace = workspace.resolve()
    running = server_status(workspace)
    if running is not None:
        return running
    # A restart after a crash keeps the token (and the port, unless another is asked for), so
    # runs still in flight carry on once it answers again (MLflow's client retries).
    stale = _read_state(workspace) or {}
    if port is None and stale.get("uri") == f"http://{host}:{stale.get('port')}":
        port = int(str(stale["port"]))
    store = backend_store_uri or f"sqlite:///{(workspace / 'mlflow.db').as_posix()}"
    check_backend_store(store)
    folder = _server_dir(workspace)
    if port is None:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = int(probe.getsockname()[1])
    else:
        with socket.socket() as probe:
            # As the gate binds: beside TIME_WAIT leftovers of a crashed server, never beside
            # another listener (Linux).
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as error:
                raise TrackingServerStartError(
                    f"{host}:{port} is not free ({error.strerror or error}): pick another --port"
                ) from None
    artifacts = workspace / "mlartifacts"
    artifacts.mkdir(exist_ok=True)
    token = str(stale.get("token") or secrets.token_urlsafe(32))
    log_path = folder / "server.log"
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLWORKBENCH_TRACKING_TOKEN", "MLFLOW_TRACKING_TOKEN", "PGPASSWORD")
    }
    env["MLWB_SERVER_SECRET"] = token
    env["MLWB_SERVER_STORE"] = store
    argv = [sys.executable, "-m", "mlworkbench.tracking.tracking_server_gate"]
    argv += [str(workspace), host, str(port), artifacts.as_uri()]
    import subprocess

    start_offset = log_path.stat().st_size
    with os.fdopen(fd, "ab") as log:
        process = subprocess.Popen(
            argv,
            cwd=workspace,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    uri = f"http://{host}:{port}"
    state = {
        "pid": process.pid,
        "uri": uri,
        "port": port,
        "backend": redact_uri(store),
        "backend_kind": backend_kind(store),
        "started_at": time.time(),
        "log_path": str(log_path),
        "token": token,
    }
    deadline = time.monotonic() + timeout_s
    while not _health(uri, token):
        if process.poll() is not None or time.monotonic() > deadline:
            reason = (
                f"it exited with status {process.returncode}"
                if process.returncode is not None
                else f"it did not answer within {timeout_s:.0f} s"
            )
            _kill(process.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            text = log_path.read_bytes()[start_offset:].decode(errors="replace")
            raise TrackingServerStartError(reason, "\n".join(text.splitlines()[-20:]))
        time.sleep(0.3)
    _write_state(workspace, state)
    return _info(state)


def _kill(pid: int) -> None:
    """SIGTERM to the gate's group: the gate, MLflow and its workers."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)


def stop_server(workspace: Path) -> bool:
    """Stop the workspace's server; False when none ran (stopping twice is not an error)."""
    workspace = workspace.resolve()
    state = _read_state(workspace)
    if state is None:
        return False
    info = _info(state)
    stopped = False
    if info.alive:
        from mlworkbench.launch.process_group import group_alive, signal_group

        # The gate leads its own session, with MLflow and its workers in its group.
        signal_group(info.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while group_alive(info.pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(info.pid, os.WNOHANG)
            time.sleep(0.1)
        if group_alive(info.pid):
            signal_group(info.pid, signal.SIGKILL)
        stopped = True
    with contextlib.suppress(OSError):
        (workspace / ".mlworkbench" / "server" / _STATE).unlink()
    return stopped
