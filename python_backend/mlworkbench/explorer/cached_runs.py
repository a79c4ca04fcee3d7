"""Filters and orderings of the run summary cache, evaluated in Python exactly as MLflow's store.

The run cache answers the Runs view without a query per page, so it must agree with what
`search_runs` (plus `run_filter`'s merge) returns. Each rule below mirrors MLflow's sqlalchemy
store on SQLite (`_get_sqlalchemy_filter_clauses`, `_get_orderby_clauses`):

- metrics compare numerically on the latest value; a run without the metric never matches; a
  NaN metric matches only `!=` (MLflow stores NaN as 0 with `is_nan`); +/-inf are stored (and
  read back) as +/-1.797e308;
- params, tags and string attributes compare as strings with SQLite's binary collation;
  `like` is case-sensitive (MLflow sets `PRAGMA case_sensitive_like`), `ilike` lowers ASCII
  letters only (SQLite's `lower`), `%` and `_` are the only wildcards (no escape character);
  a missing key or a NULL attribute never matches, `!=` included;
- `attributes.run_name` filters on the `mlflow.runName` tag but orders by the run's name column;
- ordering: the key with missing values last in both directions (metrics: NaN after numbers,
  then missing), then start time descending (unless that is the key), then run id ascending.

The parsed AST comes from `run_filter_syntax`; nothing here evaluates text.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from mlworkbench.explorer.run_filter import OrderKey, to_mlflow_filters
from mlworkbench.explorer.run_filter_syntax import And, Comparison, Node, Or, Parser

RUN_NAME_TAG = "mlflow.runName"


@dataclass(frozen=True)
class CachedRun:
    """What the cache keeps of one run: everything a filter, an order or a summary reads."""

    run_id: str
    experiment_id: str
    run_name: str | None  # the runs table's name column (None for very old runs)
    status: str
    start_time: int | None
    end_time: int | None
    user_id: str | None
    artifact_uri: str | None
    lifecycle_stage: str
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


Predicate = Callable[[CachedRun], bool]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def compile_filter(query: str | None) -> Predicate:
    """A predicate for `query`; raises InvalidFilterError exactly where `run_filter` does."""
    return _compile_cached(query or "")


@lru_cache(maxsize=64)
def _compile_cached(query: str) -> Predicate:
    to_mlflow_filters(query)  # the same checks (and errors) as the MLflow path
    node = Parser(query).parse()
    if node is None:
        return lambda run: True
    return _compile(node)


def _compile(node: Node) -> Predicate:
    if isinstance(node, Comparison):
        return _comparison(node)
    parts = [_compile(part) for part in node.parts]
    if isinstance(node, Or):
        return lambda run: any(part(run) for part in parts)
    assert isinstance(node, And)
    return lambda run: all(part(run) for part in parts)


def _like_regex(pattern: str) -> re.Pattern[str]:
    body = "".join(
        ".*" if char == "%" else "." if char == "_" else re.escape(char) for char in pattern
    )
    return re.compile(body, re.DOTALL)


def _string_test(op: str, value: str | tuple[str, ...]) -> Callable[[str], bool]:
    if isinstance(value, tuple):
        members = frozenset(value)
        if op == "IN":
            return lambda text: text in members
        return lambda text: text not in members
    if op == "LIKE":
        regex = _like_regex(value)
        return lambda text: regex.fullmatch(text) is not None
    if op == "ILIKE":
        lowered = _like_regex(value.translate(_ASCII_LOWER))
        return lambda text: lowered.fullmatch(text.translate(_ASCII_LOWER)) is not None
    compare = _COMPARE[op]
    return lambda text: compare(text, value)


def _comparison(node: Comparison) -> Predicate:
    name, op, value = node.name, node.op, node.value
    if node.kind == "metrics":
        assert isinstance(value, str)
        return _metric_test(name, op, float(value))
    if node.kind == "attributes" and name in ("start_time", "end_time", "created"):
        assert isinstance(value, str)
        attribute = "start_time" if name == "created" else name
        compare, number = _COMPARE[op], int(value)

        def numeric(run: CachedRun) -> bool:
            found = getattr(run, attribute)
            return found is not None and compare(found, number)

        return numeric
    test = _string_test(op, value)
    read = _string_reader(node.kind, name)

    def string(run: CachedRun) -> bool:
        found = read(run)
        return found is not None and test(found)

    return string


def _metric_test(name: str, op: str, number: float) -> Predicate:
    compare = _COMPARE[op]

    def metric(run: CachedRun) -> bool:
        found = run.metrics.get(name)
        if found is None:
            return False
        if math.isnan(found):  # stored as 0 with is_nan: only `!=` holds
            return op == "!="
        return compare(found, number)

    return metric


def _string_reader(kind: str, name: str) -> Callable[[CachedRun], str | None]:
    if kind == "params":
        return lambda run: run.params.get(name)
    if kind == "tags":
        return lambda run: run.tags.get(name)
    if name == "run_name":  # MLflow filters the name through its tag (runs before 1.29)
        return lambda run: run.tags.get(RUN_NAME_TAG)
    return lambda run: getattr(run, name)


def _order_value(run: CachedRun, key: OrderKey) -> tuple[int, object]:
    """(group, value): group 0 sorts by value, 1 (metric NaN) and 2 (missing) come after."""
    if key.kind == "metrics":
        metric = run.metrics.get(key.name)
        if metric is None:
            return 2, None
        return (1, None) if math.isnan(metric) else (0, metric)
    if key.kind == "params":
        value: object = run.params.get(key.name)
    elif key.kind == "tags":
        value = run.tags.get(key.name)
    elif key.name in ("start_time", "created"):
        value = run.start_time
    else:
        value = getattr(run, key.name)
    return (1, None) if value is None else (0, value)


def sort_cached(runs: Sequence[CachedRun], key: OrderKey | None) -> list[CachedRun]:
    """`runs` in MLflow's order for `key` (None: MLflow's default, newest first)."""
    ordered = sorted(runs, key=lambda run: run.run_id)
    by_start = (
        key is not None and key.kind == "attributes" and key.name in ("start_time", "created")
    )
    if not by_start:
        ordered = _sorted_missing_last(ordered, lambda r: r.start_time, ascending=False)
    if key is None:
        return ordered
    values = {run.run_id: _order_value(run, key) for run in ordered}
    present = [run for run in ordered if values[run.run_id][0] == 0]
    present.sort(key=lambda run: values[run.run_id][1], reverse=not key.ascending)  # type: ignore[arg-type,return-value]
    rest = sorted(
        (run for run in ordered if values[run.run_id][0] != 0),
        key=lambda run: values[run.run_id][0],
    )
    return present + rest


def _sorted_missing_last(
    runs: list[CachedRun], read: Callable[[CachedRun], int | None], *, ascending: bool
) -> list[CachedRun]:
    present = [run for run in runs if read(run) is not None]
    present.sort(key=read, reverse=not ascending)  # type: ignore[arg-type]
    return present + [run for run in runs if read(run) is None]


def cached_run(run: Any) -> CachedRun:
    """What the cache keeps of an MLflow `Run`."""
    info, data = run.info, run.data
    return CachedRun(
        run_id=info.run_id,
        experiment_id=str(info.experiment_id),
        run_name=info.run_name,
        status=info.status,
        start_time=info.start_time,
        end_time=info.end_time,
        user_id=info.user_id,
        artifact_uri=info.artifact_uri,
        lifecycle_stage=info.lifecycle_stage,
        metrics=dict(data.metrics),
        params=dict(data.params),
        tags=dict(data.tags),
    )


def same_run(a: CachedRun | None, b: CachedRun) -> bool:
    """Equality that holds for a NaN metric read twice (NaN != NaN would mark it changed)."""
    if a is None:
        return False
    if a == b:
        return True

    def comparable(run: CachedRun) -> CachedRun:
        metrics = {k: -math.inf if math.isnan(v) else v for k, v in run.metrics.items()}
        return replace(run, metrics=metrics)  # a logged -inf reads back as -1.8e308, not -inf

    return comparable(a) == comparable(b)
