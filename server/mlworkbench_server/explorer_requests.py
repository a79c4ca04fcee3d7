"""The run explorer's reads: pages of runs from the summary cache, experiments, comparisons.

One `RunCache` per resolved tracking URI lives as long as the server, so scrolling, sorting and
filtering the Runs view never re-reads the store; runs this server starts, ends or edits reach
the cache through `on_runs_changed`. The handlers are thin: parse, call the library, convert.
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from mlworkbench.tracking.gc_pause import collector_paused
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
QUIET_S = 0.3  # a cache's load waits this long after the last quick answer,
HOLD_S = 2.0  # but no longer than this
FIRST_S = 2.0  # the start-up thread waits this long at most for the view's first request,
LOAD_HOLD_S = 30.0  # and this long at most for the loads its answers started
LENS_RUNS = 200  # as many newest runs as LIST_RUNS reads for the `N runs` lenses


class RunCaches:
    """The caches of this server, by resolved tracking URI."""

    def __init__(self, on_loaded: Callable[[RunCache], object] | None = None) -> None:
        # After each whole read of a cache is in place, on the load's thread: the server feeds
        # the `N runs` lenses from it (a first page answered from the tables did not).
        self._on_loaded = on_loaded
        self._caches: dict[str, RunCache] = {}
        self._opening: set[tuple[Path, str | None]] = set()  # start_loading's threads at work
        self._open_locks: dict[str, threading.Lock] = {}
        self._quick_at = 0.0  # when a request was last answered from the tables
        self._quick_busy = 0  # such answers under way
        self._lock = threading.Lock()

    def for_workspace(self, workspace: Path, tracking_uri: str | None) -> RunCache | None:
        """The cache of the workspace's store; None while no store exists (nothing is created).

        A SQLite store's cache is made without MLflow: it reads the file's tables first (a
        schema it knows; read-only) and runs the pre-open checks (`checked_tracking_uri`) only
        before MLflow's client first opens the store, where their errors reach the queries.
        Other stores are checked here, before the cache exists.
        """
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
        made: RunCache | None = None

        def loaded() -> None:
            settle_heap()
            if self._on_loaded is not None and made is not None:
                self._on_loaded(made)

        if db is not None:
            if not db.exists() or (db.is_file() and db.stat().st_size == 0):
                return None  # what checked_tracking_uri answers: no store yet

            def opener() -> None:
                checked_tracking_uri(workspace, tracking_uri)

            made = RunCache(
                uri,
                first_page_while_loading=True,
                opener=opener,
                on_loaded=loaded,
                on_checked=settle_heap,
                load_gate=self._wait_for_quiet,
            )
        else:
            with self._opening_lock(uri):  # one check at a time: each one connects
                with self._lock:
                    if uri in self._caches:
                        return self._caches[uri]
                if checked_tracking_uri(workspace, tracking_uri) is None:
                    return None
                made = RunCache(
                    uri,
                    first_page_while_loading=True,
                    on_loaded=loaded,
                    on_checked=settle_heap,
                    load_gate=self._wait_for_quiet,
                )
        with self._lock:
            return self._caches.setdefault(uri, made)

    def _opening_lock(self, uri: str) -> threading.Lock:
        with self._lock:
            return self._open_locks.setdefault(uri, threading.Lock())

    def loading_store(self, workspace: Path, tracking_uri: str | None) -> Path | str | None:
        """Where the workspace's store's tables can be read while no loaded cache answers for
        it: its SQLite file, or a PostgreSQL store's tracking URI; else None.

        Why: until the cache has read the store, the default page comes from the tables
        (first_page.py, pg_tables.py: read-only, only for a schema they know) without waiting
        for the cache or for `for_workspace`'s pre-open check, which imports MLflow's ORM
        (seconds cold). The check still runs before MLflow itself opens the store.
        """
        from mlworkbench.explorer.pg_tables import is_postgres
        from mlworkbench.launch.child.store_open import sqlite_path
        from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

        uri = resolve_tracking_uri(workspace, tracking_uri)
        db = sqlite_path(uri)
        source: Path | str
        if db is not None:
            if not db.is_file():
                return None
            source = db
        elif is_postgres(uri):
            source = uri
        else:
            return None
        with self._lock:
            cache = self._caches.get(uri)
        return None if cache is not None and cache.loaded else source

    def start_loading(self, workspace: Path, tracking_uri: str | None) -> None:
        """Create the workspace's cache and start its load, off the calling thread."""
        key = (workspace, tracking_uri)
        with self._lock:
            if key in self._opening:
                return  # one opening at a time: each quick page would start another
            self._opening.add(key)

        def load() -> None:
            self._wait_for_quiet()
            try:  # a SQLite store's cache loads from its tables, without waiting for MLflow
                cache = self.for_workspace(workspace, tracking_uri)
                if cache is not None:
                    cache.start_loading()
            except Exception:  # noqa: S110 - the next query that waits for the cache reports it
                pass
            finally:
                with self._lock:
                    self._opening.discard(key)

        # In the caller's context: Restricted Mode's network policy goes with it (a thread
        # would otherwise start with none, and open a store on another host).
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run, args=(load,), name="run-cache-open", daemon=True
        ).start()

    @contextlib.contextmanager
    def answering_quickly(self) -> Iterator[None]:
        """Around a view's page or experiments answered from the store's tables."""
        with self._lock:
            self._quick_busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._quick_busy -= 1
                self._quick_at = time.monotonic()

    def answering_quickly_from(self, cache: RunCache) -> contextlib.AbstractContextManager[None]:
        """`answering_quickly` around a cache's answer where it comes straight from the store
        while the cache loads (a tracking server's search, remote_page.py); nothing otherwise:
        a query that waits for the load must not hold the load back."""
        if cache.remote and not cache.loaded:
            return self.answering_quickly()
        return contextlib.nullcontext()

    def wait_for_first_answers(self) -> None:
        """Hold the server's start-up thread (MLflow's import, the caches' loads) until the Runs
        view's first answers from the tables are out: FIRST_S at most for the view to ask,
        then as `_wait_for_quiet`, then until the loads those answers started are done. Why: a
        page asked right after `initialized` waited for the GIL while that thread imported
        MLflow (0.3-0.9 s more than the page itself)."""
        began = time.monotonic()
        while time.monotonic() - began < FIRST_S:
            with self._lock:
                if self._quick_busy or self._quick_at:
                    break
            time.sleep(0.02)
        self._wait_for_quiet()
        self._wait_for_loads(LOAD_HOLD_S)

    def _wait_for_loads(self, timeout: float) -> None:
        """Wait (at most `timeout`) for the caches' loads the view's answers started: the
        view's next sort or filter waits for its cache, and MLflow's import beside the load
        made that 3-4 s later at 100,000 runs."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                opening, caches = bool(self._opening), list(self._caches.values())
            if not opening or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        for cache in caches:
            cache.wait_loaded(max(0.0, deadline - time.monotonic()))

    def _wait_for_quiet(self) -> None:
        """Hold a cache's load back until the view's first requests have had their answers
        (none in flight and QUIET_S without one, at most HOLD_S): the load keeps the GIL busy
        for seconds, and a quick page answered meanwhile took 0.5 s instead of 0.2 s at 100k."""
        began = time.monotonic()
        while time.monotonic() - began < HOLD_S:
            with self._lock:
                if not self._quick_busy and time.monotonic() - self._quick_at >= QUIET_S:
                    return
            time.sleep(0.05)

    def mark_stale(self, run_id: str | None) -> None:
        with self._lock:
            caches = list(self._caches.values())
        for cache in caches:
            cache.mark_stale(run_id)


def settle_heap() -> None:
    """Collect once, then move every object left to the collector's permanent generation.

    Why: a cache of 100,000 runs is ~370,000 objects the cyclic collector would walk in each of
    its full collections, 0.4-0.5 s every time (a comparison or a page could take 1.3 s
    instead of 0.3 s). Nothing the cache holds is cyclic, so frozen runs a later load replaces
    are still freed by their reference counts; the collection first clears the cycles a load
    through MLflow's ORM leaves, which would otherwise stay frozen for good.
    """
    gc.collect()
    gc.freeze()


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


def _lenses_after_load(server: WorkbenchServer) -> Callable[[RunCache], object]:
    """What a loaded cache does for the lenses: `_update_lenses` on a thread of its own (the
    load's thread holds the cache's lock), in the load's context."""

    def update(cache: RunCache) -> None:
        context = contextvars.copy_context()
        arguments = (_update_lenses, server, cache)
        thread = threading.Thread(target=context.run, args=arguments, name="lens-update")
        thread.daemon = True
        thread.start()

    return update


def register(server: WorkbenchServer) -> None:
    caches = RunCaches(on_loaded=_lenses_after_load(server))
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
    server.hold_start_tasks(caches.wait_for_first_answers)

    # The first page of a cold server comes from the store's tables, before MLflow is imported.
    @request(server, REQUESTS["QUERY_RUNS"], Trust.READ_LOCAL, imports_mlflow=False)
    def query_runs(ls: WorkbenchServer, params: QueryRunsParams) -> dict[str, object]:
        from mlworkbench.explorer.cached_runs import compile_filter
        from mlworkbench.explorer.run_cache import RunPage

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

            with caches.answering_quickly():
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
        # No MLflow import here: the cache imports it (whole, under its lock) before it uses it,
        # and a SQLite store's cache answers from its tables while MLflow is still loading.
        cache = caches.for_workspace(workspace, ls.tracking_uri)
        if cache is None:
            page = RunPage(runs=[], total=0, next_offset=None, scripts=[], deleted_run_ids=[])
        else:
            with caches.answering_quickly_from(cache):
                page = cache.query(
                    filter=query,
                    order_by=params.get("orderBy"),
                    experiment_id=params.get("experimentId"),
                    offset=offset,
                    limit=limit,
                    deleted=params.get("deleted", False),
                )
            if cache.loaded:  # else the lenses' page would be one more search of the server
                _update_lenses(ls, cache)
        return {"page": page.to_dict(), "running": ls.runs.running()}

    @request(server, REQUESTS["LIST_EXPERIMENTS"], Trust.READ_LOCAL, imports_mlflow=False)
    def list_experiments(ls: WorkbenchServer, params: ListExperimentsParams) -> dict[str, object]:
        from mlworkbench.explorer.first_page import experiments_from_tables
        from mlworkbench.explorer.run_cache import ExperimentInfo, sorted_experiments

        workspace = workspace_of(params)
        db = caches.loading_store(workspace, ls.tracking_uri)
        with caches.answering_quickly():
            rows = None if db is None else experiments_from_tables(db)
        if rows is not None:
            caches.start_loading(workspace, ls.tracking_uri)
            quick = sorted_experiments([ExperimentInfo(*row) for row in rows])
            return {"experiments": [asdict(e) for e in quick]}
        cache = caches.for_workspace(workspace, ls.tracking_uri)
        if cache is None:
            return {"experiments": []}
        with caches.answering_quickly_from(cache):
            found = cache.experiments()
        return {"experiments": [asdict(e) for e in found]}

    # A SQLite store is compared from its tables, MLflow or not; compare_runs imports it else.
    @request(server, REQUESTS["COMPARE_RUNS"], Trust.READ_LOCAL, imports_mlflow=False)
    def compare_runs(ls: WorkbenchServer, params: CompareRunsParams) -> dict[str, object]:
        from mlworkbench.explorer.run_compare import MIN_POINTS, compare_runs

        workspace = workspace_of(params)
        max_points = params.get("maxPoints", 2000)
        if max_points < MIN_POINTS:
            raise JsonRpcException(
                code=types.ErrorCodes.InvalidParams,
                message=f"'maxPoints' must be at least {MIN_POINTS}",
            )
        # The cache's client, if MLflow is needed at all (a SQLite store is compared from its
        # tables): its store is checked once, not on each comparison (0.6 s at 100k).
        cache = caches.for_workspace(workspace, ls.tracking_uri)
        # A point is a tuple: 30,000 of them would trip the collector, which then walks the
        # heap (0.15-0.2 s with MLflow imported) inside the comparison; the read makes no cycle.
        with collector_paused():
            data = compare_runs(
                workspace,
                params["runIds"],
                tracking_uri=ls.tracking_uri,
                max_points=max_points,
                client_factory=None if cache is None else cache.client,
            )
        return data.to_dict()
