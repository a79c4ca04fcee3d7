"""The run cache's whole read of a store, served by the workspace's own tracking server.

Why: a cache on a tracking server read it through MLflow's search, 5,000 runs a request (larger
pages passed the client's 120 s timeout): 160-260 s for 100,000 runs on PostgreSQL, and until
then every sorted or filtered page was a search of its own (0.5-0.9 s, its total a lower
bound). The same store read straight from its tables takes about 4 s (pg_tables.read_store).
The gate in front of MLflow (tracking_server_gate.py) knows its backend store, so, as for
comparisons (compared_route.py), it answers this read itself, behind the same bearer token and
Host checks as MLflow's routes: every experiment and every run MLflow's search lists, as the
cache keeps them (`CachedRun`), or only the runs asked for (the cache's check of its first
read against MLflow's own search, `RunCache._check_tables`).

Every failure falls back to what was there: a server without the route (any other MLflow
server) answers 404, a store the tables cannot read exactly 409, and the cache then reads
through MLflow's search. A run is a JSON array (its fields in `CachedRun`'s order): 100,000
runs as objects were 40% more bytes to write and parse. NaN and the infinities are written as
Python's `json` writes them: both ends are this package.
"""

from __future__ import annotations

from dataclasses import fields
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from mlworkbench.explorer import route_body
from mlworkbench.explorer.cached_runs import CachedRun
from mlworkbench.explorer.route_body import BadRequest, json_object, refusal, texts
from mlworkbench.explorer.store_tables import Unsupported

if TYPE_CHECKING:
    from mlworkbench.explorer.rest_search import RestReader

ROUTE = "/mlworkbench/v1/store"
MAX_RUN_IDS = 1_000  # the cache's check asks for 200
MAX_BODY = 64 * 1024  # 1,000 run ids of 32 characters fit twice over
_FIELDS = tuple(f.name for f in fields(CachedRun))
_ROW = attrgetter(*_FIELDS)  # a run's fields as a tuple (dataclasses.astuple deep-copies each)

Store = tuple[dict[str, tuple[str, str]], list[CachedRun]]  # ({id: (name, stage)}, runs)


def parse_request(body: bytes) -> list[str] | None:
    """The run ids a request's JSON body asks for, or None for every run; BadRequest
    otherwise."""
    asked = json_object(body, "'run_ids'")
    if "run_ids" not in asked:
        raise BadRequest("the body must be an object with 'run_ids'")
    run_ids = asked["run_ids"]
    if run_ids is not None and (not texts(run_ids) or not 1 <= len(run_ids) <= MAX_RUN_IDS):
        raise BadRequest(f"'run_ids' must be null or 1 to {MAX_RUN_IDS} run ids")
    return run_ids


def answer(store_uri: str, password: str | None, body: bytes) -> tuple[int, bytes]:
    """The gate's (status, JSON body) for a request to ROUTE on the server of `store_uri`
    (MLflow's backend store URI, without its password: `password`)."""
    from mlworkbench.explorer import pg_tables, store_tables
    from mlworkbench.launch.child.store_open import sqlite_path

    try:
        run_ids = parse_request(body)
    except BadRequest as error:
        return refusal(400, str(error))
    db = sqlite_path(store_uri)
    read: Store
    try:
        if db is not None:
            read = (
                store_tables.read_store(db)
                if run_ids is None
                else store_tables.read_runs(db, run_ids)
            )
        elif pg_tables.is_postgres(store_uri):
            read = (
                pg_tables.read_store(store_uri, password=password)
                if run_ids is None
                else pg_tables.read_runs(store_uri, run_ids, password=password)
            )
        else:
            return refusal(409, "this store is read through MLflow's routes")
    except Exception as error:  # Unsupported, a database error: MLflow's routes answer instead
        return refusal(409, f"{type(error).__name__}: {error}")
    experiments, runs = read
    return 200, route_body.answer(
        {
            "experiments": [[i, name, stage] for i, (name, stage) in experiments.items()],
            "runs": [_ROW(run) for run in runs],
        }
    )


def ask(reader: RestReader, run_ids: list[str] | None) -> Store:
    """The store (or `run_ids`' runs) as the workspace's server reads its tables, in
    `store_tables.read_store`'s form; Unsupported where the server does not answer it (404
    from another server, 409) or answers what this client cannot read."""
    found = reader.post(ROUTE, {"run_ids": run_ids})
    try:
        experiments = {
            _text(i): (_text(name), _text(stage)) for i, name, stage in found["experiments"]
        }
        runs = [_run(row) for row in found["runs"]]
    except (KeyError, TypeError, ValueError) as error:
        raise Unsupported(f"a store this client cannot read: {error}") from None
    return experiments, runs


def _run(row: Any) -> CachedRun:
    if not isinstance(row, list) or len(row) != len(_FIELDS):
        raise TypeError("a run that is not the cache's")
    run = CachedRun(*row)
    if not (
        isinstance(run.run_id, str)
        and isinstance(run.experiment_id, str)
        and isinstance(run.status, str)
        and isinstance(run.lifecycle_stage, str)
        and isinstance(run.metrics, dict)
        and isinstance(run.params, dict)
        and isinstance(run.tags, dict)
        and all(isinstance(v, float) for v in run.metrics.values())
    ):
        raise TypeError(f"run {run.run_id!r} is not the cache's")
    return run


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{type(value).__name__} where text was expected")
    return value
