"""The Runs view's first pages straight from a SQLite store's tables, while the run cache loads.

Why: the summary cache reads the whole store through MLflow's client before it can answer
(7.8 s for 10,000 runs, minutes for 100,000), and a view opened on a cold server would wait for
all of it. The view's default page (newest first, no filter) needs only the top rows of the
`runs` table, which SQLite sorts in milliseconds, plus the metrics, params and tags of those
rows: read here with the standard library's `sqlite3` (read-only, no MLflow import), the page
comes back at once and is marked `loading` while the cache fills in the background.

The page must be exactly what the cache (and so `search_runs`) would answer. It reads MLflow's
own tables, so it is used only for a schema it knows: the alembic revision must be one listed
in KNOWN_REVISIONS (a test checks it against this MLflow's migration head) and every column it
reads must be there; any surprise (another revision, a missing column, a locked or corrupt
file, an experiment that is unknown or deleted, several MLflow workspaces) answers None and the
caller falls back to the cache, which reports errors the usual way. Filters and other orders
are left to the cache: their semantics (NaN, collation, missing keys) live in `cached_runs`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from mlworkbench.explorer.run_listing import (
    TAG_PREFIX,
    RunSummary,
    int_or_none,
    json_safe_metrics,
    primary_metric,
)

if TYPE_CHECKING:
    from mlworkbench.explorer.run_cache import RunPage

# MLflow's schema revisions whose runs/metrics/params/tags tables this module reads as is.
KNOWN_REVISIONS = frozenset({"dc11669786a5"})  # MLflow 3.17's head
SCRIPT_TAG = TAG_PREFIX + "script"
_RUN_COLUMNS = ("run_uuid", "name", "status", "start_time", "end_time", "lifecycle_stage")
_NEEDED = {
    "runs": {*_RUN_COLUMNS, "experiment_id"},
    "experiments": {"experiment_id", "name", "lifecycle_stage"},
    "latest_metrics": {"key", "value", "is_nan", "run_uuid"},
    "params": {"key", "value", "run_uuid"},
    "tags": {"key", "value", "run_uuid"},
}
_BATCH = 500  # run ids per IN (...) query: under SQLite's parameter limit


class _Unsupported(Exception):
    """The store is not one this module reads: the caller uses the cache instead."""


def first_page_from_sqlite(
    db: Path,
    *,
    experiment_id: str | None,
    offset: int,
    limit: int,
    deleted: bool,
) -> tuple[list[RunSummary], int, list[str]] | None:
    """(runs, total, scripts) of the default-order page, or None when this store is not one
    this module can read exactly (then the caller asks the cache)."""
    try:
        connection = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=0.5)
    except sqlite3.Error:
        return None
    try:
        return _read_page(connection, experiment_id, offset, limit, deleted)
    except (sqlite3.Error, _Unsupported, ValueError, TypeError):
        return None
    finally:
        connection.close()


def quick_run_page(
    db: Path, *, experiment_id: str | None, offset: int, limit: int, deleted: bool
) -> RunPage | None:
    """The default-order page as the cache would answer it, marked `loading`; None as above."""
    from mlworkbench.explorer.run_cache import RunPage

    found = first_page_from_sqlite(
        db, experiment_id=experiment_id, offset=offset, limit=limit, deleted=deleted
    )
    if found is None:
        return None
    runs, total, scripts = found
    end = offset + len(runs)
    return RunPage(
        runs=runs,
        total=total,
        next_offset=end if end < total else None,
        scripts=scripts,
        deleted_run_ids=[r.run_id for r in runs] if deleted else [],
        loading=True,
    )


def _check_schema(connection: sqlite3.Connection) -> None:
    row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    if row is None or row[0] not in KNOWN_REVISIONS:
        raise _Unsupported(f"schema revision {row}")
    for table, columns in _NEEDED.items():
        found = {r[1] for r in connection.execute(f"PRAGMA table_info({table})")}
        if not columns <= found:
            raise _Unsupported(f"{table} lacks {sorted(columns - found)}")
    workspaces = {r[1] for r in connection.execute("PRAGMA table_info(experiments)")}
    if "workspace" in workspaces:
        count = connection.execute("SELECT COUNT(DISTINCT workspace) FROM experiments").fetchone()
        if count[0] > 1:
            raise _Unsupported("several MLflow workspaces")  # MLflow's search scopes them


def _read_page(
    connection: sqlite3.Connection,
    experiment_id: str | None,
    offset: int,
    limit: int,
    deleted: bool,
) -> tuple[list[RunSummary], int, list[str]]:
    _check_schema(connection)
    experiments = {
        str(i): (name, stage)
        for i, name, stage in connection.execute(
            "SELECT experiment_id, name, lifecycle_stage FROM experiments"
        )
    }
    if experiment_id is not None:
        if experiments.get(experiment_id, ("", ""))[1] != "active":
            raise _Unsupported("unknown or deleted experiment")  # the cache raises its error
        scope = [experiment_id]
    else:
        scope = [i for i, (_, stage) in experiments.items() if stage == "active"]
    if not scope:
        return [], 0, []
    marks = ", ".join("?" for _ in scope)
    # The cache's rule: a run is "deleted" unless its stage is exactly 'active' (NULL included).
    where = f"experiment_id IN ({marks}) AND (COALESCE(lifecycle_stage, '') != 'active') = ?"
    args: list[object] = [*(int(i) for i in scope), 1 if deleted else 0]
    total = int(connection.execute(f"SELECT COUNT(*) FROM runs WHERE {where}", args).fetchone()[0])  # noqa: S608 - placeholders only
    scripts = sorted(
        str(value)
        for (value,) in connection.execute(
            "SELECT DISTINCT value FROM tags WHERE key = ? AND value != '' AND run_uuid IN "  # noqa: S608 - placeholders only
            f"(SELECT run_uuid FROM runs WHERE {where})",
            [SCRIPT_TAG, *args],
        )
        if value is not None
    )
    # MLflow's default order: start time descending with NULLs last, then run id ascending.
    rows = connection.execute(
        f"SELECT {', '.join(_RUN_COLUMNS)}, experiment_id FROM runs WHERE {where} "  # noqa: S608 - placeholders only
        "ORDER BY start_time IS NULL, start_time DESC, run_uuid LIMIT ? OFFSET ?",
        [*args, limit, offset],
    ).fetchall()
    ids = [str(row[0]) for row in rows]
    metrics = _by_run(
        connection,
        "SELECT run_uuid, key, value FROM latest_metrics WHERE is_nan = 0 AND run_uuid IN ({})",
        ids,
    )
    params = _by_run(
        connection, "SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({})", ids
    )
    tags = _by_run(
        connection,
        "SELECT run_uuid, key, value FROM tags WHERE key LIKE 'mlworkbench.%' AND run_uuid IN ({})",
        ids,
    )
    runs = []
    for run_id, name, status, start, end, _stage, experiment in rows:
        run_metrics = json_safe_metrics(
            {str(k): float(v) for k, v in metrics.get(run_id, {}).items()}  # type: ignore[arg-type]
        )
        run_tags = tags.get(run_id, {})
        runs.append(
            RunSummary(
                run_id=run_id,
                experiment_id=str(experiment),
                experiment_name=experiments.get(str(experiment), (str(experiment), ""))[0],
                run_name=name or run_id[:8],
                status=status,
                start_time=start,
                end_time=end,
                script=_text(run_tags.get(SCRIPT_TAG)),
                metrics=run_metrics,
                params={str(k): str(v) for k, v in params.get(run_id, {}).items()},
                exit_code=int_or_none(_text(run_tags.get(TAG_PREFIX + "exit_code"))),
                error_tail=_text(run_tags.get(TAG_PREFIX + "error_tail")),
                primary_metric=primary_metric(run_metrics),
            )
        )
    return runs, total, scripts


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _by_run(
    connection: sqlite3.Connection, sql: str, ids: list[str]
) -> dict[str, dict[object, object]]:
    found: dict[str, dict[object, object]] = {}
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start : start + _BATCH]
        query = sql.format(", ".join("?" for _ in chunk))
        for run_id, key, value in connection.execute(query, chunk):
            found.setdefault(run_id, {})[key] = value
    return found


def experiments_from_sqlite(db: Path) -> list[tuple[str, str, str, int]] | None:
    """(id, name, lifecycle stage, active run count) of every experiment, or None as above.

    Why: the Runs view lists experiments before its first page; waiting for the cache's load
    there would undo the quick first page.
    """
    try:
        connection = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=0.5)
    except sqlite3.Error:
        return None
    try:
        _check_schema(connection)
        counts = dict(
            connection.execute(
                "SELECT experiment_id, COUNT(*) FROM runs WHERE lifecycle_stage = 'active' "
                "GROUP BY experiment_id"
            ).fetchall()
        )
        return [
            (str(i), str(name), str(stage), int(counts.get(i, 0)))
            for i, name, stage in connection.execute(
                "SELECT experiment_id, name, lifecycle_stage FROM experiments"
            )
        ]
    except (sqlite3.Error, _Unsupported, ValueError, TypeError):
        return None
    finally:
        connection.close()
