"""MLflow UI and TensorBoard servers on 127.0.0.1, started on demand and stopped with the editor.

The editor opens them in a browser; this module owns their processes: each in its own process
group (so stopping reaches the workers uvicorn or TensorBoard start), bound to loopback on a free
port, output in a log under `<workspace>/.mlworkbench/monitors/`, and reused while alive so
opening the UI twice does not start two servers on one store. `stop_all` runs at exit too.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 5.0
_POLL_S = 0.25
EVENT_PREFIX = "events.out.tfevents."
# The argv of a server for the port it is to listen on.
_CommandFactory = Callable[[int], Sequence[str]]
TENSORBOARD_ARTIFACTS = "tensorboard"  # where run_records.log_event_files keeps them


@dataclass(frozen=True)
class MonitorInfo:
    kind: str  # "mlflow" or "tensorboard"
    url: str
    pid: int | None  # None: a tracking server this manager did not start
    reused: bool

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class _Monitor:
    kind: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        from mlworkbench.runs.process_group import group_alive

        # A killed server can look unreaped for a moment (its threads still exiting) while
        # nothing of it is left alive: either sign of death means start a new one.
        return self.process.poll() is None and group_alive(self.process.pid)


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

        `port`: where to listen (default: a free one). `extra_hosts`: `host[:port]` names the
        browser reaches the UI by besides 127.0.0.1 — e.g. code-server's `/proxy/<port>/`
        authority — added to MLflow's host allow-list, which otherwise answers 403 to them.
        """
        hosts = [check_host(host) for host in extra_hosts]
        from mlworkbench.registry_errors import MonitorStartError
        from mlworkbench.tracking_client import checked_tracking_uri

        # The same checks as every store access: a corrupt or newer store is refused here
        # rather than migrated by `mlflow server`, and a missing one is not created.
        uri = checked_tracking_uri(workspace, tracking_uri)
        if uri is None:
            raise MonitorStartError(
                "the MLflow UI", "no runs are tracked in this workspace yet; run a script first"
            )
        if uri.startswith(("http://", "https://")):
            return MonitorInfo("mlflow", uri.rstrip("/"), None, reused=True)

        def command(port: int) -> list[str]:
            allowed = [f"{HOST}:{port}", f"localhost:{port}", *hosts]
            origins = ",".join(f"http://{host}" for host in allowed)
            return [
                *(self._python, "-m", "mlflow", "server"),
                *("--backend-store-uri", uri),
                *("--default-artifact-root", (workspace / "mlruns").resolve().as_uri()),
                "--no-serve-artifacts",
                *("--host", HOST, "--port", str(port), "--workers", "1"),
                *("--allowed-hosts", ",".join(allowed)),
                *("--cors-allowed-origins", origins),
            ]

        return self._ensure("mlflow", uri, workspace, command, port)

    def ensure_tensorboard(
        self, workspace: Path, run_id: str, tracking_uri: str | None = None
    ) -> MonitorInfo:
        """TensorBoard on the event files the run kept as artifacts (one server per logdir)."""
        logdir = run_logdir(workspace, run_id, tracking_uri)

        def command(port: int) -> list[str]:
            return [
                *(self._python, "-m", "tensorboard.main"),
                *("--logdir", str(logdir), "--host", HOST, "--port", str(port)),
            ]

        return self._ensure("tensorboard", str(logdir), workspace, command)

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
            _stop_group(monitor.process)
        return len(alive)

    def _ensure(
        self,
        kind: str,
        key: str,
        workspace: Path,
        command: _CommandFactory,
        port: int | None = None,
    ) -> MonitorInfo:
        with self._lock:
            current = self._monitors.get((kind, key))
            if current is not None and current.alive():
                return MonitorInfo(kind, current.url, current.process.pid, reused=True)
            if current is not None:  # it died (crashed, killed): start a fresh one
                _stop_group(current.process)
            monitor = self._start(kind, workspace, command, port)
            self._monitors[(kind, key)] = monitor
            return MonitorInfo(kind, monitor.url, monitor.process.pid, reused=False)

    def _start(
        self, kind: str, workspace: Path, command: _CommandFactory, port: int | None = None
    ) -> _Monitor:
        from mlworkbench.registry_errors import MonitorStartError
        from mlworkbench.runs.log_tail import tail_lines
        from mlworkbench.runs.process_group import spawn

        port = port or free_port()
        folder = workspace / ".mlworkbench" / "monitors"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            log_path = folder / f"{kind}-{port}.log"
            process = spawn(command(port), cwd=workspace, env=os.environ, log_path=log_path)
        except OSError as error:
            raise MonitorStartError(kind, str(error)) from error
        url = f"http://{HOST}:{port}/"
        deadline = time.monotonic() + self._start_timeout_s
        while not _answers(url):
            if process.poll() is not None:
                reason = f"it exited with status {process.returncode} before serving"
                raise MonitorStartError(kind, reason, tail_lines(log_path))
            if time.monotonic() > deadline:
                _stop_group(process)
                reason = f"it did not answer on {url} within {self._start_timeout_s:.0f} s"
                raise MonitorStartError(kind, reason, tail_lines(log_path))
            time.sleep(_POLL_S)
        return _Monitor(kind, url, process, log_path)


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
    """The local folder of the run's kept event files (downloaded when artifacts are remote)."""
    from mlflow.exceptions import MlflowException

    from mlworkbench.errors import RunNotFoundError
    from mlworkbench.registry_errors import NoEventFilesError
    from mlworkbench.tracking_client import open_client

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
        target = workspace / ".mlworkbench" / "monitors" / "tensorboard" / run_id
        target.mkdir(parents=True, exist_ok=True)
        try:
            logdir = Path(client.download_artifacts(run_id, TENSORBOARD_ARTIFACTS, str(target)))
        except (MlflowException, OSError) as error:
            raise NoEventFilesError(run_id) from error
    if not logdir.is_dir() or not any(
        path.name.startswith(EVENT_PREFIX) for path in logdir.rglob("*")
    ):
        raise NoEventFilesError(run_id)
    return logdir


def _answers(url: str) -> bool:
    """True once the server answers HTTP at all (any status: it is up and parsing requests)."""
    try:
        with urllib.request.urlopen(url, timeout=2.0):  # noqa: S310 (our http://127.0.0.1 URL)
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    from mlworkbench.runs.process_group import group_alive, signal_group

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
    workspace: Path, run_id: str, tracking_uri: str | None = None
) -> MonitorInfo:
    return default_manager().ensure_tensorboard(workspace, run_id, tracking_uri)


def stop_all() -> int:
    return default_manager().stop_all() if _default is not None else 0
