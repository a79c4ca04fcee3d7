"""The workbench's own local Ray cluster: start it, find it again, probe any cluster, stop ours.

`ray start --head` runs with a private temp dir (`mkdtemp`, never Ray's shared /tmp/ray), its
dashboard on 127.0.0.1 and free ports, every other server of Ray's on the loopback too (Ray
would otherwise swap 127.0.0.1 for the machine's reachable address, and its gRPC and Prometheus
servers would listen on every interface), and Ray's token authentication (`RAY_AUTH_MODE=token`,
Ray >= 2.52), which is what keeps other local users out of the gRPC servers and the Jobs API
(its metrics servers have no authentication: on the loopback they show only resource figures to
this machine's users). The token lives in the cluster's 0700 temp dir and goes only to our own
Jobs API client (`auth_headers`).

The cluster is recorded in a per-user state file (0600 in a 0700 folder), so a later CLI call or
the editor finds it; stopping it signals only its own processes (its process group, their
descendants, anything naming its temp dir): `ray stop` would stop every cluster of the user.

Only the standard library is imported here: probing a cluster is plain HTTP to its dashboard,
never `ray.init`, which would start a driver (seconds, and a heavy import).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlworkbench.compute.ray_errors import (
    ComputeTargetUnreachableError,
    InvalidComputeTargetError,
    RayClusterStartFailedError,
    RayNotInstalledError,
)

STATE_FILE = "ray-cluster.json"
TEMP_PREFIX = "mlwb-ray-"  # short: Ray's Unix sockets live below it (~107-character limit)
TOKEN_FILE = "auth_token"  # noqa: S105 - a file name, not a token
START_LOG = "ray-start.log"
STOP_GRACE_S = 3.0  # Ray's own job stop waits 3 s too
LOG_TAIL_CHARS = 3000


@dataclass(frozen=True)
class ClusterInfo:
    """The workbench's running local cluster, as recorded in the state file."""

    address: str  # the dashboard / Jobs API address, http://127.0.0.1:PORT
    dashboard_url: str
    gcs_address: str
    temp_dir: str
    pgid: int
    pids: tuple[int, ...]
    num_cpus: int | None
    started_at: float
    token_file: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe; the token file's path is left out (the token never leaves this side)."""
        data = asdict(self)
        data.pop("token_file")
        data["pids"] = list(self.pids)
        data["auth"] = "token" if self.token_file else "none"
        return data


@dataclass(frozen=True)
class ClusterStatus:
    """One probe of a Ray cluster's dashboard: reachable or why not, and its size."""

    address: str
    reachable: bool
    nodes: int = 0
    cpus: float = 0.0
    gpus: float = 0.0
    ray_version: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the state file ------------------------------------------------------------------------


def state_dir() -> Path:
    """`$XDG_STATE_HOME/mlworkbench` (else `~/.local/state/mlworkbench`), created 0700."""
    base = os.environ.get("XDG_STATE_HOME")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "state"
    folder = root / "mlworkbench"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


@contextlib.contextmanager
def _state_lock() -> Iterator[None]:
    """Two starts at once (the editor and a shell) must not start two clusters."""
    fd = os.open(state_dir() / (STATE_FILE + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_state() -> ClusterInfo | None:
    try:
        data = json.loads((state_dir() / STATE_FILE).read_text())
        data["pids"] = tuple(int(p) for p in data["pids"])
        return ClusterInfo(**data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _write_state(info: ClusterInfo) -> None:
    path = state_dir() / STATE_FILE
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as stream:
        data = asdict(info)
        data["pids"] = list(info.pids)
        json.dump(data, stream)
    os.replace(tmp, path)


def _remove_state() -> None:
    (state_dir() / STATE_FILE).unlink(missing_ok=True)


# --- processes -----------------------------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, pgid, command line) for every live process we may see."""
    table: dict[int, tuple[int, int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) "
        if fields[0] == "Z":
            continue  # exited, waiting for its parent to reap it: nothing left to stop
        table[int(entry)] = (int(fields[1]), int(fields[2]), cmdline.decode(errors="replace"))
    return table


def _cluster_pids(pgid: int, temp_dir: str) -> set[int]:
    """Our cluster's processes: its process group, whatever names its temp dir, and every
    descendant of those (workers, job drivers in their own sessions)."""
    table = _proc_table()
    marker = temp_dir + "/"
    named = {pid for pid, (_, _, cmdline) in table.items() if temp_dir and marker in cmdline}
    # The group counts only while one of its members still names our temp dir: the number of
    # a dead cluster's group may since have been reused by someone else's processes.
    group_is_ours = pgid > 1 and any(table[pid][1] == pgid for pid in named)
    ours = named | {pid for pid, (_, group, _) in table.items() if group_is_ours and group == pgid}
    ours.discard(os.getpid())
    grew = True
    while grew:
        children = {pid for pid, (ppid, _, _) in table.items() if ppid in ours} - ours
        grew = bool(children)
        ours |= children
    ours.discard(os.getpid())
    return ours


def _alive(info: ClusterInfo) -> bool:
    """The head still runs: one of its recorded processes exists and still names our temp dir
    (a recycled pid belongs to someone else)."""
    for pid in info.pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if info.temp_dir.encode() + b"/" in cmdline:
            return True
    return False


def _terminate(pids: set[int], grace_s: float = STOP_GRACE_S) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + (grace_s if sig == signal.SIGTERM else 2.0)
        while time.monotonic() < deadline:
            pids = {pid for pid in pids if Path(f"/proc/{pid}").exists() and not _zombie(pid)}
            if not pids:
                return
            time.sleep(0.1)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2 :].startswith("Z")


def _cleanup(info: ClusterInfo) -> None:
    _terminate(_cluster_pids(info.pgid, info.temp_dir))
    shutil.rmtree(info.temp_dir, ignore_errors=True)
    _remove_state()


# --- start / find / stop -------------------------------------------------------------------


def _ray_executable() -> Path:
    """The `ray` script of the interpreter running us, so the cluster runs the same Ray."""
    import importlib.util

    path = Path(sys.executable).parent / "ray"
    if not path.exists() or importlib.util.find_spec("ray") is None:
        raise RayNotInstalledError(f"no {path}")
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
    except OSError:
        return ""


def local_cluster() -> ClusterInfo | None:
    """The recorded cluster if its head is alive; a stale record (and whatever is left of that
    cluster: processes, temp dir) is cleaned up."""
    with _state_lock():
        info = _read_state()
        if info is None:
            return None
        if _alive(info):
            return info
        _cleanup(info)
        return None


def start_local_cluster(*, num_cpus: int | None = None, timeout_s: float = 60) -> ClusterInfo:
    """Start the workbench's local cluster, or return the one already running.

    Raises RayNotInstalledError, RayClusterStartFailedError (with the start log's tail).
    """
    ray = _ray_executable()
    with _state_lock():
        info = _read_state()
        if info is not None and _alive(info):
            return info
        if info is not None:
            _cleanup(info)
        return _start(ray, num_cpus, timeout_s)


def _start(ray: Path, num_cpus: int | None, timeout_s: float) -> ClusterInfo:
    temp_dir = tempfile.mkdtemp(prefix=TEMP_PREFIX)
    token_file = Path(temp_dir) / TOKEN_FILE
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as stream:
        stream.write(secrets.token_hex(32))
    gcs_port, dashboard_port = _free_port(), _free_port()
    command = [
        str(ray),
        "start",
        "--head",
        "--node-ip-address=127.0.0.1",
        "--dashboard-host=127.0.0.1",
        f"--port={gcs_port}",
        f"--dashboard-port={dashboard_port}",
        # Ray's other fixed default ports (client server 10001, agent 52365) would collide with
        # another cluster on this machine: free ones too.
        f"--ray-client-server-port={_free_port()}",
        f"--dashboard-agent-listen-port={_free_port()}",
        f"--metrics-export-port={_free_port()}",
        f"--temp-dir={temp_dir}",
        "--include-dashboard=true",
        "--disable-usage-stats",
    ]
    if num_cpus is not None:
        command.append(f"--num-cpus={int(num_cpus)}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(
        {
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(token_file),  # never ~/.ray/auth_token, which is shared
            "RAY_USAGE_STATS_ENABLED": "0",
            # Ray turns --node-ip-address=127.0.0.1 into this machine's reachable address, so
            # that other nodes can join; this one never takes other nodes. Ray's single-machine
            # switch (named for macOS and Windows, honoured everywhere) keeps the node address
            # on the loopback, which makes its Prometheus metrics servers bind 127.0.0.1 too:
            # they have no authentication of their own.
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            # Their fixed default ports would collide with another user's cluster.
            "AUTOSCALER_METRIC_PORT": str(_free_port()),
            "DASHBOARD_METRIC_PORT": str(_free_port()),
            # A job's fixed entrypoint runs `python`: this interpreter's, with ray and mlflow.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    log_path = Path(temp_dir) / START_LOG
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # the daemons it leaves share this process group: ours
        )
    pgid = process.pid
    deadline = time.monotonic() + timeout_s
    try:
        try:
            code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise RayClusterStartFailedError(
                f"`ray start` did not finish in {timeout_s:.0f} s", _tail(log_path)
            ) from None
        if code != 0:
            raise RayClusterStartFailedError(
                f"`ray start` exited with status {code}", _tail(log_path)
            )
        address = f"http://127.0.0.1:{dashboard_port}"
        headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
        while True:
            status = _probe(address, headers, max(0.5, min(2.0, deadline - time.monotonic())))
            if status.reachable and status.nodes > 0:
                break
            if time.monotonic() > deadline:
                raise RayClusterStartFailedError(
                    f"its dashboard at {address} did not answer in {timeout_s:.0f} s "
                    f"({status.error})",
                    _tail(log_path),
                )
            time.sleep(0.25)
    except BaseException:
        _terminate(_cluster_pids(pgid, temp_dir))
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    try:
        gcs_address = (Path(temp_dir) / "ray_current_cluster").read_text().strip()
    except OSError:
        gcs_address = f"127.0.0.1:{gcs_port}"
    info = ClusterInfo(
        address=address,
        dashboard_url=address,
        gcs_address=gcs_address,
        temp_dir=temp_dir,
        pgid=pgid,
        pids=tuple(sorted(_cluster_pids(pgid, temp_dir))),
        num_cpus=num_cpus,
        started_at=time.time(),
        token_file=str(token_file),
    )
    _write_state(info)
    return info


def stop_local_cluster() -> bool:
    """Stop the workbench's cluster (only its own processes), remove its temp dir and record.
    False when none was recorded."""
    with _state_lock():
        info = _read_state()
        if info is None:
            return False
        _cleanup(info)
        return True


# --- probing any cluster -------------------------------------------------------------------


def normalize_address(address: str) -> str:
    """`http(s)://host:port` without a trailing slash; anything else is INVALID_COMPUTE_TARGET
    (a bare `host:port` would be read by Ray as a GCS address and need `ray.init`)."""
    parsed = urllib.parse.urlsplit(address.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidComputeTargetError(
            address, "expected a Ray dashboard address such as http://127.0.0.1:8265"
        )
    if parsed.query or parsed.fragment or parsed.username or parsed.password:
        raise InvalidComputeTargetError(address, "the address must be scheme://host:port only")
    try:
        parsed.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as error:
        raise InvalidComputeTargetError(address, str(error)) from error
    return f"{parsed.scheme}://{parsed.netloc}{parsed.path.rstrip('/')}"


def auth_headers(address: str) -> dict[str, str]:
    """The bearer token for our own local cluster's address; nothing for any other address, so
    the token never reaches a cluster that is not ours."""
    info = _read_state()
    if info is None or info.token_file is None or normalize_address(address) != info.address:
        return {}
    try:
        token = Path(info.token_file).read_text().strip()
    except OSError:
        return {}
    return {"Authorization": f"Bearer {token}"}


def _get_json(url: str, headers: dict[str, str], timeout_s: float) -> Any:
    import urllib.request  # 30 ms: not at the language server's start

    # normalize_address admits http(s) only
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
        return json.loads(response.read())


def _probe(address: str, headers: dict[str, str], timeout_s: float) -> ClusterStatus:
    import urllib.error

    deadline = time.monotonic() + timeout_s

    def left() -> float:
        return max(0.1, deadline - time.monotonic())

    try:
        version = _get_json(f"{address}/api/version", headers, left())
        nodes = _get_json(f"{address}/api/v0/nodes?limit=10000&detail=false", headers, left())
    except urllib.error.HTTPError as error:
        reason = {401: "it requires a token", 403: "it refused our token"}.get(
            error.code, f"HTTP {error.code}"
        )
        return ClusterStatus(address, False, error=f"{address}: {reason}")
    except (OSError, ValueError) as error:
        why = getattr(error, "reason", None) or error
        return ClusterStatus(address, False, error=f"{address}: {why}")
    alive = [
        node
        for node in nodes.get("data", {}).get("result", {}).get("result", [])
        if node.get("state") == "ALIVE"
    ]
    resources = [node.get("resources_total") or {} for node in alive]
    return ClusterStatus(
        address,
        True,
        nodes=len(alive),
        cpus=float(sum(r.get("CPU", 0.0) for r in resources)),
        gpus=float(sum(r.get("GPU", 0.0) for r in resources)),
        ray_version=str(version.get("ray_version")) if isinstance(version, dict) else None,
    )


def cluster_status(address: str, *, timeout_s: float = 5) -> ClusterStatus:
    """Probe a Ray dashboard within `timeout_s` (never longer): an unreachable address comes
    back as `reachable=False` with an error naming it. Raises InvalidComputeTargetError for an
    address that is not http(s)://host:port."""
    normalized = normalize_address(address)
    return _probe(normalized, auth_headers(normalized), timeout_s)


def require_reachable(address: str, *, timeout_s: float = 5) -> ClusterStatus:
    """`cluster_status`, raising ComputeTargetUnreachableError when it does not answer."""
    status = cluster_status(address, timeout_s=timeout_s)
    if not status.reachable:
        raise ComputeTargetUnreachableError(status.address, status.error or "no answer")
    return status


def resolve_target(target: str) -> str:
    """The Jobs API address of a `--target` other than `local`: `ray` is the workbench's local
    cluster (INVALID_COMPUTE_TARGET when none runs), else an http(s)://host:port the user typed."""
    if target == "ray":
        info = local_cluster()
        if info is None:
            raise InvalidComputeTargetError(
                target,
                "no local Ray cluster is running; start one with `mlworkbench compute start`",
            )
        return info.address
    return normalize_address(target)
