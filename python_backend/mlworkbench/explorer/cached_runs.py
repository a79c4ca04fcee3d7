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


@dataclass(frozen=True, slots=True)  # slots: no per-run __dict__ (100,000 runs are cached)
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

COMPARE: dict[str, Callable[[Any, Any], bool]] = {
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


def filter_cached(query: str | None, runs: Sequence[CachedRun]) -> list[CachedRun]:
    """The runs `query` matches, in their order: `compile_filter`'s answer, with the commonest
    comparisons (a metric against a number, a param or tag equal or not) done as one list pass
    each instead of a predicate call per run (100,000 runs: 0.08 s became ~0.02 s).

    The same rules: a missing key never matches; Python's comparisons of a NaN metric are what
    MLflow answers for it (only `!=` holds); an `and` filters what its previous parts kept.
    """
    compile_filter(query)  # the same checks and errors
    node = parsed_filter(query or "")
    return list(runs) if node is None else _apply(node, list(runs))


@lru_cache(maxsize=64)
def parsed_filter(query: str) -> Node | None:
    """The filter's AST (None: no filter); check it with `compile_filter` first."""
    return Parser(query).parse()


def _apply(node: Node, runs: list[CachedRun]) -> list[CachedRun]:
    if isinstance(node, And):
        for part in node.parts:
            runs = _apply(part, runs)
        return runs
    if isinstance(node, Comparison) and isinstance(node.value, str):
        name, op, value = node.name, node.op, node.value
        if node.kind == "metrics" and op in COMPARE:
            compare, number = COMPARE[op], float(value)
            return [
                run
                for run in runs
                if (v := run.metrics.get(name)) is not None and compare(v, number)
            ]
        if node.kind in ("params", "tags") and op in ("=", "!="):
            column = "params" if node.kind == "params" else "tags"
            if op == "=":
                return [run for run in runs if getattr(run, column).get(name) == value]
            return [
                run
                for run in runs
                if (v := getattr(run, column).get(name)) is not None and v != value
            ]
    predicate = _compile(node)
    return [run for run in runs if predicate(run)]


def _compile(node: Node) -> Predicate:
    if isinstance(node, Comparison):
        return comparison_predicate(node)
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


def string_test(op: str, value: str | tuple[str, ...]) -> Callable[[str], bool]:
    """Whether a present string value satisfies `op value` (SQLite's rules, see above)."""
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
    compare = COMPARE[op]
    return lambda text: compare(text, value)


def comparison_predicate(node: Comparison) -> Predicate:
    """One comparison as a predicate on a run (missing keys and NULLs never match)."""
    name, op, value = node.name, node.op, node.value
    if node.kind == "metrics":
        assert isinstance(value, str)
        return _metric_test(name, op, float(value))
    if node.kind == "attributes" and name in ("start_time", "end_time", "created"):
        assert isinstance(value, str)
        attribute = "start_time" if name == "created" else name
        compare, number = COMPARE[op], int(value)

        def numeric(run: CachedRun) -> bool:
            found = getattr(run, attribute)
            return found is not None and compare(found, number)

        return numeric
    test = string_test(op, value)
    read = _string_reader(node.kind, name)

    def string(run: CachedRun) -> bool:
        found = read(run)
        return found is not None and test(found)

    return string


def _metric_test(name: str, op: str, number: float) -> Predicate:
    compare = COMPARE[op]

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


def default_order(runs: Sequence[CachedRun]) -> list[CachedRun]:
    """`runs` in MLflow's default order: start time descending (missing last), then run id."""
    return sorted(runs, key=lambda r: (r.start_time is None, -(r.start_time or 0), r.run_id))


def sort_cached(
    runs: Sequence[CachedRun], key: OrderKey | None, *, in_default_order: bool = False
) -> list[CachedRun]:
    """`runs` in MLflow's order for `key` (None: MLflow's default, newest first).

    `in_default_order`: `runs` already are in `default_order` (the cache keeps that list per
    generation, so a new sort of 100,000 runs is one sort by the key, not three).
    Why that is the same answer: every key's ties fall back to start time descending, then run
    id; a sort by start time itself is stable, so its ties keep run id order either way.
    """
    ordered = list(runs) if in_default_order else default_order(runs)
    if key is None:
        return ordered
    values = _key_values(ordered, key)
    # Missing values last in both directions; a metric's NaN after its numbers, before missing.
    if key.kind == "metrics":
        present = [i for i, value in enumerate(values) if value is not None and value == value]
        rest = [i for i, value in enumerate(values) if value is not None and value != value]
    elif None in values:
        present = [i for i, value in enumerate(values) if value is not None]
        rest = []
    else:  # every run has the key (the usual param or attribute): one sort, no split
        present, rest = list(range(len(values))), []
    present.sort(key=values.__getitem__, reverse=not key.ascending)
    missing = [i for i, value in enumerate(values) if value is None] if None in values else []
    return [ordered[i] for i in (*present, *rest, *missing)]


def _key_values(runs: list[CachedRun], key: OrderKey) -> list[Any]:
    """Each run's value for `key` (None: missing), one pass (a sort of 100,000 runs is a few
    list passes and one sort, not a Python call per run)."""
    name = key.name
    if key.kind == "metrics":
        return [run.metrics.get(name) for run in runs]
    if key.kind == "params":
        return [run.params.get(name) for run in runs]
    if key.kind == "tags":
        return [run.tags.get(name) for run in runs]
    attribute = "start_time" if name in ("start_time", "created") else name
    return list(map(operator.attrgetter(attribute), runs))


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
