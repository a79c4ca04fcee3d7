"""MLflow UI and TensorBoard servers for this user only, started on demand, stopped with the editor.

The editor opens them in a browser; this module owns their processes and the gate in front of
each. A server listens on a Unix socket in a private temp folder (mode 0700, so no other local
user can reach it); this process binds the gate (`monitor_gate.py`) on 127.0.0.1:<port>, which
checks the Host header and a per-server secret before forwarding. Each server runs in its own
process group (so stopping reaches the workers uvicorn starts), writes its output to a log under
`<workspace>/.mlworkbench/monitors/`, and is reused while alive so opening the UI twice does not
start two servers on one store. `stop_all` runs at exit too.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from mlworkbench.monitor.monitor_gate import MonitorGate, private_socket, socket_get

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 5.0
_POLL_S = 0.25
EVENT_PREFIX = "events.out.tfevents."
# The argv of a server for its socket, the gate's port and the Host names the gate lets through.
_CommandFactory = Callable[[Path, int, Sequence[str]], Sequence[str]]
TENSORBOARD_ARTIFACTS = "tensorboard"  # where run_records.log_event_files keeps them
TENSORBOARD_SOCKET_SCRIPT = Path(__file__).with_name("tensorboard_socket.py")
# Where each kind says it is ready, asked over its own socket.
_READY_PATHS = {"mlflow": "/health", "tensorboard": "/"}


@dataclass(frozen=True)
class MonitorInfo:
    kind: str  # "mlflow" or "tensorboard"
    # What the editor opens. For a server started here it carries the gate's secret once
    # (`?mlwb-token=...`): never log it; `public_url` is the same place without it.
    url: str
    pid: int | None  # None: a tracking server this manager did not start
    reused: bool

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def public_url(self) -> str:
        return self.url.split("?", 1)[0]


@dataclass
class _Monitor:
    kind: str
    process: subprocess.Popen[bytes]
    log_path: Path
    gate: MonitorGate
    private_dir: Path  # holds the server's socket; removed when it stops

    @property
    def url(self) -> str:
        return self.gate.url

    def alive(self) -> bool:
        from mlworkbench.launch.process_group import group_alive

        # A killed server can look unreaped for a moment (its threads still exiting) while
        # nothing of it is left alive: either sign of death means start a new one.
        return self.process.poll() is None and group_alive(self.process.pid)

    def stop(self) -> None:
        self.gate.close()
        _stop_group(self.process)
        shutil.rmtree(self.private_dir, ignore_errors=True)


class MonitorManager:
    """The servers one process (the language server, a CLI call) started, by what they serve."""

    def __init__(
        self, *, python: str = sys.executable, start_timeout_s: float = START_TIMEOUT_S
    ) -> None:
        self._python = python
        self._start_timeout_s = start_timeout_s
        self._monitors: dict[tuple[str, str], _Monitor] = {}
        # One lock: a second request for a server that is still starting waits and reuses it.
        self._lock = threading.Lock()

    def ensure_mlflow_ui(
        self,
        workspace: Path,
        tracking_uri: str | None = None,
        *,
        port: int | None = None,
        extra_hosts: Sequence[str] = (),
    ) -> MonitorInfo:
        """The MLflow UI on the workspace's store; a tracking server's own URL if it has one.

        `port`: where the gate listens (default: a free one). `extra_hosts`: `host[:port]` names
        the browser reaches the UI by besides 127.0.0.1 — e.g. code-server's `/proxy/<port>/`
        authority — let through by the gate and by MLflow's own host allow-list.
        """
        hosts = [check_host(host) for host in extra_hosts]
        from mlworkbench.monitor.monitor_errors import MonitorStartError
        from mlworkbench.tracking.tracking_client import checked_tracking_uri

        # The same checks as every store access: a corrupt or newer store is refused here
        # rather than migrated by `mlflow server`, and a missing one is not created.
        uri = checked_tracking_uri(workspace, tracking_uri)
        if uri is None:
            raise MonitorStartError(
                "the MLflow UI", "no runs are tracked in this workspace yet; run a script first"
            )
        if uri.startswith(("http://", "https://")):
            return MonitorInfo("mlflow", uri.rstrip("/"), None, reused=True)

        def command(socket_path: Path, port: int, allowed: Sequence[str]) -> list[str]:
            # The gate forwards the browser's Host header, so MLflow allows exactly what the
            # gate lets through. `--host/--port` only name the gate for MLflow's messages:
            # uvicorn listens on the `--uds` socket alone when it is given.
            origins = ",".join(f"http://{host}" for host in allowed)
            return [
                *(self._python, "-m", "mlflow", "server"),
                *("--backend-store-uri", uri),
                *("--default-artifact-root", (workspace / "mlruns").resolve().as_uri()),
                "--no-serve-artifacts",
                *("--host", HOST, "--port", str(port), "--workers", "1"),
                *("--uvicorn-opts", f"--uds {shlex.quote(str(socket_path))}"),
                *("--allowed-hosts", ",".join(allowed)),
                *("--cors-allowed-origins", origins),
            ]

        return self._ensure("mlflow", uri, workspace, command, port, hosts)

    def ensure_tensorboard(
        self,
        workspace: Path,
        run_id: str,
        tracking_uri: str | None = None,
        *,
        port: int | None = None,
        extra_hosts: Sequence[str] = (),
    ) -> MonitorInfo:
        """TensorBoard on the event files the run kept as artifacts (one server per logdir).

        `port` and `extra_hosts` as for `ensure_mlflow_ui`: TensorBoard checks no Host header
        itself, the gate does it for it.
        """
        hosts = [check_host(host) for host in extra_hosts]
        logdir = run_logdir(workspace, run_id, tracking_uri)

        def command(socket_path: Path, port: int, allowed: Sequence[str]) -> list[str]:
            return [
                *(self._python, str(TENSORBOARD_SOCKET_SCRIPT)),
                *("--logdir", str(logdir), "--socket", str(socket_path)),
            ]

        return self._ensure("tensorboard", str(logdir), workspace, command, port, hosts)

    def running(self) -> list[MonitorInfo]:
        with self._lock:
            return [
                MonitorInfo(m.kind, m.url, m.process.pid, reused=True)
                for m in self._monitors.values()
                if m.alive()
            ]

    def stop_all(self) -> int:
        """Stop every server this manager started (SIGTERM, then SIGKILL); how many were alive."""
        with self._lock:
            monitors = list(self._monitors.values())
            self._monitors.clear()
        alive = [m for m in monitors if m.alive()]
        for monitor in monitors:
            monitor.stop()
        return len(alive)

    def _ensure(
        self,
        kind: str,
        key: str,
        workspace: Path,
        command: _CommandFactory,
        port: int | None,
        hosts: Sequence[str],
    ) -> MonitorInfo:
        with self._lock:
            current = self._monitors.get((kind, key))
            if current is not None and current.alive():
                return MonitorInfo(kind, current.url, current.process.pid, reused=True)
            if current is not None:  # it died (crashed, killed): start a fresh one
                del self._monitors[(kind, key)]
                current.stop()
            monitor = self._start(kind, workspace, command, port, hosts)
            self._monitors[(kind, key)] = monitor
            return MonitorInfo(kind, monitor.url, monitor.process.pid, reused=False)

    def _start(
        self,
        kind: str,
        workspace: Path,
        command: _CommandFactory,
        port: int | None,
        hosts: Sequence[str],
    ) -> _Monitor:
        from mlworkbench.monitor.monitor_errors import MonitorStartError

        folder = _monitor_log_folder(workspace, kind)
        socket_path = private_socket(kind)
        private_dir = socket_path.parent
        try:
            # Bound before the server starts: a port another program holds fails here, so
            # nothing but our own server can ever be behind the URL the editor opens.
            gate = MonitorGate(socket_path, port=port or 0, extra_hosts=hosts)
        except OSError as error:
            shutil.rmtree(private_dir, ignore_errors=True)
            reason = error.strerror or str(error)
            if error.errno == errno.EADDRINUSE:
                reason = "another program is already listening there"
            where = f"{HOST}:{port}" if port else HOST
            raise MonitorStartError(kind, f"cannot listen on {where}: {reason}") from error
        try:
            return self._start_server(kind, workspace, command, gate, private_dir, folder)
        except BaseException:
            gate.close()
            shutil.rmtree(private_dir, ignore_errors=True)
            raise

    def _start_server(
        self,
        kind: str,
        workspace: Path,
        command: _CommandFactory,
        gate: MonitorGate,
        private_dir: Path,
        folder: Path,
    ) -> _Monitor:
        from mlworkbench.launch.log_tail import tail_lines
        from mlworkbench.launch.process_group import spawn
        from mlworkbench.monitor.monitor_errors import MonitorStartError

        log_path = folder / f"{kind}-{gate.port}.log"
        argv = command(gate.backend, gate.port, gate.allowed_hosts)
        try:
            _create_log(log_path)
        except OSError as error:
            reason = f"cannot write its log {log_path}: {error.strerror or error}"
            raise MonitorStartError(kind, reason) from error
        try:
            process = spawn(argv, cwd=workspace, env=_server_env(), log_path=log_path)
        except OSError as error:
            raise MonitorStartError(kind, error.strerror or str(error)) from error
        # Ready means our own child answers on the socket in our private folder: nothing else
        # can have put a server there.
        ready = _READY_PATHS[kind]
        deadline = time.monotonic() + self._start_timeout_s
        try:
            while not _ready(gate.backend, ready, gate.allowed_hosts[0]):
                if process.poll() is not None:
                    reason = f"it exited with status {process.returncode} before serving"
                    raise MonitorStartError(kind, reason, tail_lines(log_path))
                if time.monotonic() > deadline:
                    reason = f"it did not answer on its socket within {self._start_timeout_s:.0f} s"
                    raise MonitorStartError(kind, reason, tail_lines(log_path))
                time.sleep(_POLL_S)
        except BaseException:
            # Failed, timed out or interrupted (Ctrl+C in `mlworkbench ui`): the manager does not
            # hold the process yet, so nothing else would stop it or what it started.
            _stop_group(process)
            raise
        gate.start()
        return _Monitor(kind, process, log_path, gate, private_dir)


_HOST_NAME = re.compile(
    r"(?:[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
)


def check_host(host: str) -> str:
    """`host[:port]` as MLflow's allow-list takes it; anything else (wildcards, URLs, commas,
    spaces) is refused: a wildcard would switch off its DNS-rebinding protection."""
    if not _HOST_NAME.fullmatch(host):
        raise ValueError(f"not a host[:port] name: {host!r}")
    return host


def free_port() -> int:
    """A port nothing listens on now: the kernel's pick for a socket bound to port 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def run_logdir(workspace: Path, run_id: str, tracking_uri: str | None = None) -> Path:
    """The local folder of the run's kept event files (downloaded when artifacts are remote).

    Downloads go into this process's private cache, not the workspace: a repository could ship
    `.mlworkbench/monitors/tensorboard/<run>` as a symlink and have MLflow write through it.
    """
    from mlflow.exceptions import MlflowException

    from mlworkbench.errors import RunNotFoundError
    from mlworkbench.monitor.monitor_errors import NoEventFilesError
    from mlworkbench.tracking.private_dirs import download_dir
    from mlworkbench.tracking.tracking_client import open_client

    client = open_client(workspace, tracking_uri)
    if client is None:
        raise RunNotFoundError(run_id)
    try:
        artifact_uri = client.get_run(run_id).info.artifact_uri
    except MlflowException as error:
        raise RunNotFoundError(run_id) from error
    if artifact_uri.startswith("file:") or "://" not in artifact_uri:
        path = urllib.parse.urlparse(artifact_uri).path if ":" in artifact_uri else artifact_uri
        logdir = Path(urllib.request.url2pathname(path)) / TENSORBOARD_ARTIFACTS
    else:
        target = download_dir("tensorboard", run_id)
        try:
            logdir = Path(client.download_artifacts(run_id, TENSORBOARD_ARTIFACTS, str(target)))
        except (MlflowException, OSError) as error:
            raise NoEventFilesError(run_id) from error
    if not logdir.is_dir() or not any(
        path.name.startswith(EVENT_PREFIX) for path in logdir.rglob("*")
    ):
        raise NoEventFilesError(run_id)
    return logdir


def _monitor_log_folder(workspace: Path, kind: str) -> Path:
    """`<workspace>/.mlworkbench/monitors`, each part a real folder of ours (`checked_cache_dir`):
    a `.mlworkbench` the repository shipped as a symlink would have the server's output written
    wherever it points."""
    from mlworkbench.errors import PrivateFolderRefusedError
    from mlworkbench.monitor.monitor_errors import MonitorStartError
    from mlworkbench.tracking.private_dirs import checked_cache_dir

    try:
        return checked_cache_dir(workspace, ".mlworkbench", "monitors")
    except PrivateFolderRefusedError as error:
        raise MonitorStartError(kind, error.message) from error


def _create_log(path: Path) -> None:
    """Create the log file without following a symlink the repository may have put there
    (ELOOP): the server's output would be appended to whatever file it names."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    os.close(descriptor)


def _server_env() -> dict[str, str]:
    """The servers' environment: ours, without the tracking token and MLflow's job runner.

    They serve local files and contact no tracking server, so no token is theirs to hold
    (`tracking_token.child_token_env`). The job runner calls the server back over HTTP at
    `--host:--port` — the gate, which it holds no secret for — and starts half a dozen worker
    processes the UI does not need.
    """
    from mlworkbench.tracking.tracking_token import child_token_env

    env = child_token_env(os.environ, "", tracks_there=False)
    return {**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def _ready(socket_path: Path, target: str, host: str) -> bool:
    answer = socket_get(socket_path, target, host)
    return answer is not None and answer[0] == 200


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    from mlworkbench.launch.process_group import group_alive, signal_group

    pgid = process.pid  # spawn() starts a new session: its leader's pid is the group id
    signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while group_alive(pgid) and time.monotonic() < deadline:
        process.poll()  # reap the leader so it does not linger as a zombie
        time.sleep(0.05)
    if group_alive(pgid):
        signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE_S)


_default: MonitorManager | None = None
_default_lock = threading.Lock()


def default_manager() -> MonitorManager:
    """The process-wide manager; its servers are stopped when the process exits normally."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MonitorManager()
            atexit.register(_default.stop_all)
        return _default


def ensure_mlflow_ui(
    workspace: Path,
    tracking_uri: str | None = None,
    *,
    port: int | None = None,
    extra_hosts: Sequence[str] = (),
) -> MonitorInfo:
    return default_manager().ensure_mlflow_ui(
        workspace, tracking_uri, port=port, extra_hosts=extra_hosts
    )


def ensure_tensorboard(
    workspace: Path,
    run_id: str,
    tracking_uri: str | None = None,
    *,
    port: int | None = None,
    extra_hosts: Sequence[str] = (),
) -> MonitorInfo:
    return default_manager().ensure_tensorboard(
        workspace, run_id, tracking_uri, port=port, extra_hosts=extra_hosts
    )


def stop_all() -> int:
    return default_manager().stop_all() if _default is not None else 0
