"""The explorer on a PostgreSQL tracking URI: its tables read straight (pg_tables.py) are
exactly what MLflow's client reads.

Why: with the workspace's tracking URI the database itself, the run cache read 100,000 runs
through MLflow's ORM in about a minute (1.4 GiB), and the Runs view's first page waited for it.
Now the first page, the experiments and the cache's whole read come from the tables; each must
be MLflow's answer on a store with the corners (NaN and infinities, deleted runs, a deleted
experiment, a run named by its tag, ties in start time), and a database on another host is never
contacted in Restricted Mode. One throw-away cluster (tests/backend/postgres_cluster.py) per
module.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from explorer_checks import RouteClient, check_first_pages, served_first_page
from postgres_cluster import throwaway_postgres
from run_cache_store import VariedStore, build_varied_store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VariedStore]:
    import psycopg

    with throwaway_postgres() as cluster:
        store = build_varied_store(tmp_path_factory.mktemp("pg"), runs=90, uri=cluster.uri)
        plain = cluster.uri.replace("+psycopg", "")
        from mlflow.entities import Metric

        active = [
            i for i in store.run_ids if store.client.get_run(i).info.lifecycle_stage == "active"
        ]
        for r, run_id in enumerate(active[1:4]):  # histories, with NaN, inf and ties
            points = [Metric("m", (s * 7 + r) % 5 / 3, 1000 + s % 4, s // 2) for s in range(60)]
            points += [
                Metric("m", math.nan, 1, 99),
                Metric("m", 0.25, 1, 99),
                Metric("loss", math.inf, 2, 100),
            ]
            store.client.log_batch(run_id, metrics=points)
        with psycopg.connect(plain) as connection:  # a run without a name: MLflow uses its tag
            connection.execute(
                "UPDATE runs SET name = NULL WHERE run_uuid = %s", [store.run_ids[4]]
            )
        yield store


@pytest.fixture(scope="module")
def through_mlflow(varied: VariedStore) -> Any:
    from mlworkbench.explorer.run_cache import RunCache

    cache = RunCache(varied.uri)
    cache._tables_ok = False  # MLflow's client alone
    cache.query(limit=1)
    return cache


def test_the_whole_read_is_mlflows_search(varied: VariedStore) -> None:
    from mlflow.entities import ViewType

    from mlworkbench.explorer import pg_tables
    from mlworkbench.explorer.cached_runs import cached_run, same_run

    experiments, runs = pg_tables.read_store(varied.uri)
    found = varied.client.search_experiments(view_type=ViewType.ALL)
    assert experiments == {e.experiment_id: (e.name, e.lifecycle_stage) for e in found}
    expected = {
        run.info.run_id: cached_run(run)
        for run in varied.client.search_runs(
            list(experiments), run_view_type=ViewType.ALL, max_results=5000
        )
    }
    assert sorted(r.run_id for r in runs) == sorted(expected)
    assert all(same_run(expected[r.run_id], r) for r in runs)
    assert any(math.isnan(v) for r in runs for v in r.metrics.values())
    assert {r.lifecycle_stage for r in runs} == {"active", "deleted"}
    named = {r.run_id: r.run_name for r in runs}[varied.run_ids[4]]
    assert named and named == expected[varied.run_ids[4]].run_name


def test_first_pages_and_experiments_are_the_caches(
    varied: VariedStore, through_mlflow: Any
) -> None:
    from mlworkbench.explorer.first_page import experiments_from_tables, first_page_from_tables
    from mlworkbench.explorer.run_cache import ExperimentInfo

    checked = check_first_pages(
        functools.partial(first_page_from_tables, varied.uri),
        through_mlflow,
        [None, *varied.active],
    )
    assert checked > 60
    rows = experiments_from_tables(varied.uri)
    assert rows is not None
    assert sorted((ExperimentInfo(*row) for row in rows), key=repr) == sorted(
        through_mlflow.experiments(), key=repr
    )
    # An experiment it cannot answer for: the cache's error, not a guess.
    args = {"offset": 0, "limit": 5, "deleted": False}
    assert (
        first_page_from_tables(varied.uri, experiment_id=varied.deleted_experiment, **args) is None
    )


def test_a_workspace_servers_first_page_route_reads_the_store_with_its_password_apart(
    varied: VariedStore, through_mlflow: Any
) -> None:
    """The gate in front of a tracking server holds the store's password apart from the URI
    (tracking_server_gate.py) and answers a cold view's first page and experiments from the
    tables with it (first_page_route.py); a wrong password leaves them to MLflow's routes."""
    import json

    from mlworkbench.explorer import first_page_route
    from mlworkbench.explorer.run_cache import ExperimentInfo
    from mlworkbench.tracking.tracking_server_store import split_password

    store, password = split_password(varied.uri)
    assert password and password not in store
    checked = check_first_pages(
        served_first_page(store, password), through_mlflow, [None, *varied.active]
    )
    assert checked > 60
    status, body = first_page_route.answer_experiments(store, password, b"{}")
    assert status == 200
    rows = json.loads(body)["experiments"]
    assert sorted((ExperimentInfo(*row) for row in rows), key=repr) == sorted(
        through_mlflow.experiments(), key=repr
    )
    asked = json.dumps({"experiment_id": None, "offset": 0, "limit": 5}).encode()
    for status, body in (
        first_page_route.answer_page(store, "wrong", asked),
        first_page_route.answer_experiments(store, "wrong", b"{}"),
    ):
        assert status == 409 and b"password" in body and b"wrong" not in body


def test_the_cache_reads_the_tables_once_checked(varied: VariedStore, through_mlflow: Any) -> None:
    from mlworkbench.explorer.run_cache import RunCache

    cache = RunCache(varied.uri, first_page_while_loading=True)
    quick = cache.query(limit=10)  # from the tables, while the cache loads
    assert [r.run_id for r in quick.runs] == [r.run_id for r in through_mlflow.query(limit=10).runs]
    assert cache.wait_loaded(60) and cache.wait_checked(60) is True
    for query in (
        {"limit": 500},
        {"filter": "metrics.m < 0.5", "order_by": "metrics.m DESC", "limit": 500},
        {"deleted": True, "limit": 500},
    ):
        assert cache.query(**query) == through_mlflow.query(**query)
    assert cache.table_reads == 1 and cache.table_checks == 1


def test_restricted_mode_never_contacts_the_database(
    varied: VariedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlworkbench.explorer import pg_tables
    from mlworkbench.explorer.first_page import experiments_from_tables, first_page_from_tables
    from mlworkbench.tracking.network_access import local_only

    def refuse(uri: str) -> None:
        raise AssertionError("connected in Restricted Mode")

    monkeypatch.setattr(pg_tables, "connect", refuse)
    args = {"experiment_id": None, "offset": 0, "limit": 5, "deleted": False}
    with local_only():
        assert first_page_from_tables(varied.uri, **args) is None  # type: ignore[arg-type]
        assert experiments_from_tables(varied.uri) is None


def test_a_store_it_does_not_know_is_left_to_mlflow(
    varied: VariedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlworkbench.explorer import pg_tables
    from mlworkbench.explorer.first_page import first_page_from_tables

    monkeypatch.setattr(pg_tables, "KNOWN_REVISIONS", frozenset({"ffffffffffff"}))
    with pytest.raises(pg_tables.Unsupported):
        pg_tables.read_store(varied.uri)
    args = {"experiment_id": None, "offset": 0, "limit": 5, "deleted": False}
    assert first_page_from_tables(varied.uri, **args) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("max_points", [16, 2000])
def test_a_comparison_from_the_tables_is_mlflows(
    varied: VariedStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, max_points: int
) -> None:
    from mlworkbench.explorer import run_compare

    ids = varied.run_ids[:6]
    ours = run_compare._from_tables(tmp_path, varied.uri, ids, max_points, None)
    assert ours is not None and any(s.total_points > 50 for s in ours.series)
    monkeypatch.setattr(run_compare, "_from_tables", lambda *args: None)
    theirs = run_compare.compare_runs(tmp_path, ids, tracking_uri=varied.uri, max_points=max_points)
    # NaN is None in the data, so == holds for it; each series in MLflow's order within ties
    # (a run's latest metrics are a dict: which key comes first is no part of the answer)
    assert ours.to_dict() == theirs.to_dict()
    assert repr(ours.series) == repr(theirs.series)


def test_a_history_column_of_another_type_is_left_to_mlflow(
    varied: VariedStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Histories are read without a check per point: the columns' types are checked once,
    and a store whose values are not doubles (here: the check expects real) is MLflow's."""
    from mlworkbench.explorer import pg_tables, run_compare

    ids = varied.run_ids[:3]
    assert pg_tables.read_compared(varied.uri, ids, None) is not None
    monkeypatch.setattr(pg_tables, "_HISTORY_ARRAYS", ("int8", "int8", "float4", "bool"))
    with pytest.raises(pg_tables.Unsupported, match="metric history column"):
        pg_tables.read_compared(varied.uri, ids, None)
    assert run_compare._from_tables(tmp_path, varied.uri, ids, 2000, None) is None


def test_a_workspace_servers_store_route_is_the_tables_read(varied: VariedStore) -> None:
    """The run cache's whole read served by the gate (store_route.py), with the password held
    apart, is pg_tables.read_store's read; a read of some runs is those runs."""

    from mlworkbench.explorer import pg_tables, store_route
    from mlworkbench.explorer.cached_runs import same_run
    from mlworkbench.tracking.tracking_server_store import split_password

    store, password = split_password(varied.uri)
    route = RouteClient(store, password)
    experiments, runs = pg_tables.read_store(varied.uri)
    served_experiments, served = store_route.ask(route, None)  # type: ignore[arg-type]
    assert served_experiments == experiments
    assert [r.run_id for r in served] == [r.run_id for r in runs]
    assert all(same_run(a, b) for a, b in zip(runs, served, strict=True))
    assert any(math.isnan(v) for r in served for v in r.metrics.values())
    some = varied.run_ids[:3]
    assert sorted(r.run_id for r in store_route.ask(route, some)[1]) == sorted(some)  # type: ignore[arg-type]
    assert store_route.answer(store, "wrong", b'{"run_ids": null}')[0] == 409


def test_the_servers_kept_answers_follow_every_commit(varied: VariedStore) -> None:
    """The gate answers a page again from what it kept only in the same snapshot
    (first_page_route.SnapshotAnswers): a rename through MLflow is on the next page, and so is
    the rename back. (Last in the module: it writes to the store, and puts it back.)"""
    import json

    from mlworkbench.explorer import first_page_route
    from mlworkbench.tracking.tracking_server_store import split_password

    store, password = split_password(varied.uri)
    body = json.dumps({"experiment_id": None, "offset": 0, "limit": 3}).encode()

    def newest() -> dict[str, Any]:
        status, answer = first_page_route.answer_page(store, password, body)
        assert status == 200, answer
        return json.loads(answer)["runs"][0]  # type: ignore[no-any-return]

    before = newest()
    reused = first_page_route._KEPT.reused
    assert newest() == before and first_page_route._KEPT.reused == reused + 1
    varied.client.update_run(before["run_id"], name="renamed between two pages")
    try:
        assert newest()["run_name"] == "renamed between two pages"
    finally:
        varied.client.update_run(before["run_id"], name=before["run_name"])
    assert newest() == before
    assert first_page_route._KEPT.reused == reused + 1  # each commit read the tables again
