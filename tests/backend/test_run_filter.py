"""The run filter language: MLflow's syntax plus `or`, `in` and ranges, run against real stores."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mlworkbench.errors import InvalidFilterError
from mlworkbench.explorer.run_filter import (
    MAX_DISJUNCTS,
    parse_order_by,
    search_runs_filtered,
    to_mlflow_filters,
)

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


@dataclass
class Store:
    client: MlflowClient
    experiment_id: str
    ids: dict[str, str]  # run name -> run id
    db: Path


# name, start_time, rmse (None: not logged), alpha, tag "team", status
_RUNS = [
    ("r1", 1_000, 0.05, "0.1", "red", "FINISHED"),
    ("r2", 2_000, 0.2, "0.1", "blue", "FINISHED"),
    ("r3", 3_000, 0.4, "0.5", "red", "FAILED"),
    ("r4", 4_000, 0.7, "0.5", "green", "FINISHED"),
    ("r5", 5_000, None, "1.0", "blue", "RUNNING"),
    ("r6", 6_000, 0.4, "it's", "red", "FINISHED"),
]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    from mlflow.tracking import MlflowClient

    db = tmp_path / "mlflow.db"
    client = MlflowClient(f"sqlite:///{db}")
    experiment = client.create_experiment("exp", artifact_location=(tmp_path / "mlruns").as_uri())
    ids = {}
    for name, start, rmse, alpha, team, status in _RUNS:
        run = client.create_run(experiment, run_name=name, start_time=start)
        run_id = run.info.run_id
        ids[name] = run_id
        if rmse is not None:
            client.log_metric(run_id, "rmse", rmse)
        client.log_metric(run_id, "m1", float(start) / 1000)
        client.log_param(run_id, "alpha", alpha)
        client.set_tag(run_id, "team", team)
        if status != "RUNNING":
            client.set_terminated(run_id, status, end_time=start + 500)
    return Store(client, experiment, ids, db)


def names(
    store: Store, query: str | None, order_by: list[str] | None = None, max_results: int = 100
) -> list[str]:
    by_id = {v: k for k, v in store.ids.items()}
    runs = search_runs_filtered(store.client, [store.experiment_id], query, order_by, max_results)
    return [by_id[r.info.run_id] for r in runs]


@pytest.mark.slow
@pytest.mark.parametrize(
    "query",
    [
        "",
        "metrics.rmse < 0.5",
        "metrics.rmse < 0.5 and params.alpha = '0.1'",
        "tags.team = 'red' and attributes.status = 'FINISHED'",
        "params.`alpha` != '0.5'",
        "params.alpha LIKE '0.%' and metrics.m1 >= 2",
        "attributes.start_time > 2500",
        "tags.team ILIKE 'RE%'",
    ],
)
def test_plain_mlflow_queries_give_exactly_what_mlflow_gives(store: Store, query: str) -> None:
    expected = store.client.search_runs([store.experiment_id], query, max_results=100)
    got = search_runs_filtered(store.client, [store.experiment_id], query, None, 100)
    assert [r.info.run_id for r in got] == [r.info.run_id for r in expected]


def test_or_across_metrics_and_params(store: Store) -> None:
    assert set(names(store, "metrics.rmse < 0.1 or params.alpha = '1.0'")) == {"r1", "r5"}
    assert names(store, "metrics.rmse > 0.6 OR tags.team = 'blue'") == ["r5", "r4", "r2"]


@pytest.mark.slow
def test_in_lists_for_params_tags_and_attributes(store: Store) -> None:
    assert set(names(store, "params.alpha in ('0.1', '1.0')")) == {"r1", "r2", "r5"}
    assert set(names(store, "tags.team IN ('green', 'blue') and metrics.m1 > 2")) == {"r4", "r5"}
    assert set(names(store, "attributes.status in ('FAILED', 'RUNNING')")) == {"r3", "r5"}
    run_ids = f"('{store.ids['r1']}', '{store.ids['r6']}')"
    assert set(names(store, f"attributes.run_id in {run_ids}")) == {"r1", "r6"}
    assert set(names(store, "params.alpha not in ('0.1', '0.5')")) == {"r5", "r6"}
    # run_id is the one field MLflow itself takes a list for: one query, not one per value
    assert to_mlflow_filters(f"attributes.run_id IN {run_ids}") == [
        f"attributes.run_id IN {run_ids}"
    ]


@pytest.mark.slow
def test_ranges_and_parentheses(store: Store) -> None:
    assert set(names(store, "0.1 <= metrics.rmse < 0.5")) == {"r2", "r3", "r6"}
    assert set(names(store, "0.5 > metrics.rmse > 0.1")) == {"r2", "r3", "r6"}
    assert set(names(store, "1000 < attributes.start_time")) == {"r2", "r3", "r4", "r5", "r6"}
    query = (
        "(tags.team = 'red' or tags.team = 'green') and (metrics.rmse < 0.1 or metrics.rmse > 0.6)"
    )
    assert set(names(store, query)) == {"r1", "r4"}
    assert len(to_mlflow_filters(query)) == 4


def test_order_by_applies_across_merged_disjuncts_with_missing_values_last(store: Store) -> None:
    query = "tags.team = 'blue' or tags.team = 'red'"
    assert names(store, query, ["metrics.rmse DESC"]) == ["r6", "r3", "r2", "r1", "r5"]
    assert names(store, query, ["metrics.rmse"]) == ["r1", "r2", "r6", "r3", "r5"]
    assert names(store, query, ["attributes.start_time DESC"]) == ["r6", "r5", "r3", "r2", "r1"]
    assert names(store, query) == ["r6", "r5", "r3", "r2", "r1"]  # MLflow's default: newest
    assert names(store, query, ["params.alpha ASC"]) == ["r2", "r1", "r3", "r5", "r6"]
    # the same order MLflow gives for the same runs in one query
    one = [
        r.info.run_id
        for r in store.client.search_runs(
            [store.experiment_id], "tags.team != 'green'", order_by=["metrics.rmse DESC"]
        )
    ]
    assert [store.ids[n] for n in names(store, query, ["metrics.rmse DESC"])] == one


@pytest.mark.slow
def test_nan_sorts_after_numbers_and_before_missing_like_mlflow(store: Store) -> None:
    store.client.log_metric(store.ids["r4"], "rmse", float("nan"))
    query = "tags.team = 'blue' or tags.team in ('red', 'green')"
    for order in ("metrics.rmse DESC", "metrics.rmse ASC"):
        one = store.client.search_runs([store.experiment_id], "", order_by=[order])
        merged = search_runs_filtered(store.client, [store.experiment_id], query, [order])
        assert [r.info.run_id for r in merged] == [r.info.run_id for r in one], order
        assert names(store, query, [order])[-2:] == ["r4", "r5"]  # NaN, then missing


@pytest.mark.slow
def test_overlapping_disjuncts_are_deduplicated_and_max_applies_after_merge(store: Store) -> None:
    query = "tags.team = 'red' or metrics.rmse < 0.3 or params.alpha = '0.1'"
    assert names(store, query) == ["r6", "r3", "r2", "r1"]
    assert names(store, query, ["metrics.m1 ASC"], max_results=2) == ["r1", "r2"]
    assert names(store, query, ["metrics.m1 DESC"], max_results=1) == ["r6"]


@pytest.mark.slow
def test_a_quote_inside_a_value_stays_data(store: Store) -> None:
    assert names(store, "params.alpha = 'it''s'") == ["r6"]
    assert names(store, "params.alpha = 'it\\'s' or params.alpha = \"it's\"") == ["r6"]
    assert names(store, "params.alpha = 'x'' or 1=1 --'") == []
    assert to_mlflow_filters("params.a = 'x'' or 1=1 --'") == ['params.`a` = "x\' or 1=1 --"']


def _count_runs(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        (count,) = connection.execute("select count(*) from runs").fetchone()
    return int(count)


def test_an_injection_attempt_is_rejected_with_a_position_and_the_store_is_untouched(
    store: Store,
) -> None:
    before = _count_runs(store.db)
    with pytest.raises(InvalidFilterError) as raised:
        names(store, "params.a = ''; drop table runs; --'")
    assert raised.value.position == 13
    assert raised.value.code == "INVALID_FILTER"
    # a value holding both quotes cannot be written for MLflow: rejected, not passed through
    with pytest.raises(InvalidFilterError) as both:
        names(store, "params.alpha = 'a''\"; drop table runs; --'")
    assert both.value.position == 0
    assert names(store, "params.alpha = '; drop table runs; --'") == []
    assert _count_runs(store.db) == before == len(_RUNS)


@pytest.mark.parametrize(
    ("query", "position", "words"),
    [
        ("metrics.rmse <", 14, "expected a number for metrics.rmse"),
        ("metrics.rmse", 12, "expected a comparison operator after 'metrics.rmse'"),
        ("params.a = 'unterminated", 11, "unterminated string"),
        ("foo.bar = 1", 0, "unknown key type 'foo'"),
        ("metrics.x < 1 or", 16, "expected a key"),
        ("(metrics.x < 1", 14, "expected ')'"),
        ("metrics.x < 1 metrics.y < 2", 14, "expected 'and', 'or'"),
        ("metrics.x = 'a'", 12, "expected a number"),
        ("params.a = 1", 11, "expected a quoted string"),
        ("metrics.x LIKE 1", 10, "does not apply"),
        ("attributes.colour = 'x'", 0, "unknown attribute 'colour'"),
        ("0.1 < params.a", 6, "a range needs a numeric key"),
        ("0.1 < metrics.a > 3", 16, "must point the same way"),
        ("params.a in 'x'", 12, "expected '('"),
        ("params.a = 'x' & metrics.b > 1", 15, "unexpected character '&'"),
    ],
)
def test_invalid_filters_name_what_was_expected_and_where(
    query: str, position: int, words: str
) -> None:
    with pytest.raises(InvalidFilterError) as raised:
        to_mlflow_filters(query)
    assert raised.value.position == position
    assert words in raised.value.message
    assert f"at position {position}" in raised.value.message
    assert raised.value.data["query"] == query


def test_too_many_disjuncts_is_a_clear_error() -> None:
    values = ", ".join(f"'{i}'" for i in range(6))
    query = f"params.a in ({values}) and params.b in ({values})"
    with pytest.raises(InvalidFilterError) as raised:
        to_mlflow_filters(query)
    assert str(MAX_DISJUNCTS) in raised.value.message and raised.value.position is None
    assert len(to_mlflow_filters(f"params.a in ({values}) and params.b in ('1', '2')")) == 12


def test_order_keys_are_parsed_like_mlflow() -> None:
    assert parse_order_by("metrics.m1 DESC").to_mlflow() == "metrics.`m1` DESC"
    assert parse_order_by("attributes.start_time").to_mlflow() == "attributes.start_time ASC"
    assert parse_order_by("start_time desc").to_mlflow() == "attributes.start_time DESC"
    bad_keys = [("metrics.m1 sideways", 11), ("foo.x", 0), ("", 0), ("attributes.experiment_id", 0)]
    for bad, position in bad_keys:
        with pytest.raises(InvalidFilterError) as raised:
            parse_order_by(bad)
        assert raised.value.position == position
