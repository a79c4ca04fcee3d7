"""A private answer to one SQL query (privacy/sql_subset.py): counts, sums and means per group,
each released through an OpenDP measurement with calibrated noise.

What is spent and how: the query's epsilon is split evenly across its aggregates (sequential
composition); an AVG spends half its share on a noisy sum and half on a noisy count and divides
them. Within one aggregate the groups hold disjoint rows, so releasing every group costs the
aggregate's share once (parallel composition). The WHERE filter runs before the measurements:
a row filter changes the data by at most the row added or removed, so it costs nothing.

What is treated as public, and so released without noise: the set of values of each GROUP BY
column in the file (every combination of them is a group, even an empty one, so the groups that
exist are not revealed), and the bounds declared for summed columns (`--bounds col=lo:hi`):
values outside them are clamped. Bounds read from the data would leak, so there are none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlworkbench.privacy.sql_subset import Condition, GroupKey, Query
from mlworkbench.reports.report_data import require_columns
from mlworkbench.reports.report_errors import InvalidReportInputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlworkbench.privacy.opendp_mechanisms import Release

Bounds = dict[str, tuple[float, float]]
DEFAULT_MAX_GROUPS = 1000


@dataclass(frozen=True)
class QueryPlan:
    """A query checked against the data, ready to answer: nothing noisy has happened yet."""

    query: Query
    bounds: Bounds
    keys: list[list[Any]]  # per GROUP BY column, its public values (None for missing)
    group_codes: np.ndarray  # per row, its group's index in the product of `keys`
    mask: np.ndarray  # rows the WHERE keeps
    integer: dict[str, bool]  # per summed column: released with integer (discrete) noise

    @property
    def group_count(self) -> int:
        return math.prod(len(values) for values in self.keys)


@dataclass(frozen=True)
class AggregateCost:
    label: str
    epsilon: float  # what OpenDP's privacy maps say this aggregate spent
    mechanisms: list[Release]


@dataclass
class QueryAnswer:
    rows: list[dict[str, Any]]  # one per group: the keys' and the aggregates' labels
    labels: list[str]  # the result's columns, in order
    costs: list[AggregateCost]
    epsilon: float  # the sum over `costs`
    groups: int
    warnings: list[str] = field(default_factory=list)


def plan_query(
    frame: pd.DataFrame,
    query: Query,
    bounds: Bounds,
    *,
    max_groups: int = DEFAULT_MAX_GROUPS,
) -> QueryPlan:
    """Check `query` against `frame` (columns, types, bounds, group count) without drawing any
    noise, so the ledger is charged only for a query that will be answered."""
    import numpy as np
    import pandas as pd

    require_columns(frame, query.columns, "query column")
    integer: dict[str, bool] = {}
    for aggregate in query.aggregates:
        if aggregate.function == "COUNT" or aggregate.column is None:
            continue
        column = aggregate.column
        series = frame[column]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
            raise InvalidReportInputError(
                f"{aggregate.function}({column}) needs a numeric column; {column!r} holds "
                f"{series.dtype} values",
                "sql",
            )
        if column not in bounds:
            raise InvalidReportInputError(
                f"{aggregate.function}({column}) needs public bounds for {column!r}: declare "
                f"the range its values can take with --bounds {column}=LOW:HIGH (values "
                "outside are clamped; bounds read from the data would not be private)",
                "bounds",
            )
        low, high = bounds[column]
        integer[column] = (
            (pd.api.types.is_integer_dtype(series) or pd.api.types.is_bool_dtype(series))
            and float(low).is_integer()
            and float(high).is_integer()
        )
    keys: list[list[Any]] = []
    codes = np.zeros(len(frame), dtype=np.int64)
    groups = 1
    for column in query.group_by:
        series = frame[column]
        values = sorted(series.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))
        missing = bool(series.isna().any())
        count = len(values) + missing
        groups *= count
        if groups > max_groups:
            raise InvalidReportInputError(
                f"GROUP BY {', '.join(query.group_by)} makes more than {max_groups} groups "
                f"({column!r} alone has {count} values); group by fewer or coarser columns",
                "sql",
            )
        index = pd.Index(values).get_indexer(series)
        index = np.where(index < 0, len(values), index)  # missing is the last key
        codes = codes * count + index
        keys.append([*values, None] if missing else values)
    return QueryPlan(
        query=query,
        bounds={name: bounds[name] for name in integer},
        keys=keys,
        group_codes=codes,
        mask=_where(frame, query.where),
        integer=integer,
    )


def _where(frame: pd.DataFrame, conditions: list[Condition]) -> np.ndarray:
    import numpy as np
    import pandas as pd

    mask = np.ones(len(frame), dtype=bool)
    for condition in conditions:
        series = frame[condition.column]
        if condition.op == "IS NULL":
            mask &= series.isna().to_numpy()
            continue
        if condition.op == "IS NOT NULL":
            mask &= series.notna().to_numpy()
            continue
        value = condition.value
        numeric = pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
        if numeric != (isinstance(value, (int, float)) and not isinstance(value, str)):
            raise InvalidReportInputError(
                f"WHERE {condition.column} {condition.op} {value!r}: {condition.column!r} holds "
                f"{series.dtype} values; compare it with a "
                f"{'number' if numeric else 'quoted text'}",
                "sql",
            )
        compared = {
            "=": series == value,
            "!=": series != value,
            "<": series < value,
            "<=": series <= value,
            ">": series > value,
            ">=": series >= value,
        }[condition.op]
        # SQL: a comparison with a missing value is never true.
        mask &= compared.fillna(False).to_numpy(dtype=bool) & series.notna().to_numpy()
    return mask


def answer_query(frame: pd.DataFrame, plan: QueryPlan, epsilon: float) -> QueryAnswer:
    """Release the planned query's aggregates with `epsilon` in all (split evenly)."""
    import numpy as np

    from mlworkbench.privacy.opendp_mechanisms import noisy_counts, noisy_sums

    query = plan.query
    share = epsilon / len(query.aggregates)
    size = plan.group_count
    results: dict[str, list[Any]] = {}
    costs: list[AggregateCost] = []
    for aggregate in query.aggregates:
        column = aggregate.column
        present = plan.mask.copy()
        if column is not None:
            present &= frame[column].notna().to_numpy()
        if aggregate.function == "COUNT":
            counted = noisy_counts(plan.group_codes[present], size, share)
            results[aggregate.label] = [max(int(v), 0) for v in counted.value]
            costs.append(AggregateCost(aggregate.label, counted.epsilon, [counted]))
            continue
        assert column is not None
        codes = plan.group_codes[present]
        order = np.argsort(codes, kind="stable")
        kept = frame[column].to_numpy()[present][order]
        splits = np.searchsorted(codes[order], np.arange(1, size))
        sums = noisy_sums(
            np.split(kept, splits),  # one array per group, empty groups included
            plan.bounds[column],
            share if aggregate.function == "SUM" else share / 2,
            integer=plan.integer[column],
        )
        if aggregate.function == "SUM":
            results[aggregate.label] = list(sums.value)
            costs.append(AggregateCost(aggregate.label, sums.epsilon, [sums]))
            continue
        counted = noisy_counts(plan.group_codes[present], size, share / 2)
        low, high = plan.bounds[column]
        results[aggregate.label] = [
            None if count <= 0 else float(np.clip(total / count, low, high))
            for total, count in zip(sums.value, counted.value, strict=True)
        ]
        costs.append(
            AggregateCost(aggregate.label, sums.epsilon + counted.epsilon, [sums, counted])
        )
    rows = []
    key_labels = _key_labels(query)
    for index in range(size):
        row: dict[str, Any] = {}
        remainder = index
        for position in range(len(plan.keys) - 1, -1, -1):
            values = plan.keys[position]
            remainder, code = divmod(remainder, len(values))
            row[key_labels[position]] = values[code]
        for aggregate in query.aggregates:
            row[aggregate.label] = results[aggregate.label][index]
        rows.append({label: row[label] for label in _labels(query)})
    warnings = []
    if query.group_by:
        warnings.append(
            "the values of "
            + ", ".join(repr(c) for c in query.group_by)
            + " in the file are treated as public: each is shown as a group, without noise"
        )
    return QueryAnswer(
        rows=rows,
        labels=_labels(query),
        costs=costs,
        epsilon=math.fsum(cost.epsilon for cost in costs),
        groups=size,
        warnings=warnings,
    )


def _key_labels(query: Query) -> list[str]:
    labels = {item.column: item.label for item in query.items if isinstance(item, GroupKey)}
    return [labels.get(column, column) for column in query.group_by]


def _labels(query: Query) -> list[str]:
    """Output columns: GROUP BY columns not selected first, then the SELECT list in order."""
    selected = {item.column for item in query.items if isinstance(item, GroupKey)}
    hidden = [column for column in query.group_by if column not in selected]
    return hidden + [item.label for item in query.items]
