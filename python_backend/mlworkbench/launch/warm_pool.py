"""Client-side groundwork for the warm worker pool (issue 13, "Scale"): whether a run may use
a pool, the key that says when a pool is stale, where a user's pools live, and whether a pool's
socket can be trusted.

Why a key: a pool preloads mlflow, the autolog patches and the script's heavy imports, so a pool
started before the interpreter, the installed packages, the workbench or the run settings
changed would serve runs with the old code. Every input that changes what a fresh child would
import is in the key; a changed key means "start a new pool", never "reuse".

Why the socket checks: the socket admits whoever can connect to it, so the client only talks to
a socket in a folder of its own (0700, owned by this user) that is itself owned by this user and
not a symlink; the peer's uid is checked again with SO_PEERCRED once connected.

`start_warm` asks this user's pool for the run's interpreter (`warm_server.py`) to fork the run;
any problem with the pool (none yet, stale, crashed, busy, untrusted) returns None and the
launcher starts the run cold, so a run never fails because of the pool. A missing or stale pool
is started in the background for the next run: the first run is served cold rather than waiting
for the pool to import mlflow (waiting would cost the same imports plus the fork).
Stdlib only: the language server imports this module at start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from mlworkbench import __version__
from mlworkbench.launch.child import import_env
from mlworkbench.launch.child.private_folder import folder_problem
from mlworkbench.launch.child.unix_lines import peer_uid

WARM_ENV = "MLWORKBENCH_WARM"
"""Opt-out switch: `MLWORKBENCH_WARM=0` (the setting `mlWorkbench.runs.warmPool` passes it)."""

KEY_ENV_PREFIXES = import_env.IMPORT_ENV_PREFIXES
"""Environment variables that change what a preloaded child would import, how, or where it
logs (mlflow's, ours, Python's, and those read by the libraries a pool preloads)."""

WARM_TAG = "mlworkbench.warm"
"""Set ("true") on runs a pool's child served (bootstrap.WARM_TAG); the only tag that differs."""

IDLE_ENV = "MLWORKBENCH_WARM_IDLE_S"
IDLE_S = 600.0
"""A pool exits after this long without runs (`MLWORKBENCH_WARM_IDLE_S` overrides it)."""

PER_RUN_ENV = import_env.PER_RUN_ENV
assert IDLE_ENV in PER_RUN_ENV
"""Read by the child at run time (its env is the run's), so neither in the key nor the pool's
environment: one pool serves every workspace and store, and holds no secret."""

REPLY_TIMEOUT_S = 30.0
"""How long a client waits for the fork: a pool importing a framework for an earlier run
answers late. The request carries a deadline just before it, so a late pool never forks a run
the client has already started cold."""

SERVER = Path(__file__).with_name("warm_server.py")


def warm_enabled(env: Mapping[str, str]) -> bool:
    """Whether the user lets runs use a warm pool (on unless `MLWORKBENCH_WARM` is 0/false/off)."""
    return env.get(WARM_ENV, "1").strip().lower() not in {"0", "false", "off", "no"}


def packages_fingerprint(site_dirs: Iterable[Path]) -> str:
    """A digest of the dist-info/egg-info names and mtimes in `site_dirs`: installing, removing
    or upgrading a package changes it, without importing anything."""
    digest = hashlib.sha256()
    for site in sorted({Path(s) for s in site_dirs}):
        try:
            entries = sorted(os.scandir(site), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith((".dist-info", ".egg-info", ".pth", ".egg-link")):
                try:
                    mtime = entry.stat().st_mtime_ns
                except OSError:
                    mtime = 0
                digest.update(f"{site}/{entry.name}:{mtime}\n".encode())
    return digest.hexdigest()


def pool_key(interpreter: Path, site_dirs: Iterable[Path], env: Mapping[str, str]) -> str:
    """The key a pool was started with: interpreter path and mtime, installed packages, the
    workbench version and the settings-bearing environment. Equal keys mean a pool may serve."""
    try:
        interp_mtime = os.stat(interpreter).st_mtime_ns
    except OSError:
        interp_mtime = 0
    settings = sorted(
        (name, value)
        for name, value in env.items()
        if name.startswith(KEY_ENV_PREFIXES) and name != WARM_ENV
    )
    digest = hashlib.sha256()
    digest.update(f"{os.path.realpath(interpreter)}:{interp_mtime}\n".encode())
    digest.update(packages_fingerprint(site_dirs).encode())
    digest.update(f"\nworkbench:{__version__}\n".encode())
    for name, value in settings:
        digest.update(f"{name}={value}\n".encode())
    return digest.hexdigest()[:32]


def pools_root() -> Path | None:
    """This user's folder of pools: `$XDG_RUNTIME_DIR` when private, else a per-uid folder under
    the temp dir, created 0700; None when another user made it first or it is open (the run is
    then served cold rather than failing because of the pool)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime and folder_problem(Path(runtime)) is None else None
    if base is None:
        base = Path(tempfile.gettempdir())
    root = base / f"mlworkbench-warm-{os.getuid()}"
    with contextlib.suppress(OSError):
        root.mkdir(mode=0o700)
    return root if folder_problem(root) is None else None


def socket_problem(path: Path) -> str | None:
    """Why the socket at `path` must not be used (wrong owner, open mode, open folder, not a
    socket), or None when it may be."""
    folder = folder_problem(path.parent)
    if folder is not None:
        return f"its folder {path.parent}: {folder}"
    try:
        info = os.lstat(path)
    except OSError as error:
        return error.strerror or str(error)
    if not stat.S_ISSOCK(info.st_mode):
        return "it is not a socket"
    if info.st_uid != os.getuid():
        return f"it belongs to user id {info.st_uid}, not you"
    if stat.S_IMODE(info.st_mode) & 0o077:
        return f"its mode is {stat.S_IMODE(info.st_mode):o}, open to other users"
    return None


def connect_trusted(path: Path, timeout: float = 1.0) -> socket.socket | None:
    """A connection to the pool at `path` if the socket passes `socket_problem` and the peer is
    this user; None otherwise, so the caller runs cold."""
    if socket_problem(path) is not None:
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    try:
        conn.connect(str(path))
        if peer_uid(conn) != os.getuid():
            conn.close()
            return None
    except OSError:
        conn.close()
        return None
    return conn


def site_dirs(python: Path) -> list[Path]:
    """The interpreter's site-packages, found without running it (a venv's or a prefix's
    lib/python3.X/site-packages); the running interpreter's own from `site` too."""
    prefix = Path(os.path.realpath(python)).parent.parent
    dirs = set(Path(python).absolute().parent.parent.glob("lib/python3*/site-packages"))
    dirs.update(prefix.glob("lib/python3*/site-packages"))
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        import site

        dirs.update(Path(p) for p in site.getsitepackages())
    return sorted(dirs)


def socket_path(root: Path, python: str) -> Path:
    """One pool per interpreter, named by a digest of its path (a socket path must be short)."""
    digest = hashlib.sha256(os.path.abspath(python).encode()).hexdigest()[:16]
    return root / f"{digest}.sock"


def pool_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in PER_RUN_ENV}


def key_for(python: str, env: Mapping[str, str]) -> str:
    return pool_key(Path(python), site_dirs(Path(python)), pool_env(env))


def idle_seconds(env: Mapping[str, str]) -> float:
    try:
        return max(1.0, float(env.get(IDLE_ENV, IDLE_S)))
    except ValueError:
        return IDLE_S


def start_pool(
    python: str, env: Mapping[str, str], root: Path, frameworks: Sequence[str] = ()
) -> subprocess.Popen[bytes] | None:
    """Start a pool for `python` in the background (its own session, so a Ctrl+C or a cancel
    of a run does not reach it), preloading `frameworks`; its stderr goes to a 0600 log next
    to its socket."""
    path = socket_path(root, python)
    log_path = path.with_suffix(".log")
    try:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:
        return None
    try:
        return subprocess.Popen(
            [
                python,
                str(SERVER),
                str(path),
                key_for(python, env),
                str(idle_seconds(env)),
                ",".join(frameworks),
            ],
            env=pool_env(env),
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=fd,
            start_new_session=True,
            close_fds=True,
        )
    except OSError:
        return None
    finally:
        os.close(fd)


def prepare(python: str, env: Mapping[str, str], frameworks: Sequence[str]) -> str:
    """Get the pool for runs with `env` ready before the first run: start it (preloading
    `frameworks`) or ask the running one to preload them. Returns what happened: "off",
    "started", "asked" or "unavailable"; never raises (the pool is an optimisation)."""
    if not warm_enabled(env):
        return "off"
    root = pools_root()
    if root is None:
        return "unavailable"
    conn = connect_trusted(socket_path(root, python))
    if conn is None:
        return "started" if start_pool(python, env, root, frameworks) else "unavailable"
    request = {"key": key_for(python, env), "prepare": True, "frameworks": list(frameworks)}
    try:
        conn.settimeout(REPLY_TIMEOUT_S)
        conn.sendall(json.dumps(request).encode() + b"\n")
        reply, _rest = _read_reply(conn)
    except (OSError, ValueError):
        return "unavailable"
    finally:
        conn.close()
    if reply.get("error") == "stale":  # settings or packages changed: a new pool
        return "started" if start_pool(python, env, root, frameworks) else "unavailable"
    return "asked" if "prepared" in reply else "unavailable"


class WarmProcess:
    """The forked run as the launcher sees it: what it uses of `subprocess.Popen` (pid,
    returncode, poll, wait). The pool is the child's parent; it reports the exit status on the
    connection. If the pool dies first, the child is watched by pid and its status is the one
    the bootstrap wrote to the result file (SIGKILL's when there is none)."""

    def __init__(self, conn: socket.socket, pid: int, result_file: Path) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._conn: socket.socket | None = conn
        self._buffer = b""
        self._result_file = result_file

    def poll(self) -> int | None:
        if self.returncode is None:
            self._read(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            remaining = 0.5 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                raise subprocess.TimeoutExpired(f"warm run {self.pid}", timeout or 0.0)
            self._read(min(remaining, 0.5))
        return self.returncode

    def _read(self, timeout: float) -> None:
        if self._take_exit():
            return
        conn = self._conn
        if conn is None:
            self._watch_orphan(timeout)
            return
        ready, _, _ = select.select([conn], [], [], timeout)
        if not ready:
            return
        try:
            chunk = conn.recv(4096)
        except OSError:
            chunk = b""
        self._buffer += chunk
        if not self._take_exit() and not chunk:  # the pool is gone: watch the pid instead
            conn.close()
            self._conn = None

    def _take_exit(self) -> bool:
        """Parse the pool's exit message from what was read so far."""
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            with contextlib.suppress(ValueError, TypeError):
                message = json.loads(line)
                if isinstance(message, dict) and "exit" in message:
                    self.returncode = int(message["exit"])
                    if self._conn is not None:
                        self._conn.close()
                        self._conn = None
                    return True
        return False

    def _watch_orphan(self, timeout: float) -> None:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            pass
        except PermissionError:  # the pid was reused by another user's process: it ended
            pass
        else:
            time.sleep(timeout)
            return
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            self.returncode = int(json.loads(self._result_file.read_text())["exit_code"])
            return
        self.returncode = -signal.SIGKILL


def start_warm(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_path: Path,
    result_file: Path,
    frameworks: Sequence[str],
) -> WarmProcess | None:
    """Have the pool for `command[0]` fork `command` (`python bootstrap.py SPEC SCRIPT ARGS`);
    None when the run must be started cold (opted out, no pool yet, stale, untrusted, busy).
    A missing or stale pool is started for the next run."""
    if not warm_enabled(env):
        return None
    root = pools_root()
    if root is None:
        return None
    python = command[0]
    path = socket_path(root, python)
    conn = connect_trusted(path)
    if conn is None:
        start_pool(python, env, root)
        return None
    request = {
        "key": key_for(python, env),
        "args": list(command[2:]),
        "cwd": str(cwd),
        "env": dict(env),
        "log_path": str(log_path),
        "frameworks": list(frameworks),
        "deadline": time.time() + REPLY_TIMEOUT_S - 2.0,
    }
    try:
        conn.settimeout(REPLY_TIMEOUT_S)
        conn.sendall(json.dumps(request).encode() + b"\n")
        reply, rest = _read_reply(conn)
    except (OSError, ValueError):
        conn.close()
        return None
    if "pid" in reply:
        process = WarmProcess(conn, int(str(reply["pid"])), result_file)
        process._buffer = rest  # the exit may have come in the same read
        return process
    conn.close()
    if reply.get("error") == "stale":
        start_pool(python, env, root)
    return None


def _read_reply(conn: socket.socket) -> tuple[dict[str, object], bytes]:
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise ValueError("the pool closed the connection")
        data += chunk
    line, rest = data.split(b"\n", 1)
    reply = json.loads(line)
    if not isinstance(reply, dict):
        raise ValueError("not a reply")
    return reply, rest
