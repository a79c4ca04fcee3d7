"""The Runs view's first page and experiment list, served by the workspace's own tracking server.

Why: a language server started on a workspace that tracks to `mlworkbench server` answers its
first page before its run cache has read the server (about 10 s at 100,000 runs). Over
MLflow's REST routes that page is two requests, and the search among 100,000 runs on
PostgreSQL takes MLflow 0.2 s of the 1 s a cold page may take from the editor's spawn of the
language server (1.0-1.46 s measured that way, 0.94 s this way). The gate in front of MLflow
(tracking_server_gate.py) knows its backend store, so, as for comparisons (compared_route.py),
it answers two routes of its own from the store's tables, behind the same bearer token and
Host checks as MLflow's:

- the default-order page (newest first, no filter: what the view opens on), read as
  first_page.py and pg_tables.first_page read it, with its exact total and scripts;
- every experiment with its active run count, which MLflow's API cannot count.

On PostgreSQL each read scans the runs table (MLflow's schema has no index on start times):
0.15 s for the page at 100,000 runs, 0.07 s for the experiments. The gate keeps its last
answers with the snapshot they were read in, and answers again from them while the store's
snapshot is the same one (`pg_tables.snapshot`: the same committed data), so an editor opened
on an idle server gets them in the time of a connection.

Every failure falls back to what was there: a server without the routes (any other MLflow
server) answers 404, a store the tables cannot read exactly answers 409, and the cache then
asks MLflow's search (remote_page.py), which reports errors the usual way.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from mlworkbench.explorer.route_body import BadRequest, answer, count, json_object, refusal
from mlworkbench.explorer.run_listing import RunSummary
from mlworkbench.explorer.store_tables import Unsupported

if TYPE_CHECKING:
    from mlworkbench.explorer.remote_page import PageAsk
    from mlworkbench.explorer.rest_search import RestReader
    from mlworkbench.explorer.run_cache import RunPage

PAGE_ROUTE = "/mlworkbench/v1/first-page"
EXPERIMENTS_ROUTE = "/mlworkbench/v1/experiments"
MAX_BODY = 4 * 1024  # an experiment id and three numbers
MAX_OFFSET = 1_000_000
MAX_LIMIT = 10_000  # the view asks 100 at a time; a page of 10,000 summaries is ~5 MB of JSON

_SUMMARY_FIELDS = frozenset(f.name for f in fields(RunSummary))
Experiment = tuple[str, str, str, int]  # (id, name, lifecycle stage, active run count)


def parse_page_request(body: bytes) -> tuple[str | None, int, int, bool]:
    """(experiment id or None for every active experiment, offset, limit, deleted) of a
    request's JSON body."""
    asked = json_object(body, "'offset' and 'limit'")
    experiment_id = asked.get("experiment_id")
    offset, limit, deleted = asked.get("offset"), asked.get("limit"), asked.get("deleted", False)
    if experiment_id is not None and not (
        isinstance(experiment_id, str) and experiment_id.isdigit() and len(experiment_id) <= 19
    ):
        raise BadRequest("'experiment_id' must be null or an experiment's numeric id")
    if not count(offset) or not 0 <= offset <= MAX_OFFSET:
        raise BadRequest(f"'offset' must be an integer from 0 to {MAX_OFFSET}")
    if not count(limit) or not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"'limit' must be an integer from 1 to {MAX_LIMIT}")
    if not isinstance(deleted, bool):
        raise BadRequest("'deleted' must be true or false")
    return experiment_id, offset, limit, deleted


def prepare(store_uri: str) -> None:
    """Import what the answers read `store_uri` with (the gate calls this while MLflow starts:
    imported on the first request instead, they would cost the cold page ~0.1 s)."""
    from mlworkbench.explorer import first_page, pg_tables  # noqa: F401

    if pg_tables.is_postgres(store_uri):
        import psycopg  # noqa: F401


class SnapshotAnswers:
    """The gate's last answers by request, each with the snapshot it was read in; an answer
    is given again only in the same snapshot (the same committed data). Thread-safe: the
    gate answers each connection on a thread of its own."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._answers: OrderedDict[Hashable, tuple[str, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.reused = 0  # answers given again (tests look)

    def answer(self, key: Hashable, seen: str, read: Callable[[], bytes]) -> bytes:
        """The answer to `key` in snapshot `seen`: the kept one, else `read()`, kept."""
        with self._lock:
            kept = self._answers.get(key)
            if kept is not None and kept[0] == seen:
                self._answers.move_to_end(key)
                self.reused += 1
                return kept[1]
        body = read()
        with self._lock:
            self._answers[key] = (seen, body)
            self._answers.move_to_end(key)
            while len(self._answers) > self._size:
                self._answers.popitem(last=False)
        return body


_KEPT = SnapshotAnswers()


def _from_postgres(
    store_uri: str, password: str | None, key: Hashable, read: Callable[[Any], bytes]
) -> bytes:
    """`read(connection)`'s answer in the store's snapshot now, or the one kept for it."""
    from mlworkbench.explorer import pg_tables

    with pg_tables.snapshot(store_uri, password) as (connection, seen):
        return _KEPT.answer((store_uri, key), seen, lambda: read(connection))


def answer_page(store_uri: str, password: str | None, body: bytes) -> tuple[int, bytes]:
    """The gate's (status, JSON body) for a request to PAGE_ROUTE on the server of `store_uri`
    (MLflow's backend store URI, without its password: `password`)."""
    from mlworkbench.explorer import first_page, pg_tables
    from mlworkbench.launch.child.store_open import sqlite_path

    try:
        experiment_id, offset, limit, deleted = parse_page_request(body)
    except BadRequest as error:
        return refusal(400, str(error))
    db = sqlite_path(store_uri)
    try:
        if db is not None:  # None: a store first_page.py cannot read exactly
            read = first_page.first_page_from_sqlite(
                db, experiment_id=experiment_id, offset=offset, limit=limit, deleted=deleted
            )
        elif pg_tables.is_postgres(store_uri):
            asked = (experiment_id, offset, limit, deleted)
            return 200, _from_postgres(
                store_uri,
                password,
                ("page", *asked),
                lambda connection: _page_body(
                    pg_tables.first_page_in(
                        connection,
                        experiment_id=experiment_id,
                        offset=offset,
                        limit=limit,
                        deleted=deleted,
                    )
                ),
            )
        else:
            read = None
    except Exception as error:  # Unsupported, a database error: MLflow's routes answer instead
        return refusal(409, f"{type(error).__name__}: {error}")
    if read is None:
        return refusal(409, "this store's page is read through MLflow's routes")
    return 200, _page_body(read)


def _page_body(read: tuple[list[RunSummary], int, list[str]]) -> bytes:
    runs, total, scripts = read
    return answer({"runs": [run.to_dict() for run in runs], "total": total, "scripts": scripts})


def answer_experiments(store_uri: str, password: str | None, body: bytes) -> tuple[int, bytes]:
    """The gate's (status, JSON body) for a request to EXPERIMENTS_ROUTE (the body is `{}`)."""
    from mlworkbench.explorer import first_page, pg_tables
    from mlworkbench.launch.child.store_open import sqlite_path

    try:
        asked = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        asked = None
    if asked != {}:
        return refusal(400, "the body must be an empty object")
    db = sqlite_path(store_uri)
    try:
        if db is not None:
            found = first_page.experiments_from_sqlite(db)
        elif pg_tables.is_postgres(store_uri):
            return 200, _from_postgres(
                store_uri,
                password,
                ("experiments",),
                lambda connection: _experiments_body(pg_tables.experiments_in(connection)),
            )
        else:
            found = None
    except Exception as error:
        return refusal(409, f"{type(error).__name__}: {error}")
    if found is None:
        return refusal(409, "this store's experiments are read through MLflow's routes")
    return 200, _experiments_body(found)


def _experiments_body(found: list[Experiment]) -> bytes:
    return answer({"experiments": [list(row) for row in found]})


def ask_page(reader: RestReader, ask: PageAsk) -> RunPage:
    """The default-order page as the workspace's server reads it from its tables, marked
    `loading` (first_page.quick_run_page's answer); Unsupported when the server does not
    answer it (404 from another server, 409, an answer this client cannot read)."""
    from mlworkbench.explorer.first_page import loading_page

    if ask.order is not None or ask.filter:
        raise Unsupported("only the default order without a filter is served from the tables")
    found = reader.post(
        PAGE_ROUTE,
        {
            "experiment_id": ask.experiment_id,
            "offset": ask.offset,
            "limit": ask.limit,
            "deleted": ask.deleted,
        },
    )
    try:
        runs = [_summary(run) for run in found["runs"]]
        total, scripts = found["total"], found["scripts"]
        if not count(total) or not all(isinstance(s, str) for s in scripts):
            raise TypeError("the total or the scripts are not what this client reads")
    except (KeyError, TypeError, ValueError) as error:
        raise Unsupported(f"a page this client cannot read: {error}") from None
    return loading_page(runs, total, list(scripts), offset=ask.offset, deleted=ask.deleted)


def _summary(found: Any) -> RunSummary:
    if not isinstance(found, dict) or found.keys() != _SUMMARY_FIELDS:
        raise TypeError("a run that is not a page's run summary")
    if not all(isinstance(found[k], str) for k in ("run_id", "experiment_id", "status")):
        raise TypeError("a run whose id, experiment or status is not text")
    metrics, params = found["metrics"], found["params"]
    if not isinstance(metrics, dict) or not isinstance(params, dict):
        raise TypeError("a run's metrics or params are not objects")
    return RunSummary(
        **{
            **found,
            "metrics": {str(k): float(v) for k, v in metrics.items()},
            "params": {str(k): str(v) for k, v in params.items()},
        }
    )


def ask_experiments(reader: RestReader) -> list[Experiment]:
    """Every experiment with its active run count, as the server reads its tables;
    Unsupported as `ask_page`."""
    found = reader.post(EXPERIMENTS_ROUTE, {})
    try:
        return [
            (str(i), str(name), str(stage), int(n)) for i, name, stage, n in found["experiments"]
        ]
    except (KeyError, TypeError, ValueError) as error:
        raise Unsupported(f"experiments this client cannot read: {error}") from None
