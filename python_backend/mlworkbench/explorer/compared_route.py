"""The comparison's read, served by the workspace's own tracking server (`mlworkbench server`).

Why: on a tracking server a comparison (10 runs x 3 metrics x 1,000 steps) asks MLflow's bulk
history routes, and MLflow's server builds an ORM object and JSON for every point: 2.3-2.8 s
at 100,000 runs on PostgreSQL on 2 cores, where the goal is 0.5 s. The server the workbench
starts (tracking_server_gate.py) fronts MLflow and knows its backend store, so it answers one
route of its own, behind the same bearer token and Host checks as MLflow's: the comparison
read straight from the store's tables (`store_tables.read_compared`, `pg_tables.read_compared`:
MLflow's schema, read-only, only a revision they know, the answers MLflow's client gives).

Every failure falls back to what was there: a server without the route (any other MLflow
server) answers 404, a store the tables cannot read exactly answers 409, an unknown run
`found: false`, and the explorer then asks MLflow's routes (`run_compare.compare_runs`), which
report errors the usual way. The answer is JSON with NaN and the infinities as Python's `json`
writes them: both ends are this package.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from mlworkbench.explorer import route_body
from mlworkbench.explorer.route_body import BadRequest, json_object, refusal, texts
from mlworkbench.explorer.store_tables import Unsupported

if TYPE_CHECKING:
    from mlworkbench.explorer.cached_runs import CachedRun
    from mlworkbench.explorer.store_tables import Point

    Compared = tuple[list[CachedRun], dict[str, str], dict[tuple[str, str], list[Point]]]

ROUTE = "/mlworkbench/v1/compared-runs"
MAX_BODY = 64 * 1024  # 200 run ids and a few hundred keys fit many times over
MAX_KEYS = 1_000


def parse_request(body: bytes) -> tuple[list[str], list[str] | None]:
    """(run ids, metric keys or None for every latest metric) of a request's JSON body;
    BadRequest otherwise."""
    from mlworkbench.explorer.run_compare import MAX_RUNS

    asked = json_object(body, "'run_ids'")
    run_ids, keys = asked.get("run_ids"), asked.get("metric_keys")
    if not texts(run_ids) or not 1 <= len(run_ids) <= MAX_RUNS:
        raise BadRequest(f"'run_ids' must be 1 to {MAX_RUNS} run ids")
    if keys is not None and (not texts(keys) or len(keys) > MAX_KEYS):
        raise BadRequest(f"'metric_keys' must be null or at most {MAX_KEYS} metric keys")
    return run_ids, keys


def prepare(store_uri: str) -> None:
    """Import what `answer` reads `store_uri` with (the table readers, psycopg for PostgreSQL).

    Why: the gate calls this while MLflow starts behind it; imported on the first request
    instead, they made the server's first comparison 0.1 s slower than the next ones.
    """
    from mlworkbench.explorer import pg_tables, run_compare, store_tables  # noqa: F401

    if pg_tables.is_postgres(store_uri):
        import psycopg  # noqa: F401


def answer(store_uri: str, password: str | None, body: bytes) -> tuple[int, bytes]:
    """The gate's (status, JSON body) for a request to ROUTE on the server of `store_uri`
    (MLflow's backend store URI, without its password: `password`)."""
    from mlworkbench.explorer import pg_tables, store_tables
    from mlworkbench.launch.child.store_open import sqlite_path

    try:
        run_ids, keys = parse_request(body)
    except BadRequest as error:
        return refusal(400, str(error))
    db = sqlite_path(store_uri)
    try:
        if db is not None:
            read = store_tables.read_compared(db, run_ids, keys)
        elif pg_tables.is_postgres(store_uri):
            read = pg_tables.read_compared(store_uri, run_ids, keys, password=password)
        else:
            return refusal(409, "this store is read through MLflow's routes")
    except Exception as error:  # Unsupported, a database error: MLflow's routes answer instead
        return refusal(409, f"{type(error).__name__}: {error}")
    if read is None:
        return 200, route_body.answer({"found": False})
    runs, names, histories = read
    return 200, route_body.answer(
        {
            "found": True,
            "runs": [asdict(run) for run in runs],
            "names": names,
            "histories": [[run_id, key, points] for (run_id, key), points in histories.items()],
        }
    )


def ask(tracking_uri: str, run_ids: list[str], metric_keys: list[str] | None) -> Compared | None:
    """The comparison read by the workspace's server, as `store_tables.read_compared` answers;
    None when the server does not answer it (then MLflow's routes do). Unsupported where the
    request would differ from MLflow's client's (rest_search.RestReader.for_uri)."""
    from mlworkbench.explorer.cached_runs import CachedRun
    from mlworkbench.explorer.rest_search import RestReader

    reader = RestReader.for_uri(tracking_uri)
    found = reader.post(ROUTE, {"run_ids": run_ids, "metric_keys": metric_keys})
    if found.get("found") is not True:
        return None
    try:
        runs = [CachedRun(**run) for run in found["runs"]]
        if not all(
            isinstance(r.metrics, dict) and isinstance(r.params, dict) and isinstance(r.tags, dict)
            for r in runs
        ):
            raise TypeError("a run's metrics, params or tags are not objects")
        names = {str(k): str(v) for k, v in found["names"].items()}
        histories: dict[tuple[str, str], list[Point]] = {
            (str(run_id), str(key)): [(int(s), int(t), float(v)) for s, t, v in points]
            for run_id, key, points in found["histories"]
        }
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise Unsupported(f"a comparison this client cannot read: {error}") from None
    return runs, names, histories
