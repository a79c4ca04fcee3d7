"""MLflow's tables in a PostgreSQL store (a `postgresql://` tracking URI), read with psycopg.

The PostgreSQL twin of store_tables.py, for a workspace whose tracking URI is the database
itself: through MLflow's client the run cache read 100,000 runs in about a minute and kept
1.4 GiB, and the Runs view's first page waited for all of it. The same rules hold: only MLflow's
known alembic revision with every column read, experiments all in the default workspace, and
rows turned into runs exactly as `SqlRun.to_mlflow_entity` does (store_tables._read_runs, shared);
anything else is `Unsupported` (or a psycopg error) and the caller uses MLflow's client. The
connection is read-only (`default_transaction_read_only`), one snapshot per read.

psycopg takes a whole result from the server in one call, so unlike sqlite3 it does not hand
the GIL back per row: plain statements are fine here (store_tables.py explains why that
matters on a cold server).

The caller checks `require_local` first: a database on another host is never contacted in
Restricted Mode.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mlworkbench.explorer.run_listing import (
    RUN_NAME_TAG,
    SCRIPT_TAG,
    TAG_PREFIX,
    RunSummary,
    summary_of,
)
from mlworkbench.explorer.store_tables import (
    KNOWN_REVISIONS,
    NEEDED,
    Point,
    Unsupported,
    _read_runs,
    compared_runs,
    experiment_names,
    page_scope,
)

if TYPE_CHECKING:
    from mlworkbench.explorer.cached_runs import CachedRun

_DRIVER = re.compile(r"^postgresql(\+\w+)?://", re.IGNORECASE)


def is_postgres(tracking_uri: str) -> bool:
    return _DRIVER.match(tracking_uri) is not None


def connect(tracking_uri: str, password: str | None = None) -> Any:
    """A read-only psycopg connection for MLflow's SQLAlchemy URI (`postgresql+psycopg://...`;
    libpq reads its password from the URI, PGPASSWORD or ~/.pgpass as MLflow's driver does,
    or it is `password`: the tracking server's gate holds it apart from the URI)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(_DRIVER.sub("postgresql://", tracking_uri, count=1))
    options = str(params.pop("options", "") or "")
    params["options"] = f"{options} -c default_transaction_read_only=on".strip()
    params.setdefault("connect_timeout", "5")
    if password is not None:
        params["password"] = password
    return psycopg.connect(make_conninfo(**params))  # type: ignore[arg-type]


def check_schema(connection: Any) -> dict[str, tuple[str, str]]:
    """Every experiment ({id: (name, lifecycle stage)}) once the revision and the columns are
    the ones read here; else Unsupported (store_tables.check_schema's rules)."""
    row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    if row is None or row[0] not in KNOWN_REVISIONS:
        raise Unsupported(f"schema revision {None if row is None else row[0]}")
    found: dict[str, set[str]] = {table: set() for table in NEEDED}
    for table, column in connection.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
        [list(NEEDED)],
    ):
        found[table].add(column)
    for table, names in found.items():
        if not NEEDED[table] <= names:
            raise Unsupported(f"{table} lacks {sorted(NEEDED[table] - names)}")
    (others,) = connection.execute(
        "SELECT COUNT(*) FROM experiments WHERE workspace <> 'default'"
    ).fetchone()
    if others:
        raise Unsupported("experiments outside MLflow's default workspace")
    experiments: dict[str, tuple[str, str]] = {}
    for experiment_id, name, stage in connection.execute(
        "SELECT experiment_id, name, lifecycle_stage FROM experiments"
    ):
        if not isinstance(experiment_id, int) or not isinstance(name, str):
            raise Unsupported("an experiment row MLflow would not read")
        experiments[str(experiment_id)] = (name, str(stage))
    return experiments


def _snapshot(connection: Any) -> None:
    connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")


@contextlib.contextmanager
def snapshot(tracking_uri: str, password: str | None = None) -> Iterator[tuple[Any, str]]:
    """A read-only connection in one REPEATABLE READ snapshot, and that snapshot's identity
    (`pg_current_snapshot()`: xmin, xmax and the transactions in progress).

    Why the identity: two snapshots that print the same see the same committed data (a
    transaction that committed between them would be in progress in the first and not in
    the second; a new one would move xmax), so an answer read in one is the answer in the
    other. The tracking server's gate keeps its last answers by it (first_page_route.py).
    """
    with connect(tracking_uri, password) as connection:
        _snapshot(connection)
        (seen,) = connection.execute("SELECT pg_current_snapshot()::text").fetchone()
        yield connection, str(seen)


def read_store(
    tracking_uri: str, password: str | None = None
) -> tuple[dict[str, tuple[str, str]], list[CachedRun]]:
    """(experiments, runs) as the run cache keeps them (store_tables.read_store's answer).
    `password`: as `connect`'s."""
    with connect(tracking_uri, password) as connection:
        _snapshot(connection)
        experiments = check_schema(connection)
        return experiments, _read_runs(connection, experiments, mark="%s")


def read_runs(
    tracking_uri: str, run_ids: list[str], password: str | None = None
) -> tuple[dict[str, tuple[str, str]], list[CachedRun]]:
    """`read_store` for these run ids only (the cache's check against MLflow)."""
    with connect(tracking_uri, password) as connection:
        _snapshot(connection)
        experiments = check_schema(connection)
        return experiments, _read_runs(connection, experiments, run_ids, mark="%s")


def first_page(
    tracking_uri: str,
    *,
    experiment_id: str | None,
    offset: int,
    limit: int,
    deleted: bool,
    password: str | None = None,
) -> tuple[list[RunSummary], int, list[str]]:
    """(runs, total, scripts) of the default-order page, as first_page.py reads a SQLite file.
    Raises Unsupported or a psycopg error (the caller then asks the cache). `password`: as
    `connect`'s (a tracking server's gate holds it apart from the URI)."""
    with connect(tracking_uri, password) as connection:
        _snapshot(connection)
        return first_page_in(
            connection, experiment_id=experiment_id, offset=offset, limit=limit, deleted=deleted
        )


def first_page_in(
    connection: Any, *, experiment_id: str | None, offset: int, limit: int, deleted: bool
) -> tuple[list[RunSummary], int, list[str]]:
    """`first_page` in a snapshot already open (`snapshot`)."""
    experiments = check_schema(connection)
    scope = [int(i) for i in page_scope(experiments, experiment_id)]
    if not scope:
        return [], 0, []
    stage = "deleted" if deleted else "active"
    where = "r.experiment_id = ANY(%s) AND r.lifecycle_stage = %s"
    (total,) = connection.execute(
        f"SELECT COUNT(*) FROM runs r WHERE {where}",  # noqa: S608 - placeholders only
        [scope, stage],
    ).fetchone()
    scripts = sorted(
        value
        for (value,) in connection.execute(
            "SELECT DISTINCT t.value FROM tags t JOIN runs r ON r.run_uuid = t.run_uuid "  # noqa: S608 - placeholders only
            f"WHERE t.key = %s AND t.value <> '' AND {where}",
            [SCRIPT_TAG, scope, stage],
        )
        if value is not None
    )
    # MLflow's default order as the cache sorts it: NULL start times last, run ids by code
    # point (COLLATE "C"; the database's collation may order text otherwise).
    rows = connection.execute(
        "SELECT r.run_uuid, r.name, r.status, r.start_time, r.end_time, r.experiment_id "  # noqa: S608 - placeholders only
        f"FROM runs r WHERE {where} "
        'ORDER BY r.start_time DESC NULLS LAST, r.run_uuid COLLATE "C" LIMIT %s OFFSET %s',
        [scope, stage, limit, offset],
    ).fetchall()
    ids = [row[0] for row in rows]
    metrics = _by_run(
        connection,
        "SELECT run_uuid, key, value FROM latest_metrics WHERE NOT is_nan AND run_uuid = ANY(%s)",
        [ids],
    )
    params = _by_run(
        connection, "SELECT run_uuid, key, value FROM params WHERE run_uuid = ANY(%s)", [ids]
    )
    tags = _by_run(
        connection,
        "SELECT run_uuid, key, value FROM tags WHERE run_uuid = ANY(%s) "
        "AND (starts_with(key, %s) OR key = %s)",
        [ids, TAG_PREFIX, RUN_NAME_TAG],
    )
    runs = [
        summary_of(
            run_id=run_id,
            experiment_id=str(experiment),
            experiment_name=experiments.get(str(experiment), (str(experiment), ""))[0],
            run_name=None if name is None else str(name),
            status=status,
            start_time=start,
            end_time=end,
            metrics={k: _number(v) for k, v in metrics.get(run_id, {}).items()},
            params={k: str(v) for k, v in params.get(run_id, {}).items()},
            tags={k: _optional(v) for k, v in tags.get(run_id, {}).items()},
        )
        for run_id, name, status, start, end, experiment in rows
    ]
    runs.sort(key=lambda r: (r.start_time is None, -(r.start_time or 0), r.run_id))
    return runs, int(total), scripts


def experiments(tracking_uri: str, password: str | None = None) -> list[tuple[str, str, str, int]]:
    """(id, name, lifecycle stage, active run count) of every experiment (first_page.py's)."""
    with connect(tracking_uri, password) as connection:
        _snapshot(connection)
        return experiments_in(connection)


def experiments_in(connection: Any) -> list[tuple[str, str, str, int]]:
    """`experiments` in a snapshot already open (`snapshot`)."""
    found = check_schema(connection)
    counts = dict(
        connection.execute(
            "SELECT experiment_id, COUNT(*) FROM runs WHERE lifecycle_stage = 'active' "
            "AND experiment_id IS NOT NULL GROUP BY experiment_id"
        ).fetchall()
    )
    return [(i, name, stage, int(counts.get(int(i), 0))) for i, (name, stage) in found.items()]


def _by_run(connection: Any, sql: str, params: list[object]) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    for run_id, key, value in connection.execute(sql, params):
        found.setdefault(run_id, {})[key] = value
    return found


def _number(value: object) -> float:
    if isinstance(value, float):
        return value
    raise Unsupported(f"a metric value is {type(value).__name__}")


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


def read_compared(
    tracking_uri: str,
    run_ids: list[str],
    metric_keys: list[str] | None,
    *,
    password: str | None = None,
) -> tuple[list[CachedRun], dict[str, str], dict[tuple[str, str], list[Point]]] | None:
    """store_tables.read_compared's answer from a PostgreSQL store: (runs in order, experiment
    names, histories by (run id, key)) in one snapshot; None when a run is not one it lists
    (MLflow's path then answers, or raises its error)."""
    with connect(tracking_uri, password) as connection:
        _snapshot(connection)
        experiments = check_schema(connection)
        compared = compared_runs(
            _read_runs(connection, experiments, run_ids, mark="%s"), run_ids, metric_keys
        )
        if compared is None:
            return None
        runs, keys = compared
        # One row per history, its columns as arrays in binary: 30,000 points row by row cost
        # 0.1 s of psycopg's per-row work and a Python append each (0.2 s in all). Sorted here,
        # not by the aggregates (four sorts per history there: 0.03 s more).
        histories = {}
        if keys:
            cursor = connection.cursor(binary=True).execute(_HISTORIES, [run_ids, keys])
            _check_history_types(cursor.description)
            histories = dict(map(_history, cursor.fetchall()))
    return runs, experiment_names(runs, experiments), histories


_HISTORIES = (
    "SELECT run_uuid, key, array_agg(step), array_agg(timestamp), array_agg(value), "
    "array_agg(is_nan) FROM metrics WHERE run_uuid = ANY(%s) AND key = ANY(%s) "
    "GROUP BY run_uuid, key"
)
# The arrays' element types (pg_type names): what a binary cursor reads as int, float, bool.
_HISTORY_ARRAYS = ("int8", "int8", "float8", "bool")


def _check_history_types(description: Any) -> None:
    """Unsupported unless the aggregated columns are the types MLflow's schema gives them:
    then every element is read as a Python int, float or bool, and none is checked alone."""
    from psycopg.postgres import types as known

    for column, name in zip(description[2:], _HISTORY_ARRAYS, strict=True):
        info = known.get(name)
        if info is None or column.type_code != info.array_oid:
            raise Unsupported(f"a metric history column of type {column.type_code}")


def _history(row: tuple[Any, ...]) -> tuple[tuple[str, str], list[Point]]:
    """((run id, key), points) of one aggregated row, in MLflow's order (timestamp, step,
    value) then the comparison's stable sort by step and timestamp: together step, timestamp,
    value (a NaN row at its stored value: MLflow stores 0)."""
    run_id, key, steps, stamps, values, flags = row
    if None in steps or None in stamps or None in values or None in flags:
        raise Unsupported("a metric history with a missing step, timestamp or value")
    nan = float("nan")
    ordered = sorted(zip(steps, stamps, values, flags, strict=True))
    return (run_id, key), [
        (step, stamp, nan if flag else value) for step, stamp, value, flag in ordered
    ]
