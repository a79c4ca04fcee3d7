"""A run filter language: MLflow's search syntax plus `or`, parentheses, `IN` and ranges.

MLflow's `search_runs` takes a conjunction of comparisons only. Here a query is tokenized and
parsed by recursive descent (nothing is ever evaluated), brought to disjunctive normal form, and
re-emitted as one MLflow filter string per disjunct; `search_runs_filtered` runs each, merges the
runs by id and sorts the merged list the way MLflow would.

Grammar (keywords are case-insensitive)::

    query      := [or_expr] EOF
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := atom ("and" atom)*
    atom       := "(" or_expr ")" | comparison
    comparison := key op value
                | key ["not"] "in" "(" value ("," value)* ")"
                | value cmp key [cmp value]        # ranges: 0.1 <= metrics.rmse < 0.5
    key        := prefix "." (name | `quoted name`)
    prefix     := metrics | params | tags | attributes (and their singular forms, `attr`, `run`)
    op         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | "like" | "ilike"
    value      := 'string' | "string" | number

A string's quote is escaped by doubling it (`'it''s'`) or with a backslash (`'it\\'s'`), and
`\\\\` is a backslash. Values are re-emitted between quotes MLflow takes verbatim, so no value
can add filter syntax; a value holding both kinds of quote cannot be expressed and is rejected.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlworkbench.errors import InvalidFilterError
from mlworkbench.explorer.run_filter_syntax import (
    MAX_DISJUNCTS,
    ORDER_ATTRIBUTES,
    PREFIXES,
    Kind,
    Parser,
    describe_token,
    disjunctive_normal_form,
    tokenize,
)

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

__all__ = [
    "MAX_DISJUNCTS",
    "OrderKey",
    "parse_order_by",
    "search_runs_filtered",
    "sort_runs",
    "to_mlflow_filters",
]


def to_mlflow_filters(query: str | None) -> list[str]:
    """One MLflow filter string per disjunct; `[""]` (everything) for an empty query."""
    node = Parser(query or "").parse()
    if node is None:
        return [""]
    filters: list[str] = []
    for conjunct in disjunctive_normal_form(node, query or ""):
        unique = dict.fromkeys(c.to_mlflow(query or "") for c in conjunct)
        filters.append(" and ".join(unique))
    return list(dict.fromkeys(filters))


@dataclass(frozen=True)
class OrderKey:
    kind: Kind
    name: str
    ascending: bool

    def to_mlflow(self) -> str:
        key = (
            f"{self.kind}.{self.name}"
            if self.kind == "attributes"
            else (f"{self.kind}.`{self.name}`")
        )
        return f"{key} {'ASC' if self.ascending else 'DESC'}"


def parse_order_by(text: str) -> OrderKey:
    """`metrics.m1 DESC`, `attributes.start_time`, `params.`a b` ASC` (ascending by default)."""
    tokens = tokenize(text)
    key = tokens[0]
    if key.kind == "word" and key.source.lower() in ORDER_ATTRIBUTES:  # bare attribute
        kind: Kind | None = "attributes"
        name = key.source.lower()
    elif key.kind == "key":
        kind = PREFIXES.get(key.text.lower())
        name = key.name
        if kind is None or not name:
            raise InvalidFilterError(
                f"unknown order key {key.source!r}; expected metrics.NAME, params.NAME, "
                "tags.NAME or attributes.NAME",
                text,
                key.position,
            )
    else:
        raise InvalidFilterError(
            f"expected an order key such as metrics.NAME, found {describe_token(key)}",
            text,
            key.position,
        )
    if kind is None or (kind == "attributes" and name not in ORDER_ATTRIBUTES):
        raise InvalidFilterError(f"unknown attribute {name!r}", text, key.position)
    ascending = True
    rest = tokens[1:]
    if rest[0].kind == "word" and rest[0].text in ("ASC", "DESC"):
        ascending = rest[0].text == "ASC"
        rest = rest[1:]
    if rest[0].kind != "eof":
        raise InvalidFilterError(
            f"expected 'asc', 'desc' or the end of the order key, found {describe_token(rest[0])}",
            text,
            rest[0].position,
        )
    return OrderKey(kind, name, ascending)


def _sort_value(run: Run, key: OrderKey) -> object:
    if key.kind == "metrics":
        return run.data.metrics.get(key.name)
    if key.kind == "params":
        return run.data.params.get(key.name)
    if key.kind == "tags":
        return run.data.tags.get(key.name)
    name = "start_time" if key.name == "created" else key.name
    return getattr(run.info, name, None)


def sort_runs(runs: Sequence[Run], keys: Sequence[OrderKey]) -> list[Run]:
    """MLflow's order: the keys in turn, missing values last, then start time DESC, run id."""
    names = {(k.kind, "start_time" if k.name == "created" else k.name) for k in keys}
    keys = list(keys)
    if ("attributes", "start_time") not in names:
        keys.append(OrderKey("attributes", "start_time", ascending=False))
    if ("attributes", "run_id") not in names:
        keys.append(OrderKey("attributes", "run_id", ascending=True))
    ordered = list(runs)
    for key in reversed(keys):  # stable sorts, least significant key first
        values = [(run, _sort_value(run, key)) for run in ordered]
        # MLflow's SQL order in either direction: numbers and strings, then NaN, then missing.
        nan = [r for r, v in values if isinstance(v, float) and math.isnan(v)]
        missing = [r for r, v in values if v is None]
        present = [
            (r, v)
            for r, v in values
            if v is not None and not (isinstance(v, float) and math.isnan(v))
        ]
        present.sort(key=lambda pair: pair[1], reverse=not key.ascending)  # type: ignore[arg-type,return-value]
        ordered = [r for r, _ in present] + nan + missing
    return ordered


def search_runs_filtered(
    client: MlflowClient,
    experiment_ids: Sequence[str],
    query: str | None,
    order_by: Sequence[str] | None = None,
    max_results: int = 200,
) -> list[Run]:
    """Runs matching `query`, ordered by `order_by` (MLflow's syntax), at most `max_results`."""
    filters = to_mlflow_filters(query)
    keys = [parse_order_by(text) for text in order_by or ()]
    mlflow_order = [k.to_mlflow() for k in keys]
    if len(filters) == 1:  # a plain MLflow query: exactly what MLflow returns
        return list(
            client.search_runs(
                experiment_ids=list(experiment_ids),
                filter_string=filters[0],
                order_by=mlflow_order or None,
                max_results=max_results,
            )
        )
    merged: dict[str, Run] = {}
    for filter_string in filters:
        for run in client.search_runs(
            experiment_ids=list(experiment_ids),
            filter_string=filter_string,
            order_by=mlflow_order or None,
            max_results=max_results,
        ):
            merged.setdefault(run.info.run_id, run)
    return sort_runs(list(merged.values()), keys)[:max_results]
