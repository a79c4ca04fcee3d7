"""The explorer benchmark's store cache: private to this user and never trusted once tampered.

Why: the benchmark reuses a store that takes minutes to build; cached under a fixed shared /tmp
name, another user could plant or swap it, and an edited database would be timed as if real.
These tests build a tiny real MLflow store (through MLflow's client) in a throwaway cache home.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import explorer_store
from explorer_checks import WINDOWS, RouteClient, check_first_pages, served_first_page

TINY = explorer_store.StoreSpec(runs=3, history_runs=1, steps=5, history_metrics=1)


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    yield tmp_path


def test_cache_root_is_private_per_user(cache_home: Path) -> None:
    root = explorer_store.bench_cache_root()
    assert root == cache_home / "mlworkbench-bench"
    assert root.stat().st_mode & 0o777 == 0o700
    assert root.stat().st_uid == os.getuid()
    assert str(TINY.folder).startswith(str(root))
    assert not str(TINY.folder).startswith("/tmp/mlworkbench-bench")


def test_group_readable_cache_root_is_refused(cache_home: Path) -> None:
    root = cache_home / "mlworkbench-bench"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    with pytest.raises(explorer_store.UnsafeCacheError, match="chmod 700"):
        explorer_store.bench_cache_root()


def test_symlinked_cache_root_is_refused(
    cache_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    elsewhere.chmod(0o700)
    (cache_home / "mlworkbench-bench").symlink_to(elsewhere)
    with pytest.raises(explorer_store.UnsafeCacheError):
        explorer_store.bench_cache_root()


@pytest.mark.slow
def test_tampered_store_is_rebuilt_and_valid_one_reused(cache_home: Path) -> None:
    workspace = explorer_store.ensure_store(TINY)
    assert workspace.stat().st_mode & 0o777 == 0o700
    assert explorer_store.cached_store_valid(workspace)
    marker = json.loads((workspace / "complete").read_text())

    # A valid cache is reused as is: same marker, no rebuild.
    assert explorer_store.ensure_store(TINY) == workspace
    assert json.loads((workspace / "complete").read_text()) == marker

    # Tamper with the database: the fingerprint no longer matches, so it is rebuilt.
    with (workspace / "mlflow.db").open("ab") as stream:
        stream.write(b"planted")
    assert not explorer_store.cached_store_valid(workspace)
    explorer_store.ensure_store(TINY)
    assert explorer_store.cached_store_valid(workspace)

    # An old-style or garbled marker is not trusted either.
    (workspace / "complete").write_text("12.0 s\n")
    assert not explorer_store.cached_store_valid(workspace)

    from mlflow.tracking import MlflowClient

    explorer_store.ensure_store(TINY)
    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    bench = client.get_experiment_by_name(explorer_store.BENCH_EXPERIMENT)
    assert bench is not None
    assert len(client.search_runs([bench.experiment_id])) == TINY.runs
    assert bench.artifact_location == (workspace / "mlruns").as_uri()
    assert [p.name for p in workspace.parent.iterdir()] == [workspace.name]  # no leftovers


# --- the first page while the cache loads (first_page.py) --------------------------------------
# Why: a cold server answers the Runs view's default page from the store's tables before its
# cache has read 100,000 runs; that page must be exactly the cache's (so MLflow's) answer, and
# a store it cannot read exactly (another schema, a corrupt file) must fall back, never guess.


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from run_cache_store import build_varied_store

    return build_varied_store(tmp_path_factory.mktemp("varied"), runs=90)


@pytest.fixture(scope="module")
def loaded(varied: Any) -> Any:
    from mlworkbench.explorer.run_cache import RunCache

    cache = RunCache(varied.uri)
    cache.query(limit=1)
    return cache


def _db(store: Any) -> Path:
    return Path(store.uri.removeprefix("sqlite:///"))


def test_known_revision_is_this_mlflows_migration_head() -> None:
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    from mlworkbench.explorer.first_page import KNOWN_REVISIONS

    script = ScriptDirectory.from_config(_get_alembic_config(db_url=""))  # type: ignore[no-untyped-call]
    assert script.get_current_head() in KNOWN_REVISIONS


@pytest.mark.slow
def test_sql_first_pages_are_the_caches_pages(varied: Any, loaded: Any) -> None:
    from mlworkbench.explorer.first_page import first_page_from_sqlite

    checked = check_first_pages(
        functools.partial(first_page_from_sqlite, _db(varied)),
        loaded,
        [None, *varied.active],
        windows=(*WINDOWS, (25, 10)),
    )
    assert checked > 100
    # The store has the corners that make this a real check: NaN metrics, deleted runs, scripts.
    assert any(r.primary_metric for r in loaded.query(limit=100).runs)
    assert loaded.query(deleted=True).total > 0 and loaded.query().scripts


@pytest.mark.slow
def test_a_workspace_servers_first_page_route_answers_the_caches_pages(
    varied: Any, loaded: Any
) -> None:
    """What `mlworkbench server` answers a cold view from the store's tables
    (first_page_route.py), read back as the client reads it: the loaded cache's pages, and
    its experiments with their run counts."""
    from mlworkbench.explorer import first_page_route
    from mlworkbench.explorer.run_cache import ExperimentInfo

    checked = check_first_pages(served_first_page(varied.uri), loaded, [None, *varied.active])
    assert checked > 100
    rows = first_page_route.ask_experiments(RouteClient(varied.uri))  # type: ignore[arg-type]
    assert sorted((ExperimentInfo(*row) for row in rows), key=repr) == sorted(
        loaded.experiments(), key=repr
    )
    assert any(e.run_count for e in loaded.experiments())


@pytest.mark.slow
def test_a_cold_cache_answers_the_default_page_at_once_then_loads(varied: Any, loaded: Any) -> None:
    from mlworkbench.explorer.run_cache import RunCache

    cold = RunCache(varied.uri, first_page_while_loading=True)
    page = cold.query(limit=20)
    assert cold.quick_pages in (0, 1)  # 0 only if the whole load beat the SQL page
    expected = loaded.query(limit=20)
    assert [r.run_id for r in page.runs] == [r.run_id for r in expected.runs]
    assert page.total == expected.total and page.loading == (cold.quick_pages == 1)
    # Other orders and filters wait for the cache and are its own answer.
    ordered = cold.query(order_by="metrics.m DESC", filter="metrics.m < 0.5", limit=5)
    assert not ordered.loading
    assert cold.wait_loaded(60) and cold.loaded
    again = cold.query(limit=20)
    assert not again.loading and again == expected
    assert cold.experiments() == loaded.experiments()


@pytest.mark.slow
def test_quick_experiments_match_the_loaded_cache(varied: Any, loaded: Any) -> None:
    from mlworkbench.explorer.first_page import experiments_from_sqlite
    from mlworkbench.explorer.run_cache import ExperimentInfo

    rows = experiments_from_sqlite(_db(varied))
    assert rows is not None
    assert sorted((ExperimentInfo(*row) for row in rows), key=repr) == sorted(
        loaded.experiments(), key=repr
    )


@pytest.mark.slow
def test_an_unknown_schema_or_a_corrupt_file_is_never_read(
    varied: Any, loaded: Any, tmp_path: Path
) -> None:
    import sqlite3

    from run_cache_store import copy_store

    from mlworkbench.explorer.first_page import experiments_from_sqlite, first_page_from_sqlite
    from mlworkbench.explorer.run_cache import RunCache

    other = tmp_path / "other"
    other.mkdir()
    store = copy_store(varied, other)
    with sqlite3.connect(_db(store)) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    connection.close()
    args = {"experiment_id": None, "offset": 0, "limit": 10, "deleted": False}
    assert first_page_from_sqlite(_db(store), **args) is None  # type: ignore[arg-type]
    assert experiments_from_sqlite(_db(store)) is None
    # The cache then answers itself (it waits for its load): still MLflow's runs, not `loading`.
    cold = RunCache(store.uri, first_page_while_loading=True)
    page = cold.query(limit=10)
    assert not page.loading and cold.quick_pages == 0
    assert [r.run_id for r in page.runs] == [r.run_id for r in loaded.query(limit=10).runs]

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    assert first_page_from_sqlite(garbage, **args) is None  # type: ignore[arg-type]
    assert first_page_from_sqlite(tmp_path / "absent.db", **args) is None  # type: ignore[arg-type]
    # A missing column is a schema surprise too, whatever the revision says.
    with sqlite3.connect(_db(store)) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'dc11669786a5'")
        connection.execute("ALTER TABLE latest_metrics RENAME COLUMN is_nan TO was_nan")
    connection.close()
    assert first_page_from_sqlite(_db(store), **args) is None  # type: ignore[arg-type]


# --- comparison histories in one query (run_compare.bulk_histories) ------------------------------


@pytest.mark.slow
def test_bulk_histories_are_mlflows_histories(tmp_path: Path) -> None:
    import math

    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    from mlworkbench.explorer.run_compare import _series, bulk_histories, compare_runs

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("h", artifact_location=(tmp_path / "mlruns").as_uri())
    ids = []
    for r in range(3):
        run_id = client.create_run(experiment).info.run_id
        points = [
            Metric(f"k{k}", (s * 7 + k + r) % 5 / 3, 1000 + s % 4, s // 2)
            for k in range(2)
            for s in range(40)
        ]
        points += [  # ties on step and timestamp, NaN and infinities
            Metric("k0", math.nan, 1, 99),
            Metric("k0", 0.25, 1, 99),
            Metric("k0", math.inf, 2, 100),
            Metric("k1", -math.inf, 2, 100),
        ]
        client.log_batch(run_id, metrics=points)
        ids.append(run_id)
    wanted = [(run_id, key) for run_id in ids for key in ("k0", "k1", "absent")]
    bulk = bulk_histories(client, wanted)
    assert set(bulk) == set(wanted)
    for run_id, key in wanted:
        mine = sorted(bulk[(run_id, key)], key=lambda p: (p[0], p[1]))
        theirs = sorted(
            ((m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)),
            key=lambda p: (p[0], p[1]),
        )
        assert repr(mine) == repr(theirs)  # repr: NaN equals NaN, order within ties included
    assert all(len(bulk[(i, "k0")]) > 20 for i in ids) and not bulk[(ids[0], "absent")]

    # The comparison (downsampled or not) is the same through either path.
    data = compare_runs(tmp_path, ids, max_points=16)
    assert len(data.series) == 6 and any(s.downsampled for s in data.series)
    per_history = [_series(client, s.run_id, s.key, 16, None) for s in data.series]
    assert repr(data.series) == repr(per_history)


@pytest.mark.slow
def test_bulk_histories_fall_back_for_a_store_it_cannot_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlworkbench.explorer.run_compare import bulk_histories

    client = MlflowClient((tmp_path / "mlruns").as_uri())  # MLflow's file store: no SQL
    assert bulk_histories(client, [("run", "key")]) == {}
    assert bulk_histories(client, []) == {}
    # A SQL store whose metrics table is not what MLflow's model says: an error, so {} too.
    sql = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = sql.create_run(sql.create_experiment("x")).info.run_id
    sql.log_metric(run_id, "k", 1.0)
    with sqlite3.connect(tmp_path / "mlflow.db") as connection:
        connection.execute("ALTER TABLE metrics RENAME COLUMN is_nan TO was_nan")
    connection.close()
    assert bulk_histories(sql, [(run_id, "k")]) == {}
