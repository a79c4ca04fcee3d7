"""The run explorer's reads: pages of runs from the summary cache, experiments, comparisons.

One `RunCache` per resolved tracking URI lives as long as the server, so scrolling, sorting and
filtering the Runs view never re-reads the store; runs this server starts, ends or edits reach
the cache through `on_runs_changed`. The handlers are thin: parse, call the library, convert.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from mlworkbench_server.protocol import REQUESTS
from mlworkbench_server.request_path import Trust, request, workspace_of

if TYPE_CHECKING:
    from mlworkbench.explorer.run_cache import RunCache
    from mlworkbench_server.explorer_protocol import (
        CompareRunsParams,
        ListExperimentsParams,
        QueryRunsParams,
    )
    from mlworkbench_server.server import WorkbenchServer

MAX_LIMIT = 1000
LENS_RUNS = 200  # as many newest runs as LIST_RUNS reads for the `N runs` lenses


class RunCaches:
    """The caches of this server, by resolved tracking URI."""

    def __init__(self) -> None:
        self._caches: dict[str, RunCache] = {}
        self._opening: set[tuple[Path, str | None]] = set()  # start_loading's threads at work
        self._lock = threading.Lock()

    def for_workspace(self, workspace: Path, tracking_uri: str | None) -> RunCache | None:
        """The cache of the workspace's store; None while no store exists (nothing is created)."""
        from mlworkbench.explorer.run_cache import RunCache
        from mlworkbench.launch.child.store_open import sqlite_path
        from mlworkbench.tracking.tracking_client import checked_tracking_uri
        from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

        uri = resolve_tracking_uri(workspace, tracking_uri)
        db = sqlite_path(uri)
        with self._lock:
            cache = self._caches.get(uri)
            if cache is not None and (db is None or db.exists()):
                return cache
            self._caches.pop(uri, None)
        if checked_tracking_uri(workspace, tracking_uri) is None:
            return None
        with self._lock:
            return self._caches.setdefault(uri, RunCache(uri, first_page_while_loading=True))

    def loading_store(self, workspace: Path, tracking_uri: str | None) -> Path | None:
        """The workspace's SQLite file while no loaded cache answers for it; else None.

        Why: until the cache has read the store, the default page comes from the file's tables
        (first_page.py, read-only, only for a schema it knows) without waiting for the cache
        or for `for_workspace`'s pre-open check, which imports MLflow's ORM (seconds cold).
        The check still runs before MLflow itself opens the store: in the cache's load.
        """
        from mlworkbench.launch.child.store_open import sqlite_path
        from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

        uri = resolve_tracking_uri(workspace, tracking_uri)
        db = sqlite_path(uri)
        if db is None or not db.is_file():
            return None
        with self._lock:
            cache = self._caches.get(uri)
        return None if cache is not None and cache.loaded else db

    def start_loading(self, workspace: Path, tracking_uri: str | None) -> None:
        """Create the workspace's cache and start its load, off the calling thread."""
        key = (workspace, tracking_uri)
        with self._lock:
            if key in self._opening:
                return  # one opening at a time: each quick page would start another
            self._opening.add(key)

        def load() -> None:
            from mlworkbench.tracking.mlflow_import import ensure_mlflow_imported

            try:
                ensure_mlflow_imported()
                cache = self.for_workspace(workspace, tracking_uri)
                if cache is not None:
                    cache.start_loading()
            except Exception:  # noqa: S110 - the next query that waits for the cache reports it
                pass
            finally:
                with self._lock:
                    self._opening.discard(key)

        threading.Thread(target=load, name="run-cache-open", daemon=True).start()

    def mark_stale(self, run_id: str | None) -> None:
        with self._lock:
            caches = list(self._caches.values())
        for cache in caches:
            cache.mark_stale(run_id)


def _page_bounds(params: QueryRunsParams) -> tuple[int, int]:
    offset, limit = params.get("offset", 0), params.get("limit", 100)
    if offset < 0 or not 1 <= limit <= MAX_LIMIT:
        raise JsonRpcException(
            code=types.ErrorCodes.InvalidParams,
            message=f"'offset' must be >= 0 and 'limit' between 1 and {MAX_LIMIT}",
        )
    return offset, limit


def _update_lenses(ls: WorkbenchServer, cache: RunCache) -> None:
    """Feed the `N runs` lenses from the cache's newest runs; ask for a refresh if they moved."""
    if ls.script_runs.update(cache.query(limit=LENS_RUNS).runs):
        ls.refresh_code_lenses()


def register(server: WorkbenchServer) -> None:
    caches = RunCaches()
    server.on_runs_changed(caches.mark_stale)

    def warm_run_cache(ls: WorkbenchServer, folders: list[Path]) -> None:
        """Start reading each store into its cache at start-up, on the cache's own thread; until
        it is read, the Runs view's default page and the `N runs` lenses come from the store's
        tables at once (first_page.py, the page marked `loading`), other queries wait for it."""
        from mlworkbench.errors import MlWorkbenchError

        for folder in folders:
            try:
                cache = caches.for_workspace(folder, ls.tracking_uri)
                if cache is not None:
                    cache.start_loading()  # off this thread: the view's first page need not wait
                    _update_lenses(ls, cache)
            except MlWorkbenchError:
                continue  # the view's own request reports it, with what to do

    server.after_start(warm_run_cache, Trust.READ_LOCAL)

    # The first page of a cold server comes from the store's tables, before MLflow is imported.
    @request(server, REQUESTS["QUERY_RUNS"], Trust.READ_LOCAL, imports_mlflow=False)
    def query_runs(ls: WorkbenchServer, params: QueryRunsParams) -> dict[str, object]:
        from mlworkbench.explorer.cached_runs import compile_filter
        from mlworkbench.explorer.run_cache import RunPage
        from mlworkbench.tracking.mlflow_import import ensure_mlflow_imported

        workspace = workspace_of(params)
        offset, limit = _page_bounds(params)
        query = params.get("filter")
        compile_filter(query)  # an invalid filter is reported even without a store
        db = (
            None
            if query or params.get("orderBy")
            else caches.loading_store(workspace, ls.tracking_uri)
        )
        if db is not None:
            from mlworkbench.explorer.first_page import quick_run_page

            quick = quick_run_page(
                db,
                experiment_id=params.get("experimentId"),
                offset=offset,
                limit=limit,
                deleted=params.get("deleted", False),
            )
            if quick is not None:
                caches.start_loading(workspace, ls.tracking_uri)
                return {"page": quick.to_dict(), "running": ls.runs.running()}
        ensure_mlflow_imported()  # whole, before any part of it (see mlflow_import.py)
        cache = caches.for_workspace(workspace, ls.tracking_uri)
        if cache is None:
            page = RunPage(runs=[], total=0, next_offset=None, scripts=[], deleted_run_ids=[])
        else:
            page = cache.query(
                filter=query,
                order_by=params.get("orderBy"),
                experiment_id=params.get("experimentId"),
                offset=offset,
                limit=limit,
                deleted=params.get("deleted", False),
            )
            _update_lenses(ls, cache)
        return {"page": page.to_dict(), "running": ls.runs.running()}

    @request(server, REQUESTS["LIST_EXPERIMENTS"], Trust.READ_LOCAL, imports_mlflow=False)
    def list_experiments(ls: WorkbenchServer, params: ListExperimentsParams) -> dict[str, object]:
        from mlworkbench.explorer.first_page import experiments_from_sqlite
        from mlworkbench.explorer.run_cache import ExperimentInfo
        from mlworkbench.tracking.mlflow_import import ensure_mlflow_imported

        workspace = workspace_of(params)
        db = caches.loading_store(workspace, ls.tracking_uri)
        rows = None if db is None else experiments_from_sqlite(db)
        if rows is not None:
            caches.start_loading(workspace, ls.tracking_uri)
            quick = [ExperimentInfo(*row) for row in rows]
            quick.sort(key=lambda e: (e.lifecycle_stage != "active", e.name, e.experiment_id))
            return {"experiments": [asdict(e) for e in quick]}
        ensure_mlflow_imported()
        cache = caches.for_workspace(workspace, ls.tracking_uri)
        found = [] if cache is None else cache.experiments()
        return {"experiments": [asdict(e) for e in found]}

    @request(server, REQUESTS["COMPARE_RUNS"], Trust.READ_LOCAL)
    def compare_runs(ls: WorkbenchServer, params: CompareRunsParams) -> dict[str, object]:
        from mlworkbench.explorer.run_compare import MIN_POINTS, compare_runs

        workspace = workspace_of(params)
        max_points = params.get("maxPoints", 2000)
        if max_points < MIN_POINTS:
            raise JsonRpcException(
                code=types.ErrorCodes.InvalidParams,
                message=f"'maxPoints' must be at least {MIN_POINTS}",
            )
        # The cache's client: its store was checked when the cache was made, so a comparison
        # does not pay the pre-open integrity check of the whole file again (0.6 s at 100k).
        cache = caches.for_workspace(workspace, ls.tracking_uri)
        data = compare_runs(
            workspace,
            params["runIds"],
            tracking_uri=ls.tracking_uri,
            max_points=max_points,
            client=None if cache is None else cache.client(),
        )
        return data.to_dict()
