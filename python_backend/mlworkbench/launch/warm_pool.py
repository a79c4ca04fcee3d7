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

The pool process and the fork path are not here yet; until they are, every run is served cold.
Stdlib only: the language server imports this module at start.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import stat
import struct
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from mlworkbench import __version__
from mlworkbench.launch.child.private_folder import folder_problem

WARM_ENV = "MLWORKBENCH_WARM"
"""Opt-out switch: `MLWORKBENCH_WARM=0` (the setting `mlWorkbench.runs.warmPool` passes it)."""

KEY_ENV_PREFIXES = ("MLFLOW_", "MLWORKBENCH_", "PYTHON")
"""Environment variables that change what a preloaded child would import or where it logs."""


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


def peer_uid(conn: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED), or None where
    the platform has no such option (then the caller must not trust the peer)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None or not sys.platform.startswith("linux"):
        return None
    raw = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


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
