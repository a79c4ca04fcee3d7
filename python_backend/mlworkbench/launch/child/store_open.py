"""Open the tracking store and create the run, from inside the script's process.

The run is created here rather than in the launcher so that the launcher never has to import
mlflow before the script starts: the two imports then overlap instead of adding up. The
launcher has already refused stores that are missing, corrupt or read-only (preflight); what
is left for this side is what only MLflow itself can judge.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .private_folder import folder_problem
from .retry import call_with_retry

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

DEFAULT_EXPERIMENT = "Default"


class StoreOpenError(Exception):
    """Opening the store or creating the run failed; `kind` tells the launcher which typed
    error to raise (see launcher._raise_start_failure)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class StoreTooNewError(StoreOpenError):
    """The database's schema revision is unknown to this MLflow: a newer MLflow wrote it."""

    def __init__(self, path: Path, revision: str) -> None:
        super().__init__(
            "store_too_new",
            f"{path} was written by a newer MLflow (schema revision {revision} is unknown to "
            "this one); upgrade mlflow in the selected interpreter, or use another store",
        )
        self.revision = revision


@dataclass(frozen=True)
class OpenedRun:
    run_id: str
    experiment_id: str


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI; None for other stores or in-memory ones."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    path = tracking_uri[len(prefix) :].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def lock_folder() -> Path:
    """A folder only this user can write in, for the store locks.

    `$XDG_RUNTIME_DIR` when it is such a folder, else `<temp>/mlworkbench-<uid>`, created 0700.
    A fixed name straight in the shared temp folder would let another local user create the
    lock first (and hold it), or plant a symlink there to make us create files elsewhere.
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and folder_problem(Path(runtime)) is None:
        return Path(runtime)
    folder = Path(tempfile.gettempdir()) / f"mlworkbench-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as error:
        raise StoreOpenError("store_lock", f"cannot create {folder}: {error}") from error
    problem = folder_problem(folder)
    if problem is not None:
        raise StoreOpenError(
            "store_lock",
            f"refusing to use {folder} for the run's store lock: {problem}; another user may "
            "have created it. Remove it, or set TMPDIR to a folder only you can write to",
        )
    return folder


def lock_path(tracking_uri: str) -> Path:
    digest = hashlib.sha256(tracking_uri.encode()).hexdigest()[:16]
    return lock_folder() / f"mlworkbench-store-{digest}.lock"


@contextmanager
def store_lock(tracking_uri: str) -> Iterator[None]:
    """Serialise store creation and run creation between runs started at the same moment.

    Two processes opening a fresh SQLite file at once would both run MLflow's table creation
    and migrations; the loser fails half-way. The lock lives in a private folder of this user
    (`lock_folder`), not next to the database, so nothing extra appears in the user's workspace.
    """
    path = lock_path(tracking_uri)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise StoreOpenError("store_lock", f"cannot open the store lock {path}: {error}") from error
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _table_names(path: Path) -> set[str]:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    with sqlite3.connect(uri, uri=True) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
    connection.close()
    return {str(row[0]) for row in rows}


def refuse_silent_migration(path: Path) -> None:
    """Raise if MLflow would migrate this existing database while opening it.

    MLflow creates missing tables and then upgrades the schema whenever one of its ORM tables
    is absent, e.g. for a database written by an older MLflow. That rewrites the user's store
    without asking; `mlflow db upgrade` after a backup is the user's call, not ours.
    """
    if not path.exists() or path.stat().st_size == 0:
        return
    tables = {name for name in _table_names(path) if not name.startswith("alembic_")}
    if not tables:
        return  # an empty database: creating MLflow's tables loses nothing
    import mlflow.store.db.utils  # noqa: F401 - imports every ORM model, filling Base.metadata
    from mlflow.store.db.base_sql_model import Base

    missing = sorted(set(Base.metadata.tables) - tables)
    if missing:
        raise StoreOpenError(
            "store_schema",
            f"{path} was written by another MLflow version (tables {', '.join(missing[:5])} are "
            "missing); back it up and run 'mlflow db upgrade' on it, or use another store",
        )
    revision = _schema_revision(path)
    if revision is not None and revision not in _known_revisions():
        # MLflow would only say "out-of-date schema, run mlflow db upgrade", which cannot help.
        raise StoreTooNewError(path, revision)


def _schema_revision(path: Path) -> str | None:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    with sqlite3.connect(uri, uri=True) as connection:
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:  # no alembic_version table
            row = None
    connection.close()
    return None if row is None else str(row[0])


@functools.lru_cache(maxsize=1)
def _known_revisions() -> frozenset[str]:
    """Every schema revision this MLflow's migrations know (alembic reads its script folder)."""
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    config = _get_alembic_config(db_url="")  # type: ignore[no-untyped-call]
    script = ScriptDirectory.from_config(config)
    return frozenset(revision.revision for revision in script.walk_revisions())


def enable_wal(path: Path) -> None:
    """Let readers (the editor's run list) work while a run writes; best effort, since a
    database another process holds open cannot switch journal mode right now."""
    try:
        with sqlite3.connect(path, timeout=1.0) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
        connection.close()
    except sqlite3.Error:
        pass


def create_experiment(client: MlflowClient, name: str) -> str:
    """Create experiment `name`; its id.

    MLflow roots a new experiment of a local store in `./mlruns` of the process's working
    directory, so the CLI run from elsewhere, or the language server, would write the
    workspace's artifacts into another folder. A SQLite store's experiments go to
    `<folder of the database>/mlruns/<experiment id>` instead, as they would for a process
    started in that folder.
    """
    path = sqlite_path(str(client.tracking_uri))
    if path is None:
        return str(client.create_experiment(name))
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    root = str(path.resolve().parent / "mlruns")
    store = SqlAlchemyStore(str(client.tracking_uri), root)  # type: ignore[no-untyped-call]
    return str(store.create_experiment(name))  # type: ignore[no-untyped-call]


def create_if_missing(tracking_uri: str, name: str) -> None:
    """Before `mlflow.set_experiment(name)`: create a missing experiment where
    `create_experiment` puts it (set_experiment would root it in the working directory)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    if client.get_experiment_by_name(name) is None:
        with contextlib.suppress(MlflowException):  # another process created it meanwhile
            create_experiment(client, name)


def resolve_experiment(client: MlflowClient, name: str | None) -> str:
    """The id of experiment `name` (MLflow's "Default" when None), created when missing.

    A created experiment gets MLflow's default artifact location, `<root>/<experiment id>`,
    with the root `mlruns/` beside a local store's database (`create_experiment`), whatever
    folder this process runs in: the layout `mlflow ui` in the workspace uses too.
    """
    from mlflow.exceptions import MlflowException

    wanted = name or DEFAULT_EXPERIMENT
    for _ in range(2):
        experiment = call_with_retry(lambda: client.get_experiment_by_name(wanted))
        if experiment is not None:
            if experiment.lifecycle_stage != "active":
                raise StoreOpenError(
                    "experiment_deleted",
                    f"experiment '{wanted}' is deleted; restore it (mlflow experiments restore) "
                    "or choose another experiment name",
                )
            return str(experiment.experiment_id)
        try:
            return call_with_retry(lambda: create_experiment(client, wanted))
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            # Another run created it between our lookup and our create: look it up again.
    raise StoreOpenError("store", f"experiment '{wanted}' could not be created or found")


def open_run(
    tracking_uri: str,
    experiment: str | None,
    run_name: str | None,
    tags: Mapping[str, str],
) -> OpenedRun:
    """Create the run (active in this process, via mlflow.start_run) and return its ids."""
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    db_path = sqlite_path(tracking_uri)
    with store_lock(tracking_uri):
        if db_path is not None:
            refuse_silent_migration(db_path)
        client = MlflowClient(tracking_uri)
        if db_path is not None:
            enable_wal(db_path)
        experiment_id = resolve_experiment(client, experiment)
        active = call_with_retry(
            lambda: mlflow.start_run(
                experiment_id=experiment_id, run_name=run_name, tags=dict(tags)
            )
        )
    return OpenedRun(active.info.run_id, experiment_id)
