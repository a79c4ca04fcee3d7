"""Reads straight from a SQLite store's tables (store_tables.py) are exactly MLflow's reads.

Why: at 100,000 runs the run cache's whole read, the cold first page and a comparison all come
from the tables instead of MLflow's client (a minute became seconds). Each must answer what
MLflow's own `search_runs`, `get_run` and `get_metric_history` answer, on a store with the
corners where a copy of MLflow's rules could drift: NaN and infinities, deleted runs and a
deleted experiment, a run without a name (named by its `mlflow.runName` tag), a NULL tag value,
ties in a history. A read that does not match must never be served: the cache checks its first
table read against MLflow and falls back. And they must stay fast while another thread keeps
the GIL busy (on a cold server, the one importing MLflow): a few one-row statements, never a
row per point.
"""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from explorer_checks import history_points
from run_cache_store import VariedStore, build_varied_store, copy_store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> VariedStore:
    """The varied store plus the corners MLflow's client cannot write: a run whose name
    column is empty (MLflow names it by its tag) and a tag whose value is NULL."""
    store = build_varied_store(tmp_path_factory.mktemp("tables"), runs=120)
    db = _db(store)
    with sqlite3.connect(db) as connection:
        nameless = store.run_ids[4:7]
        connection.executemany("UPDATE runs SET name = NULL WHERE run_uuid = ?", [(nameless[0],)])
        connection.executemany("UPDATE runs SET name = '' WHERE run_uuid = ?", [(nameless[1],)])
        connection.execute(
            "UPDATE tags SET value = 'named-by-tag' WHERE run_uuid = ? AND key = 'mlflow.runName'",
            (nameless[0],),
        )
        connection.execute(
            "INSERT INTO tags (key, value, run_uuid) VALUES ('empty', NULL, ?)", (nameless[2],)
        )
    connection.close()
    return store


def _db(store: VariedStore) -> Path:
    return Path(store.uri.removeprefix("sqlite:///"))


def _mlflow_runs(store: VariedStore) -> dict[str, Any]:
    from mlflow.entities import ViewType

    from mlworkbench.explorer.cached_runs import cached_run

    experiments = [e.experiment_id for e in store.client.search_experiments(view_type=ViewType.ALL)]
    runs = store.client.search_runs(experiments, run_view_type=ViewType.ALL, max_results=50_000)
    return {run.info.run_id: cached_run(run) for run in runs}


def test_the_whole_table_read_is_mlflows_search(varied: VariedStore) -> None:
    from mlworkbench.explorer.cached_runs import same_run
    from mlworkbench.explorer.store_tables import read_store

    experiments, runs = read_store(_db(varied))
    expected = _mlflow_runs(varied)
    assert sorted(r.run_id for r in runs) == sorted(expected)
    for run in runs:
        assert same_run(expected[run.run_id], run), run.run_id
    by_id = {run.run_id: run for run in runs}
    assert by_id[varied.run_ids[4]].run_name == "named-by-tag"  # the tag names it, as in MLflow
    assert by_id[varied.run_ids[6]].tags["empty"] is None
    assert any(math.isnan(v) for r in runs for v in r.metrics.values())
    assert {r.lifecycle_stage for r in runs} == {"active", "deleted"}
    from mlflow.entities import ViewType

    assert experiments == {
        e.experiment_id: (e.name, e.lifecycle_stage)
        for e in varied.client.search_experiments(view_type=ViewType.ALL)
    }


def test_the_first_page_names_a_nameless_run_as_the_cache_does(varied: VariedStore) -> None:
    from mlworkbench.explorer.first_page import first_page_from_sqlite
    from mlworkbench.explorer.run_cache import RunCache

    cache = RunCache(varied.uri)
    cache._tables_ok = False  # the cache's answer through MLflow's client alone
    for experiment in [None, *varied.active]:
        expected = cache.query(experiment_id=experiment, limit=200)
        found = first_page_from_sqlite(
            _db(varied), experiment_id=experiment, offset=0, limit=200, deleted=False
        )
        assert found is not None
        assert [r.to_dict() for r in found[0]] == [r.to_dict() for r in expected.runs]
    assert "named-by-tag" in {r.run_name for r in cache.query(limit=200).runs}


def test_the_cache_reads_tables_once_checked_and_mlflow_when_they_differ(
    varied: VariedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlworkbench.explorer import store_tables
    from mlworkbench.explorer.run_cache import RunCache

    through_mlflow = RunCache(varied.uri)
    through_mlflow._tables_ok = False
    queries = [
        {"limit": 500},
        {"filter": "metrics.m < 0.5", "order_by": "metrics.m DESC", "limit": 500},
        {"deleted": True, "limit": 500},
        {"order_by": "attributes.run_name ASC", "limit": 500},
    ]
    expected = [through_mlflow.query(**q) for q in queries]
    assert through_mlflow.table_reads == 0

    tables = RunCache(varied.uri)
    assert [tables.query(**q) for q in queries] == expected
    assert tables.wait_checked(60) is True
    assert (tables.table_checks, tables.table_reads, tables.full_reloads) == (1, 1, 1)
    assert tables.experiments() == through_mlflow.experiments()

    # A reader MLflow does not confirm is dropped: everything is read again through MLflow,
    # and the tables are never tried again.
    store = copy_store(varied, tmp_path)
    real = store_tables._read_runs

    def drifted(*args: Any) -> Any:
        runs = real(*args)
        finished = [r for r in runs if r.status == "FINISHED"]  # a live one may log meanwhile
        newest = max(finished, key=lambda r: (r.start_time or 0, r.run_id))
        wrong = dataclasses.replace(newest, metrics={**newest.metrics, "m": 0.123456})
        return [wrong if r is newest else r for r in runs]

    monkeypatch.setattr(store_tables, "_read_runs", drifted)
    checked = RunCache(store.uri)
    checked.query(limit=1)
    assert checked.wait_checked(60) is False
    assert [checked.query(**q) for q in queries] == expected
    assert (checked.table_checks, checked.table_reads, checked.full_reloads) == (1, 1, 2)
    checked.mark_stale(None)
    checked.query(limit=1)
    assert (checked.table_checks, checked.table_reads, checked.full_reloads) == (1, 1, 3)


def test_a_run_logging_during_the_check_does_not_send_the_cache_to_mlflow(
    varied: VariedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check of the first table read compares the tables with MLflow's search run by run;
    a RUNNING run that logs between the two reads (a sweep training as the view opens) differs
    in each attempt, and used to fail the check for good. Finished runs are compared; a live
    one is read again at each incremental read anyway."""
    from mlworkbench.explorer.run_cache import RunCache

    store = copy_store(varied, tmp_path)
    running = next(
        run.info.run_id
        for run in store.client.search_runs(varied.active, max_results=500)
        if run.info.status == "RUNNING"
    )
    cache = RunCache(store.uri)
    searched = cache._search
    steps = iter(range(1_000, 2_000))

    def logging_meanwhile(experiment_ids: list[str], filter_string: str) -> Any:
        found = searched(experiment_ids, filter_string)
        step = next(steps)
        store.client.log_metric(running, "m", step / 4096, step=step)  # after MLflow's read
        return found

    monkeypatch.setattr(cache, "_search", logging_meanwhile)
    cache.query(limit=1)
    assert cache.wait_checked(60) is True
    assert (cache.table_checks, cache.table_reads, cache.full_reloads) == (1, 1, 1)


def test_the_pre_open_check_runs_before_mlflow_opens_the_store(varied: VariedStore) -> None:
    """The server's cache reads the tables before MLflow is imported; MLflow's client opens
    the store only after the pre-open checks, and their error reaches the queries."""
    from mlworkbench.errors import TrackingStoreCorruptError
    from mlworkbench.explorer.run_cache import RunCache

    calls: list[str] = []

    def refuse() -> None:
        calls.append("checked")
        raise TrackingStoreCorruptError(_db(varied), "planted")

    cache = RunCache(varied.uri, opener=refuse)
    assert cache.query(limit=5).total > 0  # the tables, read without MLflow's client
    assert cache.wait_checked(60) is False and calls
    with pytest.raises(TrackingStoreCorruptError):
        cache.query(limit=5)
    with pytest.raises(TrackingStoreCorruptError):
        cache.client()


def test_an_unknown_schema_is_read_through_mlflow(varied: VariedStore, tmp_path: Path) -> None:
    from mlworkbench.explorer.run_cache import RunCache
    from mlworkbench.explorer.store_tables import Unsupported, read_store

    store = copy_store(varied, tmp_path)
    with sqlite3.connect(_db(store)) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    connection.close()
    with pytest.raises(Unsupported):
        read_store(_db(store))
    cache = RunCache(store.uri)
    page = cache.query(limit=500)
    assert cache.table_reads == 0 and cache.table_checks == 0
    assert [r.run_id for r in page.runs] == [
        r.info.run_id for r in store.client.search_runs(varied.active, max_results=500)
    ]


# --- comparisons ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("histories")
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.create_experiment("h", artifact_location=(folder / "mlruns").as_uri())
    gone = client.create_experiment("gone", artifact_location=(folder / "mlruns").as_uri())
    ids = []
    for r in range(4):
        run_id = client.create_run(gone if r == 3 else experiment, run_name=f"r{r}").info.run_id
        client.log_batch(run_id, metrics=history_points(r))
        client.log_param(run_id, "lr", str(r % 2))
        ids.append(run_id)
    quiet = client.create_run(experiment, run_name="no metrics").info.run_id
    client.delete_run(ids[2])
    client.delete_experiment(gone)
    return folder, [*ids, quiet]


def _through_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlworkbench.explorer import run_compare

    monkeypatch.setattr(run_compare, "_from_tables", lambda *args: None)


@pytest.mark.parametrize("max_points", [16, 2000])
@pytest.mark.parametrize("keys", [None, ["k1"], ["absent"]])
def test_a_comparison_from_the_tables_is_mlflows(
    histories: tuple[Path, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    max_points: int,
    keys: list[str] | None,
) -> None:
    from mlworkbench.explorer import run_compare

    folder, ids = histories
    ours = run_compare._from_tables(folder, None, ids, max_points, keys)
    assert ours is not None
    _through_mlflow(monkeypatch)
    theirs = run_compare.compare_runs(folder, ids, max_points=max_points, metric_keys=keys)
    assert repr(ours) == repr(theirs)  # repr: NaN equals NaN, order within ties included
    assert ours.to_dict() == theirs.to_dict()
    if keys is None:
        assert len(ours.series) == 8 and ours.series[0].total_points > 50
        assert any(s.downsampled for s in ours.series) == (max_points == 16)


def test_an_unknown_run_gets_mlflows_error(histories: tuple[Path, list[str]]) -> None:
    from mlworkbench.errors import RunNotFoundError
    from mlworkbench.explorer import run_compare

    folder, ids = histories
    assert run_compare._from_tables(folder, None, [ids[0], "f" * 32], 100, None) is None
    with pytest.raises(RunNotFoundError):
        run_compare.compare_runs(folder, [ids[0], "f" * 32])


def test_to_dict_is_asdict(histories: tuple[Path, list[str]]) -> None:
    from mlworkbench.explorer.run_compare import compare_runs

    folder, ids = histories
    data = compare_runs(folder, ids, max_points=16)
    assert data.to_dict() == dataclasses.asdict(data)
    assert list(data.to_dict()["runs"][0]) == list(dataclasses.asdict(data)["runs"][0])  # type: ignore[index]


# --- few rows: fast while another thread holds the GIL --------------------------------------


class _CountingCursor(sqlite3.Cursor):
    """Counts the rows sqlite3 steps for it: each one is a GIL handoff."""

    rows = 0

    def fetchone(self) -> Any:
        row = super().fetchone()
        _CountingCursor.rows += row is not None
        return row

    def fetchall(self) -> list[Any]:
        rows = super().fetchall()
        _CountingCursor.rows += len(rows)
        return rows

    def __next__(self) -> Any:
        row = super().__next__()
        _CountingCursor.rows += 1
        return row


class _CountingConnection(sqlite3.Connection):
    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor(_CountingCursor).execute(sql, parameters)


def test_the_first_page_and_a_comparison_step_few_rows(
    varied: VariedStore, histories: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """sqlite3 hands the GIL back on every row it steps; on a cold server another thread is
    importing MLflow, and each handoff can wait for a whole switch interval. The old page read
    ~400 rows (1.9 s in a cold server at 100,000 runs instead of 0.1 s; 4.0 s against a thread
    spinning in Python with a 50 ms interval, this one 0.9 s); 30,000 points read row by row
    took 56 s against such a thread. So each statement answers one row, whatever the size."""
    from mlworkbench.explorer import first_page, run_compare, store_tables

    def counting(db: Path) -> sqlite3.Connection:
        uri = f"{db.resolve().as_uri()}?mode=ro"
        return sqlite3.connect(uri, uri=True, timeout=0.5, factory=_CountingConnection)

    monkeypatch.setattr(store_tables, "connect_readonly", counting)
    monkeypatch.setattr(first_page, "connect_readonly", counting)
    for call in (
        lambda: first_page.first_page_from_sqlite(
            _db(varied), experiment_id=None, offset=0, limit=100, deleted=False
        ),
        lambda: first_page.experiments_from_sqlite(_db(varied)),
        lambda: run_compare._from_tables(histories[0], None, histories[1], 2000, None),
    ):
        _CountingCursor.rows = 0
        assert call() is not None
        assert 0 < _CountingCursor.rows <= 8
