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

The page is a handful of statements that each return one row (JSON built by SQLite, metric
values through `quote()`, which round-trips a double exactly): see store_tables.py for why few
rows matter on a cold server. Schema checks and the row rules are store_tables.py's.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from mlworkbench.explorer.run_listing import RUN_NAME_TAG, SCRIPT_TAG, RunSummary, summary_of
from mlworkbench.explorer.store_tables import (
    KNOWN_REVISIONS,
    Unsupported,
    check_schema,
    connect_readonly,
    page_scope,
)

if TYPE_CHECKING:
    from mlworkbench.explorer.run_cache import RunPage

__all__ = [
    "KNOWN_REVISIONS",
    "experiments_from_sqlite",
    "experiments_from_tables",
    "first_page_from_sqlite",
    "first_page_from_tables",
    "loading_page",
    "quick_run_page",
]


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
        connection = connect_readonly(db)
    except sqlite3.Error:
        return None
    try:
        return _read_page(connection, experiment_id, offset, limit, deleted)
    except (sqlite3.Error, Unsupported, ValueError, TypeError, KeyError):
        return None
    finally:
        connection.close()


def first_page_from_tables(
    source: Path | str,
    *,
    experiment_id: str | None,
    offset: int,
    limit: int,
    deleted: bool,
) -> tuple[list[RunSummary], int, list[str]] | None:
    """`first_page_from_sqlite` for a SQLite file, or the same page from a PostgreSQL store
    (`source` its tracking URI; pg_tables.py), None there as here when it cannot be read
    exactly, or may not be reached (another host in Restricted Mode)."""
    if isinstance(source, Path):
        return first_page_from_sqlite(
            source, experiment_id=experiment_id, offset=offset, limit=limit, deleted=deleted
        )
    try:
        _require_reachable(source)
        from mlworkbench.explorer import pg_tables

        return pg_tables.first_page(
            source, experiment_id=experiment_id, offset=offset, limit=limit, deleted=deleted
        )
    except Exception:  # the cache answers (and reports) instead
        return None


def _require_reachable(tracking_uri: str) -> None:
    from mlworkbench.tracking.network_access import require_local

    require_local(tracking_uri, "the tracking store")


def quick_run_page(
    source: Path | str, *, experiment_id: str | None, offset: int, limit: int, deleted: bool
) -> RunPage | None:
    """The default-order page as the cache would answer it, marked `loading`; None as above.
    `source`: a SQLite file, or a PostgreSQL store's tracking URI."""
    found = first_page_from_tables(
        source, experiment_id=experiment_id, offset=offset, limit=limit, deleted=deleted
    )
    if found is None:
        return None
    runs, total, scripts = found
    return loading_page(runs, total, scripts, offset=offset, deleted=deleted)


def loading_page(
    runs: list[RunSummary], total: int, scripts: list[str], *, offset: int, deleted: bool
) -> RunPage:
    """The page a table read answers while the cache loads: its `total` exact, marked
    `loading` (also what a workspace server's first_page_route answers)."""
    from mlworkbench.explorer.run_cache import RunPage

    end = offset + len(runs)
    return RunPage(
        runs=runs,
        total=total,
        next_offset=end if end < total else None,
        scripts=scripts,
        deleted_run_ids=[r.run_id for r in runs] if deleted else [],
        loading=True,
    )


def _read_page(
    connection: sqlite3.Connection,
    experiment_id: str | None,
    offset: int,
    limit: int,
    deleted: bool,
) -> tuple[list[RunSummary], int, list[str]]:
    experiments = check_schema(connection)
    scope = page_scope(experiments, experiment_id)
    if not scope:
        return [], 0, []
    # The cache holds what search_runs lists (stages 'active' and 'deleted'); a deleted view
    # shows the 'deleted' ones, the default view the 'active' ones.
    marks = ", ".join("?" for _ in scope)
    where = f"r.experiment_id IN ({marks}) AND r.lifecycle_stage = ?"
    args: list[object] = [*(int(i) for i in scope), "deleted" if deleted else "active"]
    # Only runs started no earlier than the newest `offset + limit` runs written last can be
    # on the page: at least that many runs start at or after the earliest of those, so the
    # page (ordered by start time first) lies among them. Exact however the rows were written;
    # where runs were written as they started (the usual store), the sort below sees a page's
    # worth of runs instead of all of them (100,000 runs: 0.03 s instead of 0.09 s).
    newest = _start_threshold(connection, where, args, offset + limit)
    candidates, since = ("", []) if newest is None else (" AND r.start_time >= ?", [newest])
    # One statement, one row: the count, the scripts and the page. The page's rows are MLflow's
    # default order (start time descending, NULLs last, then run id); SQLite builds each run's
    # metrics, params and wanted tags into its JSON.
    total, scripts_json, page_json = connection.execute(
        f"SELECT (SELECT COUNT(*) FROM runs r WHERE {where}), "  # noqa: S608 - placeholders only
        "(SELECT json_group_array(value) FROM (SELECT DISTINCT t.value AS value FROM tags t "
        f"JOIN runs r ON r.run_uuid = t.run_uuid WHERE t.key = ? AND t.value != '' AND {where})), "
        "(SELECT json_group_array(json_array(r.run_uuid, r.name, r.status, r.start_time, "
        "r.end_time, r.experiment_id, "
        "json((SELECT json_group_array(json_array(m.key, quote(m.value))) FROM latest_metrics m "
        "WHERE m.run_uuid = r.run_uuid AND m.is_nan = 0)), "
        "json((SELECT json_group_array(json_array(p.key, p.value)) FROM params p "
        "WHERE p.run_uuid = r.run_uuid)), "
        "json((SELECT json_group_array(json_array(t.key, t.value)) FROM tags t "
        "WHERE t.run_uuid = r.run_uuid AND (t.key LIKE 'mlworkbench.%' OR t.key = ?))))) "
        f"FROM runs r WHERE r.rowid IN (SELECT r.rowid FROM runs r WHERE {where}{candidates} "
        "ORDER BY r.start_time IS NULL, r.start_time DESC, r.run_uuid LIMIT ? OFFSET ?))",
        [*args, SCRIPT_TAG, *args, RUN_NAME_TAG, *args, *since, limit, offset],
    ).fetchone()
    rows = json.loads(page_json)
    for run in rows:
        if run[3] is not None and type(run[3]) is not int:
            raise Unsupported("a start time that is not an integer")
    # json_group_array's order is not the subquery's: the same order again, in Python (ids are
    # compared as code points, which for UTF-8 text is SQLite's binary order).
    rows.sort(key=lambda run: (run[3] is None, -(run[3] or 0), run[0]))
    runs = [_summary(run, experiments) for run in rows]
    scripts = sorted(_text(value) for value in json.loads(scripts_json))
    return runs, int(total), scripts


def _start_threshold(
    connection: sqlite3.Connection, where: str, args: list[object], wanted: int
) -> int | None:
    """The earliest start time among the `wanted` runs of the scope written last (by rowid),
    or None when the scope has fewer with a start time (then every run is a candidate)."""
    (text,) = connection.execute(
        "SELECT json_group_array(start_time) FROM (SELECT r.start_time FROM runs r "  # noqa: S608 - placeholders only
        f"WHERE {where} AND r.start_time IS NOT NULL ORDER BY r.rowid DESC LIMIT ?)",
        [*args, wanted],
    ).fetchone()
    starts = json.loads(text)
    if len(starts) < wanted or any(type(start) is not int for start in starts):
        return None
    return min(starts)  # type: ignore[no-any-return]


def _summary(row: list[object], experiments: dict[str, tuple[str, str]]) -> RunSummary:
    run_id, name, status, start, end, experiment, metric_rows, param_rows, tag_rows = row
    run_id, experiment = _text(run_id), str(experiment)
    return summary_of(
        run_id=run_id,
        experiment_id=experiment,
        experiment_name=experiments.get(experiment, (experiment, ""))[0],
        run_name=None if name is None else str(name),
        status=_text(status),
        start_time=start,  # type: ignore[arg-type]
        end_time=end,  # type: ignore[arg-type]
        metrics={_text(k): _float(v) for k, v in metric_rows},  # type: ignore[attr-defined]
        params={_text(k): _text(v) for k, v in param_rows},  # type: ignore[attr-defined]
        tags={_text(k): _optional(v) for k, v in tag_rows},  # type: ignore[attr-defined]
    )


def _float(quoted: object) -> float:
    """A value `quote()` wrote for a REAL column ('1.5', '1.00000000000000002082e-01')."""
    if not isinstance(quoted, str) or quoted.startswith(("'", "X'", "NULL")):
        raise Unsupported(f"a metric value quoted as {quoted!r}")
    return float(quoted)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise Unsupported(f"a text column holds {type(value).__name__}")
    return value


def _optional(value: object) -> str | None:
    return None if value is None else _text(value)


def experiments_from_sqlite(db: Path) -> list[tuple[str, str, str, int]] | None:
    """(id, name, lifecycle stage, active run count) of every experiment, or None as above.

    Why: the Runs view lists experiments before its first page; waiting for the cache's load
    there would undo the quick first page.
    """
    try:
        connection = connect_readonly(db)
    except sqlite3.Error:
        return None
    try:
        experiments = check_schema(connection)
        (counts_json,) = connection.execute(
            "SELECT json_group_object(experiment_id, n) FROM (SELECT experiment_id, COUNT(*) "
            "AS n FROM runs WHERE lifecycle_stage = 'active' AND experiment_id IS NOT NULL "
            "GROUP BY experiment_id)"
        ).fetchone()
        counts = json.loads(counts_json)
        return [(i, name, stage, int(counts.get(i, 0))) for i, (name, stage) in experiments.items()]
    except (sqlite3.Error, Unsupported, ValueError, TypeError, AttributeError):
        return None
    finally:
        connection.close()


def experiments_from_tables(source: Path | str) -> list[tuple[str, str, str, int]] | None:
    """`experiments_from_sqlite`, or the same from a PostgreSQL store (its tracking URI)."""
    if isinstance(source, Path):
        return experiments_from_sqlite(source)
    try:
        _require_reachable(source)
        from mlworkbench.explorer import pg_tables

        return pg_tables.experiments(source)
    except Exception:  # the cache answers (and reports) instead
        return None
