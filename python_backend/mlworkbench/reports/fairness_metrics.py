"""Metrics by sensitive group, computed once from per-group counts: the numbers of Fairlearn's
`MetricFrame` with scikit-learn's metric functions, twenty-odd times faster.

`MetricFrame` calls every metric function once per group, and each scikit-learn call validates
its inputs and builds a confusion matrix again: 4.7 s for 100,000 rows and 10 groups. Every
binary metric is a ratio of the four confusion counts, and every regression metric a ratio of
a few sums, so this module counts each group's rows once (one `np.bincount` over group codes)
and derives all metrics from the counts, with scikit-learn's own answers where a metric is
undefined (precision with no positive predictions is 0, as `zero_division="warn"` gives; a
rate with no true positives is 0, as Fairlearn's `nan_to_num` gives). The results keep
Fairlearn's shapes — a `by_group` DataFrame with `MetricFrame`'s index and columns,
`difference()` / `ratio()` with `method="between_groups"` — so a user can check them against
Fairlearn (tests/backend/test_fairness_metrics.py does, number by number).

What Fairlearn refuses, a report has to handle: a missing sensitive value becomes its own group
"(missing)" (counted, never dropped), and a column with more distinct values than `max_groups`
(an id, a raw income) is refused with the count and a hint to bin it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mlworkbench.reports.report_errors import InvalidReportInputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Task = Literal["binary", "regression"]

MISSING = "(missing)"
INTERSECTION = "intersection"
# Joins feature names: "sex x age_group" with a multiplication sign (escaped: ruff flags the
# sign as confusable with the letter).
CROSS = " \N{MULTIPLICATION SIGN} "
DEFAULT_MAX_GROUPS = 100
DEFAULT_MIN_GROUP_SIZE = 30
# Fairlearn's intersectional `by_group` lists every combination of the features' values, rows
# that no sample has included (as NaN). Past this many combinations only the observed ones are
# listed: the disparities skip empty groups either way, so the numbers are the same.
MAX_PRODUCT_ROWS = 10_000

# Column names as a user would name them in a MetricFrame's `metrics` dict.
BINARY_METRICS = (
    "count",
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "false_positive_rate",
    "false_negative_rate",
    "selection_rate",
)
REGRESSION_METRICS = ("count", "mean_absolute_error", "root_mean_squared_error", "r2")
METRIC_LABELS = {
    "count": "Rows",
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "false_positive_rate": "False positive rate",
    "false_negative_rate": "False negative rate",
    "selection_rate": "Selection rate",
    "mean_absolute_error": "MAE",
    "root_mean_squared_error": "RMSE",
    "r2": "R²",
}
# Metrics where a larger value is worse (for naming the worst group).
LOWER_IS_BETTER = frozenset(
    {"false_positive_rate", "false_negative_rate", "mean_absolute_error", "root_mean_squared_error"}
)


@dataclass
class Grouping:
    """One way of splitting the rows: a sensitive feature alone, or all of them together."""

    name: str  # the feature's name, or INTERSECTION
    features: list[str]
    codes: np.ndarray  # each row's group, 0 .. len(levels) - 1
    levels: list[tuple[Any, ...]]  # each group's value of every feature (MISSING for NaN)
    # Every feature's sorted values, for the MetricFrame-shaped product index.
    values: list[list[Any]] = field(default_factory=list)

    def label(self, code: int) -> str:
        return ", ".join(level_label(v) for v in self.levels[code])


@dataclass
class GroupMetrics:
    """The metrics of one grouping: Fairlearn's MetricFrame, as numbers already computed."""

    name: str
    features: list[str]
    task: Task
    labels: list[str]  # each group's display label, parallel to `table`'s rows
    table: pd.DataFrame  # one row per observed group, columns: the task's metrics
    by_group: pd.DataFrame  # MetricFrame-shaped: its index, its columns (count included)
    overall: pd.Series
    # Equal to fairlearn.metrics.demographic_parity_difference etc. on this grouping
    # (binary only; None for regression).
    parity: dict[str, float | None]
    # Metric → group labels where scikit-learn would warn it is undefined (and give 0).
    undefined: dict[str, list[str]]

    @property
    def metric_names(self) -> list[str]:
        return [c for c in self.table.columns if c != "count"]

    def group_min(self) -> pd.Series:
        return self.table[self.metric_names].min()

    def group_max(self) -> pd.Series:
        return self.table[self.metric_names].max()

    def difference(self) -> pd.Series:
        """`MetricFrame.difference(method="between_groups")`: max minus min over groups."""
        return self.group_max() - self.group_min()

    def ratio(self) -> pd.Series:
        """`MetricFrame.ratio(method="between_groups")`: min over max (NaN when max is 0)."""
        return self.group_min() / self.group_max()


@dataclass
class FairnessMetrics:
    task: Task
    pos_label: Any  # the positive class (binary), None for regression
    groupings: list[GroupMetrics]  # each feature alone, then the intersection (2+ features)
    missing: dict[str, int]  # sensitive feature → rows with no value (the "(missing)" group)
    empty_combinations: int  # feature-value combinations no row has (intersection only)

    @property
    def headline(self) -> GroupMetrics:
        """All the sensitive features together, as Fairlearn groups them when given several."""
        return self.groupings[-1]

    def grouping(self, name: str) -> GroupMetrics:
        return next(g for g in self.groupings if g.name == name)


def level_label(value: Any) -> str:
    """A group value as text: 2.0 from a float column with gaps reads as 2."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- groups ---------------------------------------------------------------------------------


def encode_feature(values: pd.Series, name: str, max_groups: int) -> Grouping:
    """Codes of one sensitive feature's values, sorted as pandas sorts them, NaN as MISSING."""
    import numpy as np
    import pandas as pd

    try:
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    except TypeError:  # values of several types (3 and "3+") sort as text
        text = values.astype(str).where(values.notna())
        codes, uniques = pd.factorize(text, sort=True, use_na_sentinel=True)
    levels = list(uniques.tolist() if hasattr(uniques, "tolist") else uniques)
    codes = np.asarray(codes, dtype=np.int64)
    missing = codes < 0
    if missing.any():
        if MISSING in levels:
            codes[missing] = levels.index(MISSING)
        else:
            codes[missing] = len(levels)
            levels.append(MISSING)
    if len(levels) > max_groups:
        raise InvalidReportInputError(
            f"sensitive feature {name!r} has {len(levels):,} distinct values, more than the "
            f"{max_groups:,} groups allowed; bin it into a few groups first (e.g. pandas.cut "
            "for ages or incomes) or raise --max-groups",
            field="sensitive",
        )
    return Grouping(name, [name], codes, [(level,) for level in levels], [levels])


def intersect(features: list[Grouping], max_groups: int) -> tuple[Grouping, int]:
    """The observed combinations of several features' groups, in MultiIndex.from_product order,
    and how many combinations no row has."""
    import numpy as np

    combined = np.zeros_like(features[0].codes)  # each row's combination seen so far
    kept: list[np.ndarray] = []  # per observed combination, each feature's code
    for feature in features:
        size = len(feature.levels)
        # Re-numbering the observed combinations after each feature keeps the keys small for
        # any number of features (a product of 100-value features overflows int64 past nine).
        keys = combined * size + feature.codes
        observed, inverse = np.unique(keys, return_inverse=True)
        kept = [k[observed // size] for k in kept] + [observed % size]
        combined = np.asarray(inverse, dtype=np.int64).ravel()
    count = len(observed)
    if count > max_groups:
        names = CROSS.join(f.name for f in features)
        raise InvalidReportInputError(
            f"the intersection of {names} has {count:,} groups, more than the {max_groups:,} "
            "allowed; pass fewer sensitive features, bin them, or raise --max-groups",
            field="sensitive",
        )
    levels = [
        tuple(f.levels[int(k[i])][0] for f, k in zip(features, kept, strict=True))
        for i in range(count)
    ]
    product = 1
    for feature in features:
        product *= len(feature.levels)
    grouping = Grouping(
        INTERSECTION,
        [f.name for f in features],
        combined,
        levels,
        [[level[0] for level in f.levels] for f in features],
    )
    return grouping, product - count


def groupings_of(sensitive: pd.DataFrame, max_groups: int) -> tuple[list[Grouping], int]:
    """Each sensitive column alone, then (with two or more) their intersection."""
    features = [
        encode_feature(sensitive[name], str(name), max_groups) for name in sensitive.columns
    ]
    if len(features) < 2:
        return features, 0
    together, empty = intersect(features, max_groups)
    return [*features, together], empty


# --- labels ---------------------------------------------------------------------------------


def binary_labels(
    y_true: np.ndarray, y_pred: np.ndarray, pos_label: Any = None, target: str = "target"
) -> tuple[np.ndarray, np.ndarray, Any]:
    """Both label arrays as 0/1 (1 = the positive class), and the positive class.

    Without `pos_label` the labels must be {0, 1}, {-1, 1} or booleans (Fairlearn's and
    scikit-learn's rule); with it, any labels work, one class against the rest. `pos_label`
    may be text from the command line ("1" for the integer 1).
    """
    import numpy as np
    import pandas as pd

    if pd.isna(y_true).any():
        raise InvalidReportInputError(
            f"the target {target!r} has {int(pd.isna(y_true).sum()):,} missing values; drop "
            "those rows from the data set first",
            field="target",
        )
    values = _distinct(y_true)
    if pos_label is not None:
        positive = _match_label(pos_label, values + _distinct(y_pred))
        if positive is None:
            raise InvalidReportInputError(
                f"--pos-label {pos_label!r} is not a value of the target {target!r} "
                f"(its values: {_shown(values)})",
                field="pos-label",
            )
        return (
            np.asarray(y_true == positive, dtype=np.int64),
            np.asarray(y_pred == positive, dtype=np.int64),
            positive,
        )
    seen = set(values) | set(_distinct(y_pred))
    if seen <= {0, 1} or seen <= {-1, 1}:  # True/False compare equal to 1/0
        positive = True if all(isinstance(v, (bool, np.bool_)) for v in values) else 1
        return (
            np.asarray(y_true == 1, dtype=np.int64),
            np.asarray(y_pred == 1, dtype=np.int64),
            positive,
        )
    if len(values) <= 2:
        extra = [v for v in _distinct(y_pred) if v not in set(values)]
        reason = (
            f"the model predicts values the target does not have ({_shown(extra)})"
            if extra
            else f"its values are {_shown(values)}"
        )
        raise InvalidReportInputError(
            f"binary metrics need to know the positive class of the target {target!r}: {reason}; "
            "name it with --pos-label",
            field="pos-label",
        )
    raise InvalidReportInputError(
        f"the target {target!r} has {len(values):,} distinct values ({_shown(values)}), not two: "
        "name the positive class with --pos-label (one class against the rest), or use "
        "--task regression for a numeric target",
        field="target",
    )


def _distinct(values: np.ndarray) -> list[Any]:
    import pandas as pd

    uniques: list[Any] = list(pd.unique(pd.Series(values, copy=False)).tolist())
    try:
        return sorted(uniques)
    except TypeError:
        return uniques


def _match_label(pos_label: Any, values: list[Any]) -> Any:
    for value in values:
        if value == pos_label or str(value) == str(pos_label):
            return value
    try:
        number = float(pos_label)
    except (TypeError, ValueError):
        return None
    return next((v for v in values if isinstance(v, (int, float)) and v == number), None)


def _shown(values: list[Any], limit: int = 8) -> str:
    text = ", ".join(repr(v) for v in values[:limit])
    return text + (" …" if len(values) > limit else "")


# --- metrics --------------------------------------------------------------------------------


def binary_metrics_from_counts(
    counts: np.ndarray, zero_division: float = 0.0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every binary metric of each row of `counts` ([tn, fp, fn, tp] per group), and per metric
    the mask of groups where scikit-learn warns it is undefined."""
    import numpy as np

    tn, fp, fn, tp = (counts[:, i].astype(np.float64) for i in range(4))
    n = tn + fp + fn + tp
    positives = tp + fn
    negatives = tn + fp
    predicted = tp + fp
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = np.where(positives > 0, tp / positives, 0.0)
        tnr = np.where(negatives > 0, tn / negatives, 0.0)
        # balanced_accuracy_score averages the recall of the classes present in y_true only.
        balanced = np.where(
            (positives > 0) & (negatives > 0),
            (tpr + tnr) / 2,
            np.where(positives > 0, tpr, tnr),
        )
        metrics = {
            "count": n,
            "accuracy": (tp + tn) / n,
            "balanced_accuracy": balanced,
            "precision": np.where(predicted > 0, tp / predicted, zero_division),
            "recall": np.where(positives > 0, tp / positives, zero_division),
            # Fairlearn's rates come from a normalised confusion matrix with NaN set to 0.
            "false_positive_rate": np.where(negatives > 0, fp / negatives, 0.0),
            "false_negative_rate": np.where(positives > 0, fn / positives, 0.0),
            "selection_rate": predicted / n,
            "true_positive_rate": tpr,
        }
    undefined = {"precision": predicted == 0, "recall": positives == 0}
    return metrics, undefined


def regression_metrics_by_code(
    codes: np.ndarray, groups: int, y_true: np.ndarray, y_pred: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """MAE, RMSE and R² (scikit-learn's, `force_finite=True`) per group code."""
    import numpy as np

    n = np.bincount(codes, minlength=groups).astype(np.float64)
    error = y_pred - y_true
    with np.errstate(divide="ignore", invalid="ignore"):
        mae = np.bincount(codes, weights=np.abs(error), minlength=groups) / n
        squared = np.bincount(codes, weights=error * error, minlength=groups)
        # Deviations from each group's mean, not sum(y²) - n·mean²: that difference of two
        # large numbers loses the digits r2_score keeps.
        mean = np.bincount(codes, weights=y_true, minlength=groups) / n
        deviation = y_true - mean[codes]
        total = np.bincount(codes, weights=deviation * deviation, minlength=groups)
        r2 = np.where(total > 0, 1 - squared / total, np.where(squared > 0, 0.0, 1.0))
        r2 = np.where(n < 2, np.nan, r2)
        metrics = {
            "count": n,
            "mean_absolute_error": mae,
            "root_mean_squared_error": np.sqrt(squared / n),
            "r2": r2,
        }
    return metrics, {"r2": n < 2}


def _parity(metrics: dict[str, np.ndarray]) -> dict[str, float | None]:
    """Fairlearn's demographic parity and equalized odds (worst case) over these groups."""
    selection = metrics["selection_rate"]
    tpr, fpr = metrics["true_positive_rate"], metrics["false_positive_rate"]

    def diff(values: np.ndarray) -> float:
        return float(values.max() - values.min())

    def ratio(values: np.ndarray) -> float:
        top = float(values.max())
        return float(values.min()) / top if top != 0 else float("nan")

    # Fairlearn takes Python's max()/min() of the [tpr, fpr] pair: NaN wins only when first.
    return {
        "demographic_parity_difference": diff(selection),
        "demographic_parity_ratio": ratio(selection),
        "equalized_odds_difference": max([diff(tpr), diff(fpr)]),
        "equalized_odds_ratio": min([ratio(tpr), ratio(fpr)]),
    }


def group_metrics(
    grouping: Grouping,
    task: Task,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    zero_division: float = 0.0,
) -> GroupMetrics:
    """All metrics of one grouping. For "binary", `y_true`/`y_pred` are 0/1 integer arrays."""
    import numpy as np
    import pandas as pd

    groups = len(grouping.levels)
    if task == "binary":
        # Each row's cell of its group's confusion matrix, counted in one pass.
        cells = grouping.codes * 4 + y_true * 2 + y_pred
        counts = np.bincount(cells, minlength=groups * 4).reshape(groups, 4)
        metrics, undefined = binary_metrics_from_counts(counts, zero_division)
        overall, _ = binary_metrics_from_counts(counts.sum(axis=0, keepdims=True), zero_division)
        names: tuple[str, ...] = BINARY_METRICS
        parity: dict[str, float | None] = dict(_parity(metrics))
    else:
        metrics, undefined = regression_metrics_by_code(grouping.codes, groups, y_true, y_pred)
        overall, _ = regression_metrics_by_code(np.zeros_like(grouping.codes), 1, y_true, y_pred)
        names = REGRESSION_METRICS
        parity = {}
    labels = [grouping.label(code) for code in range(groups)]
    index = _index(grouping, list(range(groups)))
    table = pd.DataFrame({name: metrics[name] for name in names}, index=index)
    table["count"] = table["count"].astype(np.int64)
    by_group = table
    if len(grouping.features) > 1:
        by_group = _product_frame(grouping, table)
    return GroupMetrics(
        name=grouping.name,
        features=grouping.features,
        task=task,
        labels=labels,
        table=table,
        by_group=by_group,
        overall=pd.Series({name: float(overall[name][0]) for name in names}),
        parity=parity,
        undefined={
            metric: [labels[i] for i in np.flatnonzero(mask)]
            for metric, mask in undefined.items()
            if mask.any()
        },
    )


def _index(grouping: Grouping, codes: list[int]) -> pd.Index:
    import pandas as pd

    if len(grouping.features) == 1:
        return pd.Index([grouping.levels[c][0] for c in codes], name=grouping.features[0])
    return pd.MultiIndex.from_tuples([grouping.levels[c] for c in codes], names=grouping.features)


def _product_frame(grouping: Grouping, table: pd.DataFrame) -> pd.DataFrame:
    """The intersection as MetricFrame lists it: every combination, empty ones as NaN rows."""
    import pandas as pd

    size = 1
    for values in grouping.values:
        size *= len(values)
    if size > MAX_PRODUCT_ROWS:
        return table
    product = pd.MultiIndex.from_product(grouping.values, names=grouping.features)
    return table.reindex(product)


def compute_fairness_metrics(
    y_true: Any,
    y_pred: Any,
    sensitive: pd.DataFrame,
    *,
    task: Task = "binary",
    pos_label: Any = None,
    max_groups: int = DEFAULT_MAX_GROUPS,
    zero_division: float = 0.0,
    target: str = "target",
) -> FairnessMetrics:
    """Metrics by group for each sensitive column alone and for their intersection.

    Raises `InvalidReportInputError` for a non-binary target (binary task), a non-numeric one
    (regression), a sensitive column with more than `max_groups` values, or lengths that differ.
    """
    import numpy as np

    truth = np.asarray(y_true).ravel()
    predicted = np.asarray(y_pred).ravel()
    if not (len(truth) == len(predicted) == len(sensitive)):
        raise InvalidReportInputError(
            f"{len(truth):,} labels, {len(predicted):,} predictions and {len(sensitive):,} "
            "sensitive rows: they must match",
            field="data",
        )
    if len(truth) == 0:
        raise InvalidReportInputError("there are no rows to judge", field="data")
    if sensitive.shape[1] == 0:
        raise InvalidReportInputError("name at least one sensitive feature", field="sensitive")
    positive = None
    if task == "binary":
        truth, predicted, positive = binary_labels(truth, predicted, pos_label, target)
    else:
        truth, predicted = _numeric(truth, target, "target"), _numeric(predicted, target, "model")
    groupings, empty = groupings_of(sensitive, max_groups)
    missing = {
        str(name): int(count) for name, count in sensitive.isna().sum().items() if int(count) > 0
    }
    return FairnessMetrics(
        task=task,
        pos_label=positive,
        groupings=[
            group_metrics(g, task, truth, predicted, zero_division=zero_division) for g in groupings
        ],
        missing=missing,
        empty_combinations=empty,
    )


def _numeric(values: np.ndarray, target: str, what: str) -> np.ndarray:
    import numpy as np
    import pandas as pd

    numbers: np.ndarray = np.asarray(
        pd.to_numeric(pd.Series(values, copy=False), errors="coerce"), dtype=np.float64
    )
    bad = int(np.isnan(numbers).sum())
    if bad:
        source = f"the target {target!r}" if what == "target" else "the model's predictions"
        raise InvalidReportInputError(
            f"regression metrics need numbers: {source} has {bad:,} missing or non-numeric "
            "values; clean the data set, or use --task binary for a classifier",
            field="target",
        )
    return numbers
