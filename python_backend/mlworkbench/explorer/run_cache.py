"""An in-memory summary of a tracking store's runs, so the Runs view pages fast on 10,000 runs.

`search_runs` costs a query per page and a full scan per filter; the view asks for pages on every
scroll, sort and keystroke. The cache reads the store once through MLflow's client, answers
queries in Python with exactly MLflow's semantics (`cached_runs`), and keeps itself fresh
incrementally: each query first checks cheaply whether the store changed (for SQLite the stat of
`mlflow.db` and its `-wal` plus the header's change counter; for other stores a short TTL), and
then re-reads only runs started since the newest known start, runs it holds as RUNNING and runs
passed to `mark_stale`. A change nothing of that explains (an edit from the MLflow UI, a
deletion elsewhere) or `mark_stale(None)` reloads everything in the same call; so does a change
once a minute (or 20 reads' time, for large stores), which catches an edit elsewhere that new
runs logging at the same moment would otherwise hide.

Metrics a run logged as NaN are left out of the pages' run summaries: JSON has no NaN, and the
Runs view shows a missing value the same way. Filters and orders still see them as MLflow does.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mlworkbench.explorer.cached_runs import (
    CachedRun,
    cached_run,
    compile_filter,
    default_order,
    filter_cached,
    same_run,
    sort_cached,
)
from mlworkbench.explorer.run_columns import PickedRuns
from mlworkbench.explorer.run_filter import OrderKey, parse_order_by
from mlworkbench.explorer.run_listing import SCRIPT_TAG, RunSummary, summary_of
from mlworkbench.tracking.gc_pause import collector_paused

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlworkbench.explorer.remote_page import PageAsk, RunSearch
    from mlworkbench.explorer.rest_search import RestReader
    from mlworkbench.explorer.run_columns import RunColumns

_Read = TypeVar("_Read")

_PAGE = 50_000  # MLflow's largest search page
# A tracking server builds a whole page before it answers: 5,000 runs took 12 s from one on
# PostgreSQL (100,000 runs), and a 50,000-run page passed the client's 120 s read timeout, so
# a cache on a server of 100,000 runs never loaded. Pages this size answer well within it.
_REMOTE_PAGE = 5_000
_ID_CHUNK = 100  # run ids per `attributes.run_id IN (...)` query
_MEMO = 32  # query results (and filtered scopes) kept per generation of the data
_CHECK_NEWEST = 100  # runs of the first table read compared with MLflow's: the newest page,
_CHECK_RANDOM = 100  # and a random sample
_LIVE = ("RUNNING", "SCHEDULED")  # statuses whose runs may still change: re-read on a change


@dataclass(frozen=True)
class ExperimentInfo:
    experiment_id: str
    name: str
    lifecycle_stage: str
    run_count: int  # active runs (none known yet where `run_count_known` is False)
    # False: a tracking server's experiments listed while the cache still reads its runs
    # (remote_page.py): MLflow's API counts nothing, and the count is not known yet.
    run_count_known: bool = True


def sorted_experiments(infos: list[ExperimentInfo]) -> list[ExperimentInfo]:
    """Active experiments first, then deleted ones; by name, then id."""
    return sorted(infos, key=lambda e: (e.lifecycle_stage != "active", e.name, e.experiment_id))


@dataclass(frozen=True)
class RunPage:
    runs: list[RunSummary]
    total: int  # runs matching the query (a lower bound where `total_known` is False)
    next_offset: int | None  # None when this is the last page
    scripts: list[str]  # distinct RunSummary.script values among all matches
    deleted_run_ids: list[str]  # runs on this page that are deleted (a `deleted` query)
    # True: answered from the store's tables while the cache still loads (first_page.py); the
    # same runs the cache will answer, and the view may say "loading N runs…" meanwhile.
    loading: bool = False
    # False: a tracking server's page asked while the cache loads (remote_page.py), which
    # cannot count the matches: `total` is the runs seen so far, and more exist.
    total_known: bool = True

    def to_dict(self) -> dict[str, object]:
        """`asdict`'s answer, each run through RunSummary.to_dict (no deep copy)."""
        return {
            **vars(self),
            "runs": [run.to_dict() for run in self.runs],
            "scripts": list(self.scripts),
            "deleted_run_ids": list(self.deleted_run_ids),
        }


@dataclass(frozen=True)
class _Experiment:
    name: str
    lifecycle_stage: str


_Signature = tuple[object, ...] | None


class RunCache:
    """The runs of one tracking URI; every method is safe to call from several threads."""

    def __init__(
        self,
        tracking_uri: str,
        *,
        ttl_s: float = 2.0,
        full_reload_s: float = 60.0,
        first_page_while_loading: bool = False,
        opener: Callable[[], object] | None = None,
        on_loaded: Callable[[], object] | None = None,
        on_checked: Callable[[], object] | None = None,
        load_gate: Callable[[], object] | None = None,
    ):
        from mlworkbench.launch.child.store_open import sqlite_path

        self.tracking_uri = tracking_uri
        from mlworkbench.explorer.pg_tables import is_postgres

        self._db = sqlite_path(tracking_uri)
        # Where the store's tables can be read straight (store_tables.py, pg_tables.py).
        self._tables: Path | str | None = self._db
        if self._db is None and is_postgres(tracking_uri):
            self._tables = tracking_uri
        from mlworkbench.explorer.remote_page import is_remote

        self._remote = is_remote(tracking_uri)  # a tracking server: read over REST
        self._page_size = _REMOTE_PAGE if self._remote else _PAGE
        self._ttl_s = ttl_s  # stores that cannot be stat'ed: how long a read counts as fresh
        self._full_reload_s = full_reload_s  # how often any store is read whole while it changes
        self._lock = threading.RLock()
        self._client: MlflowClient | None = None
        # The pre-open checks, run before MLflow's client first opens the store (the server
        # passes them, so a SQLite store is read from its tables before MLflow is imported).
        self._opener = opener
        self._on_loaded = on_loaded  # after each whole read is in place (the server's GC freeze)
        # After the check of a table read against MLflow, on its thread: the check imports
        # MLflow with the collector paused, and the server freezes what that left (a first
        # collection walked it all, 0.17 s, inside whichever request came next).
        self._on_checked = on_checked
        # Called by the load's thread before it reads (the server holds the load back until the
        # view's first quick answers are out: the load keeps the GIL, and a server, busy).
        self._load_gate = load_gate
        self._connect_lock = threading.Lock()
        self._runs: dict[str, CachedRun] = {}
        self._experiments: dict[str, _Experiment] = {}
        self._loaded = False
        self._signature: _Signature = None
        self._checked_at = 0.0
        self._full_at = 0.0
        self._full_cost_s = 0.0  # how long the last whole read took
        self._generation = 0
        # query -> (generation, matches: runs or column positions, scripts)
        self._memo: OrderedDict[tuple[object, ...], tuple[int, Any, list[str]]] = OrderedDict()
        self._ordered: tuple[int, list[CachedRun]] = (-1, [])  # (generation, runs) in default order
        # Whether numpy is there for columns: asked on first use, not here, since a cache is
        # made inside a cold view's first request and numpy's import takes 0.12 s.
        self._use_columns: bool | None = None
        self._columns: tuple[int, RunColumns | None] = (-1, None)  # (generation, its columns)
        self._live: tuple[int, int | None, set[str]] = (-1, None, set())  # _newest_and_live's
        self._stale_lock = threading.Lock()
        self._stale: set[str] = set()
        self._stale_all = False
        self.full_reloads = 0  # how often the whole store was read (tests and benches look)
        # The server's caches answer the default page from SQL while they load (first_page.py);
        # off by default so a library caller's first query is the cache's own answer.
        self._first_page_while_loading = first_page_while_loading
        self._loader: threading.Thread | None = None
        # The periodic whole read of a changing store, in the background (one at a time), and
        # the runs incremental reads changed since it began (None: none under way).
        self._reloader: threading.Thread | None = None
        self._changed_since_read: set[str] | None = None
        self.background_reloads = 0
        # A remote store's incremental read, in the background (one at a time).
        self._background_check: threading.Thread | None = None
        self.background_checks = 0  # incremental reads done there (tests and benches look)
        self.quick_pages = 0  # pages answered by first_page.py (tests and benches look)
        self.rest_reads = 0  # quick answers read over REST without MLflow (rest_search.py)
        self.served_reads = 0  # quick answers from the workspace server's tables
        # Whole reads straight from the SQLite tables (store_tables.py): None until the first
        # one was checked against MLflow, then whether it matched (False: MLflow reads only).
        self._tables_ok: bool | None = None
        self._checker: threading.Thread | None = None
        self.table_checks = 0  # how often a table read was checked against MLflow
        self.table_reads = 0  # whole reads answered from the tables

    # --- public API -----------------------------------------------------------------------

    def query(
        self,
        *,
        filter: str | None = None,
        order_by: str | None = None,
        experiment_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
        deleted: bool = False,
    ) -> RunPage:
        """One page of the runs matching `filter`, in `order_by`'s order (default: newest first).

        `deleted` lists only deleted runs (MLflow's DELETED_ONLY view). Errors: InvalidFilterError
        (filter or order key, with its position), UnknownExperimentError, or the deleted-experiment
        error.
        """
        if offset < 0 or limit < 1:
            raise ValueError(f"offset must be >= 0 and limit >= 1, got {offset} and {limit}")
        order = _order_key(order_by)
        if order == OrderKey("attributes", "start_time", ascending=False):
            order = None  # MLflow's default order, spelled out
        compile_filter(filter)  # an invalid filter fails before the store is read
        if not self._loaded and self._first_page_while_loading:
            quick = None
            if self._remote:  # one search over REST, for any filter and order
                from mlworkbench.explorer.remote_page import PageAsk

                quick = self._quick_remote_page(
                    PageAsk(filter, order, experiment_id, offset, limit, deleted)
                )
            elif order is None and not filter:
                self.start_loading()
                quick = self._quick_page(experiment_id, offset, limit, deleted)
            if quick is not None:
                return quick
        with self._lock:
            self._refresh()
            if experiment_id is not None:
                self._check_experiment(experiment_id)
            matches, scripts = self._matches(filter or "", order, experiment_id, deleted)
            window = matches[offset : offset + limit]
            end = offset + len(window)
            return RunPage(
                runs=[self._summary(run) for run in window],
                total=len(matches),
                next_offset=end if end < len(matches) else None,
                scripts=scripts,
                deleted_run_ids=[r.run_id for r in window if r.lifecycle_stage != "active"],
            )

    @property
    def remote(self) -> bool:
        """Whether the store is a tracking server (pages answer over REST while it loads)."""
        return self._remote

    @property
    def loaded(self) -> bool:
        """Whether the store has been read whole once (queries no longer wait for it)."""
        return self._loaded

    def client(self) -> MlflowClient:
        """The MLflow client this cache reads with (its store passed the pre-open checks)."""
        return self._connect()

    def start_loading(self) -> None:
        """Read the store into the cache on a background thread, once; returns at once.

        Meanwhile the default page is answered from SQL (`first_page_while_loading`); any other
        query waits for the load, as before. A failed load is left for the next query to retry
        in its own thread, which then reports the error to its caller.
        """
        with self._stale_lock:
            if self._loaded or self._loader is not None:
                return
            self._loader = threading.Thread(
                target=self._load_quietly, name="run-cache-load", daemon=True
            )
            self._loader.start()

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Wait for `start_loading`'s thread; True when the cache is loaded."""
        loader = self._loader
        if loader is not None:
            loader.join(timeout)
        return self._loaded

    def _load_quietly(self) -> None:
        try:
            if self._load_gate is not None:
                self._load_gate()
            with self._lock:
                if not self._loaded:
                    self._refresh()
        except Exception:  # the next query reloads and reports it
            with self._stale_lock:
                self._loader = None

    def _quick_page(
        self, experiment_id: str | None, offset: int, limit: int, deleted: bool
    ) -> RunPage | None:
        from mlworkbench.explorer.first_page import quick_run_page

        if self._tables is None:
            return None
        page = quick_run_page(
            self._tables, experiment_id=experiment_id, offset=offset, limit=limit, deleted=deleted
        )
        if page is None or self._loaded:  # loaded meanwhile: the cache's answer is fresher
            return None
        self.quick_pages += 1
        return page

    def _quick_remote_page(self, ask: PageAsk) -> RunPage | None:
        """A tracking server's page while the cache reads the server whole: the default page
        from the workspace server's tables (first_page_route.py), else one search
        (remote_page.py); None when not answered that way (the cache answers, or reports)."""
        from mlworkbench.explorer import first_page_route
        from mlworkbench.explorer.remote_page import remote_page

        try:
            page = None
            if ask.order is None and not ask.filter:
                page = self._from_server_tables(lambda r: first_page_route.ask_page(r, ask))
            if page is None:
                search, experiments = self._remote_reader()
                page = remote_page(search, experiments, run_summary, ask)
        except Exception:  # the cache's own read reports what is wrong
            page = None
        finally:
            self.start_loading()  # after the search: the two would share the server's workers
        if page is None or self._loaded:  # loaded meanwhile: the cache's answer is exact
            return None
        self.quick_pages += 1
        return page

    def _quick_remote_experiments(self) -> list[ExperimentInfo] | None:
        """A tracking server's experiments while the cache loads: with run counts from the
        workspace server's tables, else from MLflow's search without them."""
        from mlworkbench.explorer import first_page_route

        infos: list[ExperimentInfo] | None
        try:
            rows = self._from_server_tables(first_page_route.ask_experiments)
            if rows is not None:
                infos = [ExperimentInfo(*row) for row in rows]
            else:
                infos = [
                    ExperimentInfo(i, name, stage, 0, run_count_known=False)
                    for i, (name, stage) in self._remote_reader()[1].items()
                ]
        except Exception:  # the cache's own read reports what is wrong
            infos = None
        finally:
            self.start_loading()
        if infos is None or self._loaded:
            return None
        return sorted_experiments(infos)

    def _from_server_tables(self, read: Callable[[RestReader], _Read]) -> _Read | None:
        """What `read` asks the workspace's own server (first_page_route.py); None where
        that server does not answer it (another MLflow server, a store its tables cannot
        read) or MLflow's client would send more than a RestReader does. Other errors (the
        server is down) reach the caller, so they are not met twice."""
        from mlworkbench.explorer.rest_search import RestReader
        from mlworkbench.explorer.store_tables import Unsupported

        try:
            answer = read(RestReader.for_uri(self.tracking_uri))
        except Unsupported:
            return None
        self.served_reads += 1
        return answer

    def _remote_reader(self) -> tuple[RunSearch, dict[str, tuple[str, str]]]:
        """A tracking server's search and experiments while the cache loads: over REST without
        MLflow where its client would ask the same (rest_search.py: no import, seconds sooner
        on a cold server), else through MLflow's client."""
        from mlworkbench.explorer.remote_page import experiments_of, mlflow_search
        from mlworkbench.explorer.rest_search import RestReader
        from mlworkbench.explorer.store_tables import Unsupported

        try:
            reader = RestReader.for_uri(self.tracking_uri)
        except Unsupported:
            client = self._connect()  # its pre-open checks' typed errors reach the caller
            return mlflow_search(client), experiments_of(client)
        self.rest_reads += 1
        return reader.search_runs, reader.experiments()

    def experiments(self) -> list[ExperimentInfo]:
        """Every experiment (active first, then deleted; by name) with its active run count."""
        if not self._loaded and self._first_page_while_loading and self._remote:
            quick = self._quick_remote_experiments()
            if quick is not None:
                return quick
        if not self._loaded and self._first_page_while_loading and self._tables is not None:
            from mlworkbench.explorer.first_page import experiments_from_tables

            self.start_loading()
            rows = experiments_from_tables(self._tables)
            if rows is not None and not self._loaded:
                return sorted_experiments([ExperimentInfo(*row) for row in rows])
        with self._lock:
            self._refresh()
            counts: dict[str, int] = {}
            for run in self._runs.values():
                if run.lifecycle_stage == "active":
                    counts[run.experiment_id] = counts.get(run.experiment_id, 0) + 1
            infos = [
                ExperimentInfo(i, e.name, e.lifecycle_stage, counts.get(i, 0))
                for i, e in self._experiments.items()
            ]
        return sorted_experiments(infos)

    def mark_stale(self, run_id: str | None) -> None:
        """The next query re-reads this run (None: everything may have changed)."""
        with self._stale_lock:
            if run_id is None:
                self._stale_all = True
            else:
                self._stale.add(run_id)

    # --- queries --------------------------------------------------------------------------

    def _check_experiment(self, experiment_id: str) -> None:
        from mlworkbench.errors import ExperimentDeletedError, UnknownExperimentError

        experiment = self._experiments.get(experiment_id)
        if experiment is None:
            active = sorted(
                e.name for e in self._experiments.values() if e.lifecycle_stage == "active"
            )
            raise UnknownExperimentError(experiment_id, active)
        if experiment.lifecycle_stage != "active":
            raise ExperimentDeletedError(experiment_id, experiment.name)

    def _matches(
        self, query: str, order: OrderKey | None, experiment_id: str | None, deleted: bool
    ) -> tuple[Sequence[CachedRun], list[str]]:
        """The matches in `order`, and their scripts; memoised (per generation of the data)
        by the whole query, and the filtered runs by the filter alone, so a new sort of the
        same runs is one sort. Through the runs' columns where numpy is there (run_columns.py:
        a new filter and sort of 100,000 runs in milliseconds), else in Python."""
        key = (query, order, experiment_id, deleted)
        memo = self._memo.get(key)
        if memo is not None and memo[0] == self._generation:
            self._memo.move_to_end(key)
            return memo[1], memo[2]
        scope = ("matched", query, experiment_id, deleted)  # the filter's runs, unordered
        unordered = self._memo.get(scope)
        if unordered is None or unordered[0] != self._generation:
            unordered = None
        columns = self._columns_now()
        ordered: Sequence[CachedRun]
        if columns is not None:
            if unordered is not None:
                positions, scripts = unordered[1], unordered[2]
            else:
                within = columns.scope(self._scope_experiments(experiment_id), deleted)
                positions = columns.matching(query, within)
                scripts = columns.scripts(positions)
            matched: object = positions
            ordered = PickedRuns(columns.runs, columns.ordered(positions, order))
        else:
            if unordered is not None:
                matched, scripts = unordered[1], unordered[2]
            else:
                matched, scripts = self._filtered(query, experiment_id, deleted)
            ordered = sort_cached(matched, order, in_default_order=True)  # type: ignore[arg-type]
        self._memo[scope] = (self._generation, matched, scripts)
        self._memo.move_to_end(scope)
        self._memo[key] = (self._generation, ordered, scripts)
        while len(self._memo) > _MEMO:
            self._memo.popitem(last=False)
        return ordered, scripts

    def _scope_experiments(self, experiment_id: str | None) -> frozenset[str]:
        if experiment_id is not None:
            return frozenset({experiment_id})
        return frozenset(i for i, e in self._experiments.items() if e.lifecycle_stage == "active")

    def _columns_now(self) -> RunColumns | None:
        """This generation's columns (None without numpy: the Python path answers)."""
        if self._use_columns is None:
            from mlworkbench.explorer.run_columns import numpy_available

            self._use_columns = numpy_available()
        if not self._use_columns:
            return None
        if self._columns[0] != self._generation:
            from mlworkbench.explorer.run_columns import RunColumns

            self._columns = (self._generation, RunColumns(self._in_default_order()))
        return self._columns[1]

    def _prebuild_columns(self) -> None:
        """After a whole read: build the commonest columns off the query path, so the first
        filter or sort of each key finds its column (~25 ms each at 100,000 runs)."""
        columns = self._columns_now()
        if columns is not None:
            threading.Thread(target=columns.prebuild, name="run-cache-columns", daemon=True).start()

    def _filtered(
        self, query: str, experiment_id: str | None, deleted: bool
    ) -> tuple[list[CachedRun], list[str]]:
        """The runs `query` matches in the scope, in MLflow's default order, and their scripts."""
        experiments = self._scope_experiments(experiment_id)
        scope = (None, None, experiment_id, deleted)  # the scope's runs, whatever the filter
        memo = self._memo.get(scope)
        if memo is not None and memo[0] == self._generation:
            in_scope = memo[1]
        else:
            in_scope = [
                run
                for run in self._in_default_order()
                if run.experiment_id in experiments and (run.lifecycle_stage != "active") == deleted
            ]
            self._memo[scope] = (self._generation, in_scope, [])
        matched = filter_cached(query, in_scope)
        scripts = sorted({s for run in matched if (s := run.tags.get(SCRIPT_TAG))})
        return matched, scripts

    def _in_default_order(self) -> list[CachedRun]:
        """Every run in MLflow's default order, sorted once per generation of the data."""
        if self._ordered[0] != self._generation:
            self._ordered = (self._generation, default_order(list(self._runs.values())))
        return self._ordered[1]

    def _summary(self, run: CachedRun) -> RunSummary:
        experiment = self._experiments.get(run.experiment_id)
        return run_summary(run, experiment.name if experiment else run.experiment_id)

    # --- freshness ------------------------------------------------------------------------

    def _refresh(self) -> None:
        with collector_paused():  # reads build an ORM object per run, param, tag (gc_pause.py)
            self._refresh_now()

    def _refresh_now(self) -> None:
        with self._stale_lock:
            stale, everything = self._stale, self._stale_all
            self._stale, self._stale_all = set(), False
        now = time.monotonic()
        if not self._loaded or everything:
            self._full_reload()
            return
        if self._db is not None:
            signature = self._store_signature()
            if signature == self._signature and signature is not None and not stale:
                return
        else:
            signature = None
            if now - self._checked_at < self._ttl_s and not stale:
                return
            if not stale:
                # Nothing this server changed: answer from what the cache holds and ask the
                # store what changed in the background (through MLflow's client, 0.1-0.5 s
                # over HTTP, which a new sort or filter waited for); the next query sees it.
                self._checked_at = now
                self._start_background_check()
                return
        if now - self._full_at >= self._full_every():
            # An edit elsewhere to an older run (the MLflow UI, the CLI) while other runs log:
            # the incremental read explains the change by the new data and misses the edit.
            # A changed store is read whole now and then, so nothing stays stale long; in the
            # background, so queries keep answering meanwhile (a tracking server of 100,000
            # runs takes minutes to read whole).
            self._start_background_reload()
        self._checked_at = now
        changed = self._incremental(stale)
        if not changed and self._db is not None and signature != self._signature:
            self._full_reload()  # the file changed and nothing we know of explains it
            return
        self._signature = signature

    def _start_background_reload(self) -> None:
        with self._stale_lock:
            if self._reloader is not None:
                return
            self._full_at = time.monotonic()  # one at a time, and not again straight away
            self._changed_since_read = set()
            self._reloader = threading.Thread(
                target=self._reload_in_background, name="run-cache-reload", daemon=True
            )
            self._reloader.start()

    def _reload_in_background(self) -> None:
        """Read the store whole off the query path, then swap it in; what incremental reads
        changed meanwhile (newer than the whole read, perhaps) is re-read by the next query."""
        try:
            with collector_paused():
                read = self._read_whole()
            with self._lock:
                with self._stale_lock:
                    changed, self._changed_since_read = self._changed_since_read, None
                # The signature the queries since have seen stays: what they applied is
                # re-read now (marked stale), newer than the whole read's snapshot perhaps.
                experiments, runs, _, started, ended = read
                self._install(experiments, runs, self._signature, started, ended)
                self.background_reloads += 1
                for run_id in changed or ():
                    self.mark_stale(run_id)
        except Exception:  # noqa: S110 - the next due read tries again; queries are unaffected
            pass
        finally:
            with self._stale_lock:
                self._changed_since_read = None
                self._reloader = None

    def wait_reloaded(self, timeout: float | None = None) -> None:
        """Wait for a background whole read, if one is under way (tests and benches)."""
        reloader = self._reloader
        if reloader is not None:
            reloader.join(timeout)

    def _full_every(self) -> float:
        """Seconds between whole reads of a changing store: at least `full_reload_s`, and at
        least 20 reads' time, so a large store spends at most 5% of its time being re-read."""
        return max(self._full_reload_s, 20 * self._full_cost_s)

    def _store_signature(self) -> _Signature:
        """What changes when SQLite commits: the file's and its WAL's stat, the change counter."""
        assert self._db is not None
        parts: list[object] = []
        for path in (self._db, self._db.with_name(self._db.name + "-wal")):
            try:
                stat = path.stat()
            except OSError:
                parts.append(None)
                continue
            parts.append((stat.st_mtime_ns, stat.st_size, stat.st_ino))
        try:
            with self._db.open("rb") as file:
                parts.append(file.read(28)[24:28])  # the header's file change counter
        except OSError:
            return None
        return tuple(parts)

    def _connect(self) -> MlflowClient:
        with self._connect_lock:
            if self._client is None:
                from mlworkbench.tracking.mlflow_import import ensure_mlflow_imported

                ensure_mlflow_imported()  # whole, before any part of it (mlflow_import.py)
                if self._opener is not None:
                    self._opener()  # raises the library's typed errors (a store not to open)
                from mlflow.tracking import MlflowClient

                self._client = MlflowClient(tracking_uri=self.tracking_uri)
            return self._client

    def _read_experiments(self) -> dict[str, _Experiment]:
        client = self._connect()  # first: it imports MLflow whole
        from mlflow.entities import ViewType

        found: dict[str, _Experiment] = {}
        token: str | None = None
        while True:
            page = client.search_experiments(
                view_type=ViewType.ALL, max_results=_PAGE, page_token=token
            )
            for e in page:
                found[e.experiment_id] = _Experiment(e.name, e.lifecycle_stage)
            token = page.token
            if not token:
                return found

    def _search(self, experiment_ids: list[str], filter_string: str) -> list[CachedRun]:
        if not experiment_ids:
            return []
        client = self._connect()  # first: it imports MLflow whole
        from mlflow.entities import ViewType

        out: list[CachedRun] = []
        token: str | None = None
        while True:
            page = client.search_runs(
                experiment_ids,
                filter_string,
                run_view_type=ViewType.ALL,
                max_results=self._page_size,
                page_token=token,
            )
            out.extend(cached_run(run) for run in page)
            token = page.token
            if not token:
                return out

    def _full_reload(self) -> None:
        self._install(*self._read_whole())

    def _read_whole(
        self,
    ) -> tuple[dict[str, _Experiment], list[CachedRun], _Signature, float, float]:
        """(experiments, runs, store signature, start, end) of one whole read."""
        started = time.monotonic()
        signature = self._store_signature() if self._db is not None else None
        read = self._read_tables()
        if read is None:
            experiments = self._read_experiments()
            runs = self._search(list(experiments), "")
        else:
            experiments, runs = read
        return experiments, runs, signature, started, time.monotonic()

    def _install(
        self,
        experiments: dict[str, _Experiment],
        runs: list[CachedRun],
        signature: _Signature,
        started: float,
        ended: float,
    ) -> None:
        self._experiments = experiments
        self._runs = {run.run_id: run for run in runs}
        self._loaded = True
        self._signature = signature
        self._checked_at = self._full_at = ended
        self._full_cost_s = ended - started
        self._generation += 1
        self.full_reloads += 1
        self._in_default_order()  # here, not in the first query after a load (0.1 s at 100k)
        self._newest_and_live()  # and what the next incremental read asks for
        self._prebuild_columns()
        if self._on_loaded is not None:
            self._on_loaded()

    def _read_tables(self) -> tuple[dict[str, _Experiment], list[CachedRun]] | None:
        """The whole store read straight from its tables (store_tables.py, pg_tables.py; on a
        tracking server, by the workspace's own server: store_route.py), or None: another
        store, a schema it does not know, an error, or a reader MLflow did not confirm
        (`_check_tables`: then this cache always reads through MLflow).

        Why: MLflow's client builds an ORM object per run, metric, param and tag; 100,000 runs
        took about a minute that way (minutes from a tracking server, 5,000 runs a request)
        and the tables read in a few seconds.
        """
        if (self._tables is None and not self._remote) or self._tables_ok is False:
            return None
        try:
            rows, runs = self._read_store()
        except Exception:  # Unsupported, sqlite3's or psycopg's errors: MLflow reads it
            return None
        if self._tables_ok is None:
            self._start_table_check(runs)
        self.table_reads += 1
        return {i: _Experiment(name, stage) for i, (name, stage) in rows.items()}, runs

    def _read_store(self) -> tuple[dict[str, tuple[str, str]], list[CachedRun]]:
        if self._remote:  # the workspace's own server reads its tables (store_route.py)
            return self._served_store(None)
        if isinstance(self._tables, Path):
            from mlworkbench.explorer.store_tables import read_store

            return read_store(self._tables)
        from mlworkbench.explorer import pg_tables

        assert self._tables is not None
        return pg_tables.read_store(self._tables)

    def _read_runs(self, ids: list[str]) -> tuple[dict[str, tuple[str, str]], list[CachedRun]]:
        if self._remote:
            return self._served_store(ids)
        if isinstance(self._tables, Path):
            from mlworkbench.explorer.store_tables import read_runs

            return read_runs(self._tables, ids)
        from mlworkbench.explorer import pg_tables

        assert self._tables is not None
        return pg_tables.read_runs(self._tables, ids)

    def _served_store(
        self, run_ids: list[str] | None
    ) -> tuple[dict[str, tuple[str, str]], list[CachedRun]]:
        """The store (or these runs) as a tracking server reads its own tables; Unsupported
        from any other server (404), or where MLflow's client would send more than we do."""
        from mlworkbench.explorer import store_route
        from mlworkbench.explorer.rest_search import RestReader

        return store_route.ask(RestReader.for_uri(self.tracking_uri), run_ids)

    def _start_table_check(self, runs: list[CachedRun]) -> None:
        """Compare the tables with MLflow for the newest and a random sample of `runs`, once, in
        the background: the cache answers from the tables meanwhile (as the first page does
        before any load), and MLflow's import and the pre-open checks wait for no query."""
        import heapq
        import random

        with self._stale_lock:
            if self._checker is not None:
                return
            newest = heapq.nsmallest(
                _CHECK_NEWEST,
                runs,
                key=lambda r: (r.start_time is None, -(r.start_time or 0), r.run_id),
            )
            sample = random.sample(runs, min(_CHECK_RANDOM, len(runs)))
            ids = sorted({run.run_id for run in [*newest, *sample] if "'" not in run.run_id})
            self._checker = threading.Thread(
                target=self._check_tables, args=(ids,), name="run-cache-check", daemon=True
            )
            self._checker.start()

    def _check_tables(self, ids: list[str]) -> None:
        ok = False
        # A store MLflow cannot read: the MLflow path reports it to the next query.
        with contextlib.suppress(Exception):
            # Twice at most: a run that changed between the two reads is not a difference.
            ok = self._same_as_mlflow(ids) or self._same_as_mlflow(ids)
        self._tables_ok = ok
        self.table_checks += 1
        if not ok:
            self.mark_stale(None)  # the next query reads everything again, through MLflow
        if self._on_checked is not None:
            self._on_checked()

    def wait_checked(self, timeout: float | None = None) -> bool | None:
        """Wait for the check of the first table read; whether the tables matched MLflow."""
        checker = self._checker
        if checker is not None:
            checker.join(timeout)
        return self._tables_ok

    def _same_as_mlflow(self, ids: list[str]) -> bool:
        """Whether the tables and MLflow's client answer the same experiments, and the same
        runs (and none missing on either side) for `ids`.

        A run that is live (RUNNING, SCHEDULED) in either read is left out of the comparison
        while finished ones are there to compare: it may log between the two reads, and on a
        store being trained into (a sweep running as the view opens) each attempt saw such a
        difference, so the check failed and the cache read through MLflow for good (a minute
        at 100,000 runs, at each whole read). Live runs are read again at every incremental
        read anyway."""
        with collector_paused():
            experiments = self._read_experiments()
            found: dict[str, CachedRun] = {}
            for start in range(0, len(ids), _ID_CHUNK):
                chunk = ", ".join(f"'{i}'" for i in ids[start : start + _ID_CHUNK])
                query = f"attributes.run_id IN ({chunk})"
                found.update((r.run_id, r) for r in self._search(list(experiments), query))
            rows, runs = self._read_runs(ids)
        if {i: _Experiment(name, stage) for i, (name, stage) in rows.items()} != experiments:
            return False
        tables = {run.run_id: run for run in runs}
        if tables.keys() != found.keys():
            return False
        live = {i for i, run in tables.items() if run.status in _LIVE or found[i].status in _LIVE}
        compared = [i for i in tables if i not in live] or list(tables)
        return all(same_run(found[i], tables[i]) for i in compared)

    def _incremental(self, stale: set[str]) -> bool:
        """Re-read what may have changed; False when nothing did (the change is unexplained)."""
        read = self._read_changes(self._plan_changes(stale))
        if read is None:
            self._full_reload()  # renamed, deleted or restored: runs may have moved with it
            return True
        return self._apply_changes(*read)

    def _plan_changes(self, stale: set[str]) -> _Plan:
        """What an incremental read asks the store, from what the cache holds now."""
        newest, live = self._newest_and_live()
        return _Plan(
            generation=self._generation,
            experiments=dict(self._experiments),
            since="" if newest is None else f"attributes.start_time >= {newest}",
            wanted=sorted(stale | live),
        )

    def _newest_and_live(self) -> tuple[int | None, set[str]]:
        """The newest start time and the runs that may still change (RUNNING, SCHEDULED), once
        per generation of the data: a pass over 100,000 runs held the cache's lock for 20-60 ms
        at every check of a remote store, and a query waited behind it."""
        if self._live[0] != self._generation:
            starts = [r.start_time for r in self._runs.values() if r.start_time is not None]
            live = {i for i, r in self._runs.items() if r.status in _LIVE}
            self._live = (self._generation, max(starts) if starts else None, live)
        return self._live[1], self._live[2]

    def _read_changes(
        self, plan: _Plan
    ) -> tuple[dict[str, _Experiment], list[str], dict[str, CachedRun]] | None:
        """(experiments, wanted ids, runs read) of `plan`, through MLflow's client; None when an
        experiment the cache knows changed (the caller reads everything again)."""
        experiments = self._read_experiments()
        if any(experiments.get(i) != e for i, e in plan.experiments.items()):
            return None
        added = [i for i in experiments if i not in plan.experiments]
        fetched = {r.run_id: r for r in self._search(added, "")}
        known = list(plan.experiments)
        fetched.update((r.run_id, r) for r in self._search(known, plan.since))
        wanted = plan.wanted
        for start in range(0, len(wanted), _ID_CHUNK):
            ids = ", ".join(f"'{i}'" for i in wanted[start : start + _ID_CHUNK] if "'" not in i)
            if ids:
                fetched.update(
                    (r.run_id, r) for r in self._search(known, f"attributes.run_id IN ({ids})")
                )
        return experiments, wanted, fetched

    def _apply_changes(
        self, experiments: dict[str, _Experiment], wanted: list[str], fetched: dict[str, CachedRun]
    ) -> bool:
        """Put what `_read_changes` found in place; False when nothing changed."""
        added = [i for i in experiments if i not in self._experiments]
        gone = [i for i in wanted if i not in fetched and i in self._runs]  # deleted for good
        changed = [r for i, r in fetched.items() if not same_run(self._runs.get(i), r)]
        if not (added or gone or changed):
            return False
        self._experiments = experiments
        for run_id in gone:
            del self._runs[run_id]
        self._runs.update((r.run_id, r) for r in changed)
        with self._stale_lock:
            if self._changed_since_read is not None:
                self._changed_since_read.update(gone, (r.run_id for r in changed))
        self._generation += 1
        return True

    def _start_background_check(self) -> None:
        with self._stale_lock:
            if self._background_check is not None:
                return  # one at a time; the next due query starts another
            self._background_check = threading.Thread(
                target=self._check_in_background, name="run-cache-refresh", daemon=True
            )
            self._background_check.start()

    def _check_in_background(self) -> None:
        """An incremental read off the query path: planned and applied under the cache's lock,
        read without it. Dropped when the data moved on meanwhile (a whole read, the server's
        own changes): what it read may be older than that, and the next due query asks again."""
        try:
            with self._lock:
                plan = self._plan_changes(set())
                due = time.monotonic() - self._full_at >= self._full_every()
            with collector_paused():
                read = self._read_changes(plan)
            with self._lock:
                if self._generation != plan.generation:
                    return
                if read is None:  # an experiment changed: read everything, still off the path
                    self._start_background_reload()
                    return
                if due:  # as on the query path: a changed store is read whole now and then
                    self._start_background_reload()
                self._apply_changes(*read)
                self.background_checks += 1
        except Exception:  # noqa: S110 - the next due query asks again; queries are unaffected
            pass
        finally:
            with self._stale_lock:
                self._background_check = None

    def wait_checked_changes(self, timeout: float | None = None) -> None:
        """Wait for a background incremental read, if one is under way (tests and benches)."""
        checker = self._background_check
        if checker is not None:
            checker.join(timeout)


@dataclass(frozen=True)
class _Plan:
    """What an incremental read asks for: runs started since the newest, and these ids."""

    generation: int
    experiments: dict[str, _Experiment]
    since: str
    wanted: list[str]


def run_summary(run: CachedRun, experiment_name: str) -> RunSummary:
    """What a page shows of a cached run."""
    return summary_of(
        run_id=run.run_id,
        experiment_id=run.experiment_id,
        experiment_name=experiment_name,
        run_name=run.run_name,
        status=run.status,
        start_time=run.start_time,
        end_time=run.end_time,
        metrics=run.metrics,
        params=run.params,
        tags=run.tags,
    )


def _order_key(text: str | None) -> OrderKey | None:
    """run_filter's order key, refusing what MLflow's search refuses (`experiment_id`)."""
    from mlworkbench.errors import InvalidFilterError

    if not text or not text.strip():
        return None
    key = parse_order_by(text)
    if key.kind == "attributes" and key.name == "experiment_id":
        raise InvalidFilterError("MLflow cannot order runs by experiment_id", text, 0)
    return key
