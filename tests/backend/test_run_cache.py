"""The run summary cache: the same runs in the same order as MLflow's search, kept fresh.

Identity is checked against `search_runs_filtered` (MLflow's search plus the `or` merge) on a
real store of a few hundred varied runs; freshness against a second MlflowClient writing to
the same file, as a training script or the MLflow UI would.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from run_cache_store import VariedStore, build_varied_store, copy_store

from mlworkbench.errors import ExperimentDeletedError, InvalidFilterError, UnknownExperimentError
from mlworkbench.explorer.run_cache import RunCache
from mlworkbench.explorer.run_filter import search_runs_filtered, to_mlflow_filters


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> VariedStore:
    return build_varied_store(tmp_path_factory.mktemp("varied"))


@pytest.fixture(scope="module")
def cache(varied: VariedStore) -> RunCache:
    return RunCache(varied.uri)


QUERIES = [
    "",
    "metrics.m < 0.5",
    "metrics.m >= 0.5",
    "metrics.m = 0",
    "metrics.m != 0.5",
    "metrics.m > 1e300",
    "metrics.m < -1e300",
    "metrics.m <= 0 and metrics.loss > 1",
    "params.alpha = '0.1'",
    "params.alpha != '0.1'",
    "params.alpha = ''",
    "params.alpha LIKE '0.1%'",
    "params.alpha LIKE 'x\\%y'",
    "params.alpha ILIKE 'a'",
    "params.alpha LIKE 'a'",
    "params.alpha = 'it''s'",
    "tags.team = 'red'",
    "tags.team ILIKE 'RED'",
    "tags.team LIKE 'r_d'",
    "tags.team != 'red'",
    "tags.note LIKE '50%'",
    "tags.`mlworkbench.script` LIKE '%train_1.py'",
    "attributes.run_name LIKE '50%'",
    "attributes.run_name LIKE '50\\_off%'",
    "attributes.run_name ILIKE 'CAFÉ%'",
    "attributes.run_name ILIKE 'caf%'",
    "attributes.run_name = 'it''s'",
    "attributes.run_name LIKE '%\"hi\"%'",
    "attributes.run_name != 'run'",
    "attributes.status = 'RUNNING'",
    "attributes.status != 'FINISHED'",
    "attributes.status LIKE 'F%'",
    "attributes.end_time > 1030000",
    "attributes.end_time != 0",
    "attributes.start_time >= 1030000 and attributes.start_time < 1040000",
    "attributes.created < 1010000",
    "attributes.user_id != 'nobody'",
    "attributes.artifact_uri LIKE 'file:%'",
    "metrics.m < 0.3 or tags.team = 'blue'",
    "(params.alpha in ('A', 'a', '1')) and metrics.loss >= 2",
    "params.depth not in ('1', '2', '3')",
    "0.2 <= metrics.m < 0.8 or attributes.status = 'KILLED'",
    "tags.team in ('red', 'green') or params.alpha like '%.%'",
]
ORDERS = [
    None,
    "metrics.m DESC",
    "metrics.m ASC",
    "metrics.loss",
    "params.alpha ASC",
    "params.depth DESC",
    "tags.team DESC",
    "attributes.run_name ASC",
    "attributes.status DESC",
    "attributes.end_time ASC",
    "attributes.start_time ASC",
    "attributes.run_id DESC",
]


def mlflow_order(varied: VariedStore, ids: list[str], order: str | None) -> list[str]:
    """MLflow's own order for exactly these runs: one query, no merge in Python."""
    from mlworkbench.explorer.run_filter import parse_order_by

    if not ids:
        return []
    listed = ", ".join(f"'{i}'" for i in ids)
    runs = varied.client.search_runs(
        varied.active,
        f"attributes.run_id IN ({listed})",
        order_by=[parse_order_by(order).to_mlflow()] if order else None,
        max_results=5000,
    )
    return [r.info.run_id for r in runs]


def cached_ids(cache: RunCache, query: str, order: str | None, limit: int = 1000) -> list[str]:
    page = cache.query(filter=query, order_by=order, limit=limit)
    assert page.total == len(page.runs) or page.next_offset is not None
    return [run.run_id for run in page.runs]


@pytest.mark.slow
@pytest.mark.parametrize("query", QUERIES)
def test_every_query_matches_what_mlflow_returns(
    varied: VariedStore, cache: RunCache, query: str
) -> None:
    for order in ORDERS:
        expected = search_runs_filtered(
            varied.client, varied.active, query, [order] if order else None, 5000
        )
        expected_ids = [r.info.run_id for r in expected]
        got = cached_ids(cache, query, order)
        if len(to_mlflow_filters(query)) == 1:
            assert got == expected_ids, (query, order)
        else:
            # `or` queries are merged by run_filter.sort_runs; MLflow's own order decides.
            assert set(got) == set(expected_ids), (query, order)
            assert got == mlflow_order(varied, expected_ids, order), (query, order)


@pytest.mark.slow
def test_the_store_has_the_corners_the_identity_test_needs(varied: VariedStore) -> None:
    runs = varied.client.search_runs(varied.active, "", max_results=5000)
    values = [r.data.metrics["m"] for r in runs if "m" in r.data.metrics]
    assert any(math.isnan(v) for v in values) and 1.7976931348623157e308 in values
    assert any("m" not in r.data.metrics for r in runs)
    assert {r.info.status for r in runs} >= {"FINISHED", "FAILED", "KILLED", "RUNNING"}
    starts = [r.info.start_time for r in runs]
    assert len(set(starts)) < len(starts)  # ties broken by run id
    assert len(runs) > 100


@pytest.mark.slow
def test_pages_walk_the_whole_result_with_next_offset(cache: RunCache) -> None:
    whole = cached_ids(cache, "", "metrics.m DESC")
    walked: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = cache.query(order_by="metrics.m DESC", offset=offset, limit=37)
        assert page.total == len(whole)
        walked += [run.run_id for run in page.runs]
        offset = page.next_offset
    assert walked == whole
    assert cache.query(offset=len(whole) + 5).runs == []


@pytest.mark.slow
def test_deleted_runs_are_listed_on_their_own_and_named(
    varied: VariedStore, cache: RunCache
) -> None:
    from mlflow.entities import ViewType

    deleted_only = varied.client.search_runs(
        varied.active, "", run_view_type=ViewType.DELETED_ONLY, max_results=5000
    )
    page = cache.query(deleted=True, limit=1000)
    assert deleted_only
    assert [r.run_id for r in page.runs] == [r.info.run_id for r in deleted_only]
    assert page.deleted_run_ids == [r.run_id for r in page.runs]
    deleted = {r.info.run_id for r in deleted_only}
    assert not deleted & {r.run_id for r in cache.query(limit=1000).runs}


@pytest.mark.slow
def test_scripts_lists_every_match_and_summaries_are_json_safe(cache: RunCache) -> None:
    import json

    page = cache.query(limit=1)
    assert page.scripts == [f"/ws/train_{i}.py" for i in range(4)]
    assert len(cache.query(filter="tags.`mlworkbench.script` = '/ws/train_1.py'").scripts) == 1
    whole = cache.query(limit=1000)
    json.dumps([run.to_dict() for run in whole.runs], allow_nan=False)  # NaN metrics left out


@pytest.mark.slow
def test_experiment_scope_and_its_errors(varied: VariedStore, cache: RunCache) -> None:
    alpha = varied.active[0]
    expected = varied.client.search_runs([alpha], "metrics.m > 0.1", max_results=5000)
    page = cache.query(filter="metrics.m > 0.1", experiment_id=alpha, limit=1000)
    assert [r.run_id for r in page.runs] == [r.info.run_id for r in expected]
    with pytest.raises(ExperimentDeletedError) as gone:
        cache.query(experiment_id=varied.deleted_experiment)
    assert gone.value.code == "EXPERIMENT_DELETED"
    with pytest.raises(UnknownExperimentError) as unknown:
        cache.query(experiment_id="999")
    assert unknown.value.known == ["Default", "alpha", "beta"]
    infos = cache.experiments()
    assert [(e.name, e.lifecycle_stage) for e in infos] == [
        ("Default", "active"),
        ("alpha", "active"),
        ("beta", "active"),
        ("gone", "deleted"),
    ]
    assert infos[1].run_count == len(varied.client.search_runs([alpha], "", max_results=5000))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("filter", "order", "position"),
    [
        ("metrics.m <", None, 11),
        ("params.a = 'x' & metrics.b > 1", None, 15),
        ("", "metrics.m sideways", 10),
        ("", "colour.x", 0),
        ("", "attributes.experiment_id", 0),  # MLflow's search refuses it too
    ],
)
def test_bad_filters_and_order_keys_are_rejected_with_a_position(
    cache: RunCache, filter: str, order: str | None, position: int
) -> None:
    with pytest.raises(InvalidFilterError) as raised:
        cache.query(filter=filter, order_by=order)
    assert raised.value.position == position


@pytest.mark.slow
def test_bad_paging_is_refused(cache: RunCache) -> None:
    with pytest.raises(ValueError, match="offset must be >= 0"):
        cache.query(offset=-1)
    with pytest.raises(ValueError, match="limit >= 1"):
        cache.query(limit=0)


# --- freshness ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_template(tmp_path_factory: pytest.TempPathFactory) -> VariedStore:
    return build_varied_store(tmp_path_factory.mktemp("small"), runs=12)


@pytest.fixture
def small(small_template: VariedStore, tmp_path: Path) -> tuple[RunCache, VariedStore]:
    """A loaded cache of its own store, its table read already checked against MLflow: the
    check runs in the background after the first read, and a test that writes meanwhile could
    make it see a difference and send the cache back to MLflow with one more whole read."""
    store = copy_store(small_template, tmp_path)
    cache = RunCache(store.uri)
    cache.query(limit=1)
    assert cache.wait_checked(60) is True and cache.full_reloads == 1
    return cache, store


def test_a_run_logged_from_elsewhere_shows_up_without_a_full_reload(
    small: tuple[RunCache, VariedStore],
) -> None:
    cache, store = small
    before = cache.query(limit=100)
    assert cache.full_reloads == 1
    run = store.client.create_run(store.active[0], run_name="outside", start_time=2_000_000)
    store.client.log_metric(run.info.run_id, "m", 0.25)
    page = cache.query(limit=100)
    assert page.total == before.total + 1 and page.runs[0].run_id == run.info.run_id
    assert page.runs[0].metrics == {"m": 0.25}
    assert cache.full_reloads == 1  # found by "started since the newest start"
    # a RUNNING run keeps being re-read: its new metrics and its end arrive
    store.client.log_metric(run.info.run_id, "m", 0.75)
    store.client.set_terminated(run.info.run_id, "FAILED")
    (seen,) = cache.query(filter=f"attributes.run_id = '{run.info.run_id}'").runs
    assert (seen.metrics, seen.status) == ({"m": 0.75}, "FAILED")
    assert cache.full_reloads == 1


def test_an_unexplained_edit_of_an_old_run_forces_a_full_reload(
    small: tuple[RunCache, VariedStore],
) -> None:
    cache, store = small
    finished = cache.query(filter="attributes.status = 'FINISHED'").runs[-1]
    store.client.set_tag(finished.run_id, "mlflow.runName", "renamed")
    store.client.update_run(finished.run_id, name="renamed")
    page = cache.query(filter="attributes.run_name = 'renamed'")
    assert [r.run_id for r in page.runs] == [finished.run_id]
    assert cache.full_reloads == 2


def test_an_edit_elsewhere_hidden_by_new_runs_is_caught_by_the_periodic_whole_read(
    small: tuple[RunCache, VariedStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, store = small
    finished = cache.query(filter="attributes.status = 'FINISHED'").runs[-1]
    # Renamed elsewhere while another run starts: the incremental read explains the change by
    # the new run and cannot see the rename.
    store.client.update_run(finished.run_id, name="renamed-elsewhere")
    store.client.create_run(store.active[0], run_name="new", start_time=3_000_000)
    assert cache.query(filter="attributes.run_name = 'new'").total == 1
    assert cache.full_reloads == 1
    assert cache.query(filter="attributes.run_name = 'renamed-elsewhere'").total == 0

    periodic = RunCache(store.uri, full_reload_s=60.0)
    periodic.query()
    store.client.update_run(finished.run_id, name="renamed-again")
    store.client.create_run(store.active[0], run_name="newer", start_time=4_000_000)
    later = time.monotonic() + 61.0  # a minute on: the whole read is due
    monkeypatch.setattr("mlworkbench.explorer.run_cache.time.monotonic", lambda: later)
    periodic.query(filter="attributes.run_name = 'renamed-again'")  # starts the whole read
    periodic.wait_reloaded(60)  # in the background: queries answer meanwhile
    page = periodic.query(filter="attributes.run_name = 'renamed-again'")
    assert [r.run_id for r in page.runs] == [finished.run_id]
    assert periodic.background_reloads == 1
    assert periodic.query(filter="attributes.run_name = 'newer'").total == 1
    assert periodic.full_reloads == 2
    periodic.query()  # an unchanged store is still not read again, however due
    assert periodic.full_reloads == 2


def test_mark_stale_rereads_only_that_run_and_none_reloads_everything(
    small: tuple[RunCache, VariedStore],
) -> None:
    cache, store = small
    finished = cache.query(filter="attributes.status = 'FINISHED'").runs[-1]
    store.client.set_tag(finished.run_id, "stage", "best")
    cache.mark_stale(finished.run_id)
    assert [r.run_id for r in cache.query(filter="tags.stage = 'best'").runs] == [finished.run_id]
    assert cache.full_reloads == 1
    store.client.delete_run(finished.run_id)
    cache.mark_stale(finished.run_id)
    assert cache.query(filter="tags.stage = 'best'").total == 0
    assert cache.query(filter="tags.stage = 'best'", deleted=True).total == 1
    cache.mark_stale(None)
    cache.query()
    assert cache.full_reloads == 2


def test_an_unchanged_store_is_not_read_again(small: tuple[RunCache, VariedStore]) -> None:
    cache, store = small
    cache.query()
    db = Path(store.uri.removeprefix("sqlite:///"))
    before = db.read_bytes()
    for _ in range(3):
        cache.query(filter="metrics.m > 0")
    assert cache.full_reloads == 1 and db.read_bytes() == before


def test_a_run_removed_for_good_leaves_the_cache(small: tuple[RunCache, VariedStore]) -> None:
    cache, store = small
    running = cache.query(filter="attributes.status = 'RUNNING'").runs[0]
    store.client.delete_run(running.run_id)
    db = Path(store.uri.removeprefix("sqlite:///"))
    with sqlite3.connect(db) as connection:  # what `mlflow gc` does to a deleted run
        for table in ("metrics", "latest_metrics", "params", "tags"):
            connection.execute(f"delete from {table} where run_uuid = ?", (running.run_id,))
        connection.execute("delete from runs where run_uuid = ?", (running.run_id,))
    connection.close()
    assert running.run_id not in {r.run_id for r in cache.query(deleted=True).runs}


def test_queries_from_many_threads_while_the_store_changes(
    small: tuple[RunCache, VariedStore],
) -> None:
    cache, store = small
    errors: list[BaseException] = []
    baseline = cache.query().total

    def ask() -> None:
        try:
            for _ in range(20):
                page = cache.query(order_by="metrics.m DESC", limit=5)
                assert baseline <= page.total <= baseline + 5
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for i in range(5):
        store.client.create_run(store.active[1], run_name=f"new-{i}", start_time=3_000_000 + i)
    for thread in threads:
        thread.join()
    assert not errors
    assert cache.query(filter="attributes.run_name LIKE 'new-%'").total == 5


@pytest.mark.slow
def test_columns_answer_what_the_python_path_answers(varied: VariedStore, cache: RunCache) -> None:
    """The cache answers through numpy columns (run_columns.py; the test above holds them to
    MLflow) where numpy is installed, else through cached_runs' Python passes: both alike."""
    python = RunCache(varied.uri)
    python._use_columns = False
    extra = ["attributes.start_time < 99999999999999999999", "attributes.end_time >= 0"]
    for query in [*QUERIES, *extra]:
        for order in ORDERS:
            for scope in ({}, {"deleted": True}, {"experiment_id": varied.active[1]}):
                ours = cache.query(filter=query, order_by=order, limit=1000, **scope)
                theirs = python.query(filter=query, order_by=order, limit=1000, **scope)
                assert ours == theirs, (query, order, scope)
    assert cache._columns[1] is not None and python._columns[1] is None
