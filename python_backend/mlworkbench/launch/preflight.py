"""Checks made before a run is created, so bad input fails fast with a typed error.

Nothing here imports mlflow: the launcher runs these checks, starts the script, and only then
(in parallel with the script) pays for MLflow. SQLite stores are inspected read-only with the
standard library, so a damaged or foreign database is reported, never modified.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

from mlworkbench.errors import (
    ScriptNotFoundError,
    ScriptOutsideWorkspaceError,
    TrackingStoreCorruptError,
    TrackingStoreReadOnlyError,
    TrackingUnavailableError,
)
from mlworkbench.launch.child.store_open import sqlite_path

CONNECT_TIMEOUT_S = 3.0
_MLFLOW_TABLES = frozenset({"alembic_version", "experiments", "runs"})


def check_script(script: Path, workspace: Path) -> tuple[Path, Path]:
    """The script and workspace, resolved; the script must be a file inside the workspace."""
    resolved_workspace = workspace.resolve()
    if not resolved_workspace.is_dir():
        raise ScriptNotFoundError(workspace, "the workspace folder does not exist")
    resolved = (workspace / script).resolve() if not script.is_absolute() else script.resolve()
    if not resolved.exists():
        raise ScriptNotFoundError(script)
    if not resolved.is_file():
        raise ScriptNotFoundError(script, "it is not a file")
    if not resolved.is_relative_to(resolved_workspace):
        raise ScriptOutsideWorkspaceError(resolved, resolved_workspace)
    return resolved, resolved_workspace


def check_tracking_store(uri: str, workspace: Path) -> None:
    """Raise a typed error if runs cannot be recorded at `uri` (and its local artifacts)."""
    scheme = urlparse(uri).scheme
    db_path = sqlite_path(uri)
    if db_path is not None:
        check_sqlite_store(db_path)
        check_writable(workspace / "mlruns")
    elif scheme in ("http", "https"):
        check_reachable(uri)
    elif scheme in ("", "file"):
        folder = Path(urlparse(uri).path if scheme == "file" else uri)
        check_writable(folder if folder.is_absolute() else workspace / folder)


def check_reachable(uri: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """A TCP connection within `timeout_s`: MLflow's own client retries a dead server for
    minutes, which to a user looks like a hung run."""
    parsed = urlparse(uri)
    host = parsed.hostname or "localhost"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise TrackingUnavailableError(uri, f"{host}:{port}: {reason}") from error


def check_writable(folder: Path) -> None:
    """Create `folder` if needed and write a probe file in it.

    An explicit probe rather than os.access: access() says yes to root on any permission bits,
    and knows nothing of read-only mounts.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".mlworkbench-probe-"):
            pass
    except OSError as error:
        raise TrackingStoreReadOnlyError(folder, error.strerror or str(error)) from error


def check_sqlite_store(path: Path) -> None:
    """Refuse a database file that MLflow would fail on or silently rewrite.

    A missing or empty file is fine (MLflow creates its tables). An existing one must be SQLite
    (header), pass `PRAGMA quick_check`, and either have no tables or carry MLflow's schema
    (its `alembic_version` table). The folder must take new files (SQLite's journal).
    """
    check_writable(path.parent)
    check_sqlite_readable(path, need_write=True)


def check_sqlite_readable(path: Path, *, need_write: bool = False) -> None:
    """The read-only half of `check_sqlite_store`: listing runs must not need write access.

    The file is never opened here except through SQLite. A process's POSIX locks on a file go
    when it closes any descriptor of that file: a plain open()/close() in a process that holds
    an MLflow connection to the store (the language server, a sweep) silently drops SQLite's
    locks, and a run's process can then checkpoint the WAL away under that connection
    ("database disk image is malformed"). SQLite's own opens share its lock bookkeeping and
    defer such closes, so the permission check asks the kernel (`os.access`) and the header
    check is SQLite's.
    """
    if not path.exists():
        return
    if path.is_dir():
        raise TrackingStoreCorruptError(path, "it is a folder, not a database file")
    if not os.access(path, os.R_OK) or (need_write and not os.access(path, os.W_OK)):
        raise TrackingStoreReadOnlyError(path, "Permission denied")
    try:
        if path.stat().st_size == 0:
            return  # SQLite's empty database: MLflow creates its tables
    except OSError as error:
        raise TrackingStoreCorruptError(path, error.strerror or str(error)) from error
    tables, problem = _inspect_read_only(path)
    if problem is not None:
        raise TrackingStoreCorruptError(path, problem)
    user_tables = {t for t in tables if not t.startswith("sqlite_")}
    if user_tables and not user_tables >= _MLFLOW_TABLES:
        raise TrackingStoreCorruptError(
            path, "it is an SQLite database but not an MLflow tracking store"
        )


def _inspect_read_only(path: Path) -> tuple[set[str], str | None]:
    """Table names and the first integrity problem (None when sound), read-only."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=5.0)
    except sqlite3.Error as error:
        return set(), f"SQLite cannot open it ({error})"
    try:
        check = connection.execute("PRAGMA quick_check(1)").fetchone()
        if check is None or check[0] != "ok":
            return set(), f"SQLite's integrity check failed ({check[0] if check else 'no answer'})"
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        tables = {str(row[0]) for row in rows}
        if "alembic_version" in tables:
            revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            if revision is None:
                return tables, "its MLflow schema version is missing"
        return tables, None
    except sqlite3.DatabaseError as error:
        if "not a database" in str(error):
            return set(), "it is not an SQLite database"
        return set(), f"SQLite cannot read it ({error})"
    finally:
        connection.close()


def child_environment(
    base: Mapping[str, str], overrides: Mapping[str, str] | None, tracking_uri: str
) -> dict[str, str]:
    """The script's environment: the caller's, the overrides, and the run's tracking URI.

    The tracking token is passed on (as MLFLOW_TRACKING_TOKEN) only to a run that tracks to the
    token's own server (`tracking_token.child_token_env`).

    MLFLOW_RUN_ID is dropped: the bootstrap owns the run, and MLflow resuming "the env's run"
    in the script's subprocesses would end it early when they exit.
    """
    from mlworkbench.tracking.tracking_token import child_token_env

    # The tracking token only when the run tracks to the server it belongs to.
    env = child_token_env({**base, **(overrides or {})}, tracking_uri)
    env.pop("MLFLOW_RUN_ID", None)
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    env["PYTHONUNBUFFERED"] = "1"  # output reaches the log (and the user) as it is printed
    # MLflow's INFO chatter ("Creating initial MLflow database tables…") is not the script's
    # output; a user who wants it sets the variable themselves.
    env.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    return env
