"""MLflow's own tables in a SQLite store, read with the standard library for a schema we know.

Why: MLflow's client materialises an ORM object per run, metric, param and tag; reading 100,000
runs that way took about a minute and left 1.5 GiB behind. The rows themselves come out of
SQLite in about a second. Two readers use this module: `first_page` (the Runs view's default
page on a cold server, before MLflow is even imported) and the run cache's whole read
(`read_store`), which the cache then checks against MLflow's own answers for a sample.

Only a store this module can read exactly is read: the alembic revision must be one listed in
KNOWN_REVISIONS (a test checks it against this MLflow's migration head), every column read must
be there, and experiments must all be in MLflow's default workspace (what a store without
workspaces answers for). Anything else raises `Unsupported`, and the caller uses MLflow.

What a run reads back as is what `SqlRun.to_mlflow_entity` makes of its rows: latest metrics
(NaN where `is_nan`), every param and tag, the name column or else the `mlflow.runName` tag;
runs of the store's experiments in the stages MLflow lists ('active', 'deleted').

Statements are few and return few rows on purpose: sqlite3 hands the GIL back and forth on
every row it steps, and on a cold server another thread is importing MLflow meanwhile, so a
page read row by row waited for the GIL hundreds of times (1.9 s instead of 0.1 s).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlworkbench.explorer.run_listing import RUN_NAME_TAG

if TYPE_CHECKING:
    from mlworkbench.explorer.cached_runs import CachedRun

# MLflow's schema revisions whose runs/metrics/params/tags tables this module reads as is.
KNOWN_REVISIONS = frozenset({"dc11669786a5"})  # MLflow 3.17's head
_LISTED_STAGES = ("active", "deleted")  # ViewType.ALL: runs in another stage are never listed
NEEDED = {
    "runs": {
        "run_uuid", "name", "status", "start_time", "end_time", "lifecycle_stage",
        "experiment_id", "user_id", "artifact_uri",
    },
    "experiments": {"experiment_id", "name", "lifecycle_stage"},
    "latest_metrics": {"key", "value", "is_nan", "run_uuid"},
    "params": {"key", "value", "run_uuid"},
    "tags": {"key", "value", "run_uuid"},
}  # fmt: skip


class Unsupported(Exception):
    """The store is not one this module reads exactly: the caller uses MLflow (or the cache)."""


def connect_readonly(db: Path) -> sqlite3.Connection:
    """A read-only connection (never creates the file); sqlite3.Error when it cannot open."""
    return sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=0.5)


def check_schema(connection: sqlite3.Connection) -> dict[str, tuple[str, str]]:
    """Every experiment ({id: (name, lifecycle stage)}) once the store's revision and columns
    are the ones this module reads; else Unsupported. One statement (the tables' columns come
    through `pragma_table_info`): each one is a GIL handoff on a cold server.

    A store whose experiments are not all in MLflow's default workspace is Unsupported too:
    MLflow refuses to open it. (Every known revision has the workspace column; a store without
    it fails the statement, sqlite3.Error, and the caller falls back as for Unsupported.)
    """
    tables = list(NEEDED)
    columns = ", ".join(
        f"(SELECT group_concat(name, char(31)) FROM pragma_table_info('{table}'))"  # noqa: S608 - our names
        for table in tables
    )
    row = connection.execute(
        f"SELECT (SELECT version_num FROM alembic_version), {columns}, "  # noqa: S608 - our names
        "(SELECT json_group_array(json_array(experiment_id, name, lifecycle_stage)) "
        "FROM experiments), "
        "(SELECT COUNT(*) FROM experiments WHERE workspace != 'default')"
    ).fetchone()
    if row is None or row[0] not in KNOWN_REVISIONS:
        raise Unsupported(f"schema revision {None if row is None else row[0]}")
    found = {
        table: set((names or "").split("\x1f"))
        for table, names in zip(tables, row[1 : 1 + len(tables)], strict=True)
    }
    for table, names in found.items():
        if not NEEDED[table] <= names:
            raise Unsupported(f"{table} lacks {sorted(NEEDED[table] - names)}")
    experiments_json, other_workspaces = row[1 + len(tables) :]
    if other_workspaces != 0:
        raise Unsupported("experiments outside MLflow's default workspace")
    experiments: dict[str, tuple[str, str]] = {}
    for experiment_id, name, stage in json.loads(_text(experiments_json)):
        if not isinstance(experiment_id, int) or not isinstance(name, str):
            raise Unsupported("an experiment row MLflow would not read")
        experiments[str(experiment_id)] = (name, str(stage))
    return experiments


def read_store(db: Path) -> tuple[dict[str, tuple[str, str]], list[CachedRun]]:
    """(experiments, runs) as the run cache keeps them, read whole from the tables.

    Raises Unsupported (a schema this module does not know) or sqlite3.Error.
    """
    connection = connect_readonly(db)
    try:
        # One snapshot: the reads below see the same committed state (WAL readers do).
        connection.execute("BEGIN")
        experiments = check_schema(connection)
        runs = _read_runs(connection, experiments)
        connection.execute("COMMIT")
        return experiments, runs
    finally:
        connection.close()


def read_runs(db: Path, run_ids: list[str]) -> tuple[dict[str, tuple[str, str]], list[CachedRun]]:
    """(experiments, runs) of `read_store`, for these run ids only (ids it does not list are
    left out): what the cache checks a sample of its first table read with, against MLflow."""
    connection = connect_readonly(db)
    try:
        connection.execute("BEGIN")
        experiments = check_schema(connection)
        runs = []
        for start in range(0, len(run_ids), _ID_BATCH):
            runs += _read_runs(connection, experiments, run_ids[start : start + _ID_BATCH])
        connection.execute("COMMIT")
        return experiments, runs
    finally:
        connection.close()


_ID_BATCH = 500  # run ids per IN (...): under SQLite's parameter limit


def _read_runs(
    connection: Any,
    experiments: dict[str, tuple[str, str]],
    run_ids: list[str] | None = None,
    mark: str = "?",
) -> list[CachedRun]:
    """The runs (of `run_ids`, else all) as `read_store` keeps them, through any DB-API
    connection with an `execute` (sqlite3's; psycopg's, `mark` "%s", in pg_tables.py): the
    statements are plain SQL both read alike."""
    from mlworkbench.explorer.cached_runs import CachedRun

    intern = sys.intern
    known = {int(i) for i in experiments}
    only, ids = "", []
    if run_ids is not None:
        only, ids = f" AND run_uuid IN ({', '.join(mark for _ in run_ids)})", list(run_ids)
    rows = connection.execute(
        "SELECT run_uuid, name, status, start_time, end_time, user_id, artifact_uri, "  # noqa: S608 - placeholders only
        f"lifecycle_stage, experiment_id FROM runs WHERE lifecycle_stage IN ({mark}, {mark}){only}",
        [*_LISTED_STAGES, *ids],
    ).fetchall()
    where = f" WHERE {only.removeprefix(' AND ')}" if only else ""
    metrics: dict[str, dict[str, float]] = {}
    params: dict[str, dict[str, str]] = {}
    tags: dict[str, dict[str, str]] = {}
    values: dict[object, object] = {}  # one object per distinct param/tag value (memory)
    keys: dict[object, str] = {}
    nan = float("nan")
    # The loops below run a million times for 100,000 runs: no call or allocation per row
    # that can be avoided (a key is interned once, a run's dict made once, a value shared).
    for run_id, key, value, is_nan in connection.execute(
        f"SELECT run_uuid, key, value, is_nan FROM latest_metrics{where}",  # noqa: S608 - placeholders only
        ids,
    ):
        name = keys.get(key)
        if name is None:
            name = keys[key] = intern(_text(key))
        into_run = metrics.get(run_id)
        if into_run is None:
            into_run = metrics[run_id] = {}
        if is_nan:
            into_run[name] = nan
        elif value.__class__ is float:
            into_run[name] = value
        else:
            into_run[name] = _float(value)
    for table, into in (("params", params), ("tags", tags)):
        for run_id, key, value in connection.execute(
            f"SELECT run_uuid, key, value FROM {table}{where}",  # noqa: S608 - our table names
            ids,
        ):
            name = keys.get(key)
            if name is None:
                name = keys[key] = intern(_text(key))
            if value.__class__ is not str and value is not None:
                raise Unsupported(f"a {table} value is {type(value).__name__}")
            run_values = into.get(run_id)
            if run_values is None:
                run_values = into[run_id] = {}
            shared = values.get(value)
            if shared is None:
                shared = values[value] = value
            run_values[name] = shared  # type: ignore[assignment]
    runs = []
    stages = {stage: stage for stage in _LISTED_STAGES}
    statuses: dict[object, object] = {}
    for run_id, name, status, start, end, user, artifact_uri, stage, experiment in rows:
        if experiment not in known:
            continue  # not in any experiment MLflow lists: search_runs never returns it
        run_tags = tags.get(run_id, {})
        if not name and (tagged := run_tags.get(RUN_NAME_TAG)):
            name = tagged  # MLflow's to_mlflow_entity: the tag names runs without a name
        runs.append(
            CachedRun(
                run_id=_text(run_id),
                experiment_id=str(experiment),
                run_name=name,
                status=statuses.setdefault(status, status),  # type: ignore[arg-type]
                start_time=_int(start),
                end_time=_int(end),
                user_id=values.setdefault(user, user),  # type: ignore[arg-type]
                artifact_uri=artifact_uri,
                lifecycle_stage=stages[stage],
                metrics=metrics.get(run_id, {}),
                params=params.get(run_id, {}),
                tags=run_tags,
            )
        )
    return runs


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise Unsupported(f"a text column holds {type(value).__name__}")
    return value


def _float(value: object) -> float:
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    raise Unsupported(f"a metric value is {type(value).__name__}")


def _int(value: object) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise Unsupported(f"a time column holds {type(value).__name__}")


# --- a comparison's runs and histories -------------------------------------------------------

# One point of a history: (step, timestamp, value), NaN as float("nan") as MLflow returns it.
Point = tuple[int, int, float]


def read_compared(
    db: Path, run_ids: list[str], metric_keys: list[str] | None
) -> tuple[list[CachedRun], dict[str, str], dict[tuple[str, str], list[Point]]] | None:
    """(runs in `run_ids`' order, experiment names by id, histories by (run id, key)) as
    MLflow's `get_run`, `get_experiment` and `get_metric_history` answer them, read in one
    snapshot; None when a run is unknown (MLflow's path then raises its error). Histories of
    every latest metric of each run (or only `metric_keys`), in MLflow's order: step, then
    timestamp, then value. Raises Unsupported or sqlite3.Error.

    Each statement returns one row (see the module's note on the GIL): 30,000 points as one
    row per history took 0.2 s while another thread was busy, row by row 56 s.
    """
    from mlworkbench.explorer.cached_runs import CachedRun

    connection = connect_readonly(db)
    try:
        connection.execute("BEGIN")
        experiments = check_schema(connection)
        marks = ", ".join("?" for _ in run_ids)
        (text,) = connection.execute(
            "SELECT json_group_array(json_array(r.run_uuid, r.name, r.status, r.start_time, "  # noqa: S608 - placeholders only
            "r.end_time, r.user_id, r.artifact_uri, r.lifecycle_stage, r.experiment_id, "
            "json((SELECT json_group_array(json_array(m.key, quote(m.value), m.is_nan)) "
            "FROM latest_metrics m WHERE m.run_uuid = r.run_uuid)), "
            "json((SELECT json_group_array(json_array(p.key, p.value)) FROM params p "
            "WHERE p.run_uuid = r.run_uuid)), "
            "json((SELECT json_group_array(json_array(t.key, t.value)) FROM tags t "
            "WHERE t.run_uuid = r.run_uuid)))) "
            f"FROM runs r WHERE r.run_uuid IN ({marks})",
            run_ids,
        ).fetchone()
        compared = compared_runs(
            [_compared_run(row, CachedRun) for row in json.loads(text)], run_ids, metric_keys
        )
        if compared is None:
            return None
        runs, keys = compared
        histories = _read_histories(connection, run_ids, keys) if keys else {}
        connection.execute("COMMIT")
    finally:
        connection.close()
    return runs, experiment_names(runs, experiments), histories


def compared_runs(
    read: list[CachedRun], run_ids: list[str], metric_keys: list[str] | None
) -> tuple[list[CachedRun], list[str]] | None:
    """A comparison's runs in `run_ids`' order and the keys of the histories it reads (every
    latest metric of the runs, or only `metric_keys`); None when a run was not read (unknown,
    or not one MLflow lists: its own path then answers)."""
    found = {run.run_id: run for run in read}
    if any(run_id not in found for run_id in run_ids):
        return None
    runs = [found[run_id] for run_id in run_ids]
    keys = sorted({k for run in runs for k in run.metrics})
    if metric_keys is not None:
        keys = [k for k in keys if k in set(metric_keys)]
    return runs, keys


def experiment_names(
    runs: list[CachedRun], experiments: dict[str, tuple[str, str]]
) -> dict[str, str]:
    """{experiment id: name} of the runs' experiments."""
    return {run.experiment_id: experiments[run.experiment_id][0] for run in runs}


def page_scope(experiments: dict[str, tuple[str, str]], experiment_id: str | None) -> list[str]:
    """The experiments a Runs view page lists: `experiment_id` (Unsupported when it is unknown
    or deleted: the cache raises its own error for it), else every active one."""
    if experiment_id is not None:
        if experiments.get(experiment_id, ("", ""))[1] != "active":
            raise Unsupported("unknown or deleted experiment")
        return [experiment_id]
    return [i for i, (_, stage) in experiments.items() if stage == "active"]


def _compared_run(row: list[object], make: type[CachedRun]) -> CachedRun:
    run_id, name, status, start, end, user, artifact_uri, stage, experiment = row[:9]
    metric_rows, param_rows, tag_rows = row[9:]
    nan = float("nan")
    metrics = {
        _text(k): nan if is_nan else _quoted_float(v)
        for k, v, is_nan in metric_rows  # type: ignore[attr-defined]
    }
    params = {_text(k): _text(v) for k, v in param_rows}  # type: ignore[attr-defined]
    tags = {_text(k): _optional_text(v) for k, v in tag_rows}  # type: ignore[attr-defined]
    if not name and (tagged := tags.get(RUN_NAME_TAG)):
        name = tagged
    return make(
        run_id=_text(run_id),
        experiment_id=str(experiment),
        run_name=_optional_text(name),
        status=_optional_text(status),  # type: ignore[arg-type]
        start_time=_int(start),
        end_time=_int(end),
        user_id=_optional_text(user),
        artifact_uri=_optional_text(artifact_uri),
        lifecycle_stage=_optional_text(stage),  # type: ignore[arg-type]
        metrics=metrics,
        params=params,
        tags=tags,  # type: ignore[arg-type]
    )


def _read_histories(
    connection: sqlite3.Connection, run_ids: list[str], keys: list[str]
) -> dict[tuple[str, str], list[Point]]:
    """Every (run, key) history, one JSON row for all: per history its steps, timestamps,
    quoted values and NaN flags as comma-joined columns (aggregated over the same rows, so
    position i of each is one point). `+key` keeps SQLite on the run id index: through the
    key index it would walk that key's history in every run of the store."""
    run_marks = ", ".join("?" for _ in run_ids)
    key_marks = ", ".join("?" for _ in keys)
    (text,) = connection.execute(
        "SELECT json_group_array(json_array(run_uuid, key, s, ts, v, n)) FROM ("  # noqa: S608 - placeholders only
        "SELECT run_uuid, key, group_concat(step) AS s, group_concat(timestamp) AS ts, "
        "group_concat(quote(value)) AS v, group_concat(is_nan) AS n, COUNT(*) AS points "
        f"FROM metrics WHERE run_uuid IN ({run_marks}) AND +key IN ({key_marks}) "
        "GROUP BY run_uuid, key)",
        [*run_ids, *keys],
    ).fetchone()
    nan = float("nan")
    found: dict[tuple[str, str], list[Point]] = {}
    for run_id, key, steps, stamps, values, nans in json.loads(text):
        step_list = list(map(int, _text(steps).split(",")))
        stamp_list = list(map(int, _text(stamps).split(",")))
        # float() refuses what quote() writes for anything but a number ('text', X'..', NULL)
        value_list = list(map(float, _text(values).split(",")))
        nan_list = _text(nans).split(",")
        if not len(step_list) == len(stamp_list) == len(value_list) == len(nan_list):
            raise Unsupported("a history with NULL columns")
        # MLflow orders by timestamp, step, value; the comparison by step then timestamp
        # (stable): together step, timestamp, value, with NaN rows at their stored value.
        points = sorted(zip(step_list, stamp_list, value_list, nan_list, strict=True))
        found[(_text(run_id), _text(key))] = [
            (step, stamp, nan if flag != "0" else value) for step, stamp, value, flag in points
        ]
    return found


def _quoted_float(quoted: object) -> float:
    """A value `quote()` wrote for a REAL column ('1.5', '1.00000000000000002082e-01')."""
    if not isinstance(quoted, str) or quoted.startswith(("'", "X'", "NULL")):
        raise Unsupported(f"a metric value quoted as {quoted!r}")
    return float(quoted)


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)
