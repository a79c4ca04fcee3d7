"""The fairness report: a model's metrics by sensitive group, and the disparities between groups.

The model predicts on the data set; fairness_metrics turns labels, predictions and the sensitive
columns into Fairlearn's numbers; this module lays them out as a `ReportDocument`: summary
figures, a "By group" section whose choice switches between each sensitive feature and their
intersection (a table and a bar chart each), and a "Disparities" section. `details` keeps every
number for scripts and tests. Nothing is escaped here: the renderers escape what they show.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Literal

from mlworkbench.reports import report_progress
from mlworkbench.reports.fairness_metrics import (
    CROSS,
    DEFAULT_MAX_GROUPS,
    DEFAULT_MIN_GROUP_SIZE,
    INTERSECTION,
    LOWER_IS_BETTER,
    METRIC_LABELS,
    FairnessMetrics,
    GroupMetrics,
    Task,
    compute_fairness_metrics,
)
from mlworkbench.reports.report_data import require_columns
from mlworkbench.reports.report_document import (
    Figure,
    Option,
    ReportDocument,
    Section,
    new_document,
    number,
    number_column,
    table,
    text_column,
)
from mlworkbench.reports.report_errors import InvalidReportInputError

if TYPE_CHECKING:
    import pandas as pd

    from mlworkbench.reports.report_data import LoadedData
    from mlworkbench.reports.report_model import ReportModel

TaskChoice = Literal["auto", "binary", "regression"]
# Group labels named in one warning before the rest is counted.
_NAMED = 5


def fairness_report(
    data: LoadedData,
    model: ReportModel,
    target: str,
    sensitive: list[str],
    *,
    pos_label: Any = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    max_groups: int = DEFAULT_MAX_GROUPS,
    task: TaskChoice = "auto",
) -> ReportDocument:
    """The fairness report of `model` on `data` (kind "fairness").

    Raises `ColumnNotFoundError` for a misspelled column, `InvalidReportInputError` for inputs
    that do not fit (no sensitive feature, a non-binary target, too many groups, a model whose
    features the data lacks).
    """
    frame = data.frame
    names = check_columns(frame, target, sensitive)
    if min_group_size < 1 or max_groups < 1:
        raise InvalidReportInputError(
            "--min-group-size and --max-groups must be at least 1", field="min-group-size"
        )
    report_progress.step("Predicting")
    inputs = model.features_of(frame, exclude=[target, *names])
    predictions = model.predict(inputs)
    report_progress.step("Computing metrics by group")
    resolved = resolve_task(task, frame[target], model.model, pos_label)
    metrics = compute_fairness_metrics(
        frame[target].to_numpy(),
        predictions,
        frame[names],
        task=resolved,
        pos_label=pos_label,
        max_groups=max_groups,
        target=target,
    )
    document = fairness_document(
        metrics, title=f"Fairness of {model.label}", min_group_size=min_group_size
    )
    document["data"] = data.source
    document["modelUri"] = model.uri
    if model.run_id:
        document["runId"] = model.run_id
    document["details"].update({"target": target, "sensitive": names})
    return document


def check_columns(frame: pd.DataFrame, target: str, sensitive: list[str]) -> list[str]:
    """The sensitive features, de-duplicated, after checking every column exists."""
    names = list(dict.fromkeys(s.strip() for s in sensitive if s.strip()))
    if not names:
        raise InvalidReportInputError(
            "name at least one sensitive feature (--sensitive COL[,COL])", field="sensitive"
        )
    require_columns(frame, [target], "target")
    require_columns(frame, names, "sensitive feature")
    if target in names:
        raise InvalidReportInputError(
            f"{target!r} is the target; it cannot also be a sensitive feature", field="sensitive"
        )
    return names


def resolve_task(task: TaskChoice, target: pd.Series, estimator: Any, pos_label: Any) -> Task:
    """ "binary" or "regression": the user's choice, else what the model and the target say."""
    if task != "auto":
        return task
    if pos_label is not None:
        return "binary"
    kind = getattr(estimator, "_estimator_type", None)
    tags = getattr(estimator, "__sklearn_tags__", None)  # scikit-learn >= 1.6 keeps it there
    if callable(tags):
        with contextlib.suppress(Exception):  # a half-made estimator: the target decides
            kind = tags().estimator_type
    if kind == "classifier":
        return "binary"
    if kind == "regressor":
        return "regression"
    import pandas as pd

    if pd.api.types.is_float_dtype(target) and target.nunique() > 2:
        return "regression"
    return "binary"


def fairness_document(
    metrics: FairnessMetrics,
    *,
    title: str,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> ReportDocument:
    """The document of computed metrics (also what mitigation shows for its new model)."""
    document = new_document("fairness", title)
    headline = metrics.headline
    document["summary"] = _summary(metrics, min_group_size)
    document["warnings"] = _warnings(metrics, min_group_size)
    document["sections"] = [
        _by_group_section(metrics, min_group_size),
        _disparities_section(metrics),
    ]
    document["details"] = {
        "task": metrics.task,
        "posLabel": _json_label(metrics.pos_label),
        "minGroupSize": min_group_size,
        "headline": headline.name,
        "overall": _numbers(headline.overall),
        "parity": {k: number(v) for k, v in headline.parity.items()},
        "missing": metrics.missing,
        "emptyCombinations": metrics.empty_combinations,
        "groupings": {g.name: grouping_details(g) for g in metrics.groupings},
    }
    return document


def grouping_details(group: GroupMetrics) -> dict[str, Any]:
    """One grouping's raw numbers, keyed by group label (JSON-safe: NaN becomes None)."""
    rows = group.table.to_dict(orient="list")
    return {
        "features": group.features,
        "byGroup": {
            label: {metric: number(rows[metric][i]) for metric in group.table.columns}
            for i, label in enumerate(group.labels)
        },
        "levels": {
            label: [_json_label(v) for v in (key if isinstance(key, tuple) else (key,))]
            for label, key in zip(group.labels, group.table.index, strict=True)
        },
        "overall": _numbers(group.overall),
        "difference": _numbers(group.difference()),
        "ratio": _numbers(group.ratio()),
        "parity": {k: number(v) for k, v in group.parity.items()},
        "undefined": group.undefined,
    }


# --- summary and warnings -------------------------------------------------------------------


def _summary(metrics: FairnessMetrics, min_group_size: int) -> list[Figure]:
    headline = metrics.headline
    worst_metric = "accuracy" if metrics.task == "binary" else "root_mean_squared_error"
    worst = worst_group(headline, worst_metric, min_group_size)
    worst_value = f"{worst[0]} ({METRIC_LABELS[worst_metric]} {worst[1]:.3g})" if worst else None
    if metrics.task == "binary":
        parity = headline.parity
        return [
            {"label": "Overall accuracy", "value": number(headline.overall["accuracy"])},
            {
                "label": "Demographic parity difference",
                "value": number(parity["demographic_parity_difference"]),
                "hint": "largest difference in selection rate between groups (0 is parity)",
            },
            {
                "label": "Equalized odds difference",
                "value": number(parity["equalized_odds_difference"]),
                "hint": "largest difference in true or false positive rate between groups",
            },
            {
                "label": "Worst group",
                "value": worst_value,
                "hint": f"lowest accuracy among groups of at least {min_group_size} rows",
            },
        ]
    difference = headline.difference()
    return [
        {"label": "Overall MAE", "value": number(headline.overall["mean_absolute_error"])},
        {"label": "Overall R²", "value": number(headline.overall["r2"])},
        {
            "label": "MAE difference",
            "value": number(difference["mean_absolute_error"]),
            "hint": "largest difference in mean absolute error between groups",
        },
        {
            "label": "Worst group",
            "value": worst_value,
            "hint": f"highest RMSE among groups of at least {min_group_size} rows",
        },
    ]


def worst_group(group: GroupMetrics, metric: str, min_group_size: int) -> tuple[str, float] | None:
    """The group doing worst on `metric`, among groups big enough to trust when there are any."""
    import numpy as np

    values = group.table[metric].to_numpy(dtype=np.float64)
    counts = group.table["count"].to_numpy()
    candidates = np.flatnonzero((counts >= min_group_size) & ~np.isnan(values))
    if not len(candidates):
        candidates = np.flatnonzero(~np.isnan(values))
    if not len(candidates):
        return None
    pick = candidates[
        np.argmax(values[candidates])
        if metric in LOWER_IS_BETTER
        else np.argmin(values[candidates])
    ]
    return group.labels[int(pick)], float(values[pick])


def _warnings(metrics: FairnessMetrics, min_group_size: int) -> list[str]:
    warnings = []
    for name, count in metrics.missing.items():
        warnings.append(
            f"Sensitive feature {name!r} has {count:,} rows without a value: they form the "
            "group '(missing)'."
        )
    for group in metrics.groupings:
        small = group.table["count"].to_numpy() < min_group_size
        if small.any():
            labels = [label for label, s in zip(group.labels, small, strict=True) if s]
            warnings.append(
                f"{_grouping_title(group)}: {len(labels)} group(s) have fewer than "
                f"{min_group_size} rows ({_named(labels)}); their metrics are noisy "
                "(flagged in the tables)."
            )
    headline = metrics.headline
    for metric, labels in headline.undefined.items():
        reason = {
            "precision": "no positive predictions",
            "recall": "no positive labels",
            "r2": "fewer than two rows",
        }[metric]
        value = "left empty" if metric == "r2" else "reported as 0, as scikit-learn does"
        warnings.append(
            f"{METRIC_LABELS[metric]} is undefined for {_named(labels)} ({reason}): {value}."
        )
    if metrics.empty_combinations:
        warnings.append(
            f"{metrics.empty_combinations:,} combination(s) of "
            f"{CROSS.join(headline.features)} have no rows."
        )
    return warnings


def _named(labels: list[str]) -> str:
    shown = ", ".join(repr(label) for label in labels[:_NAMED])
    return shown + (f" and {len(labels) - _NAMED} more" if len(labels) > _NAMED else "")


def _grouping_title(group: GroupMetrics) -> str:
    if group.name == INTERSECTION:
        return CROSS.join(group.features)
    return group.name


# --- sections -------------------------------------------------------------------------------


def _by_group_section(metrics: FairnessMetrics, min_group_size: int) -> Section:
    options: list[Option] = []
    ids: set[str] = set()
    for group in metrics.groupings:
        option_id = group.name
        while option_id in ids:  # a feature literally named "intersection"
            option_id += "-all"
        ids.add(option_id)
        options.append(
            {
                "id": option_id,
                "label": "intersection" if group.name == INTERSECTION else group.name,
                "description": f"Metrics for each group of {_grouping_title(group)}.",
                "table": group_table(group, min_group_size),
                "chart": group_chart(group),
            }
        )
    return {
        "id": "by-group",
        "title": "By group",
        "description": "Each metric for each group of the sensitive feature, and overall.",
        "choice": {"label": "Sensitive feature", "options": options},
    }


def group_table(group: GroupMetrics, min_group_size: int) -> Any:
    """Rows per group plus an overall row; small groups flagged, never hidden."""
    columns = [text_column("group", "Group")] + [
        number_column(m, METRIC_LABELS[m], 0 if m == "count" else 4) for m in group.table.columns
    ]
    records = group.table.to_dict(orient="records")
    rows: list[dict[str, Any]] = []
    flags: list[str] = []
    for label, values in zip(group.labels, records, strict=True):
        rows.append({"group": label, **values})
        count = int(values["count"])
        flags.append(
            f"{count} rows: below the minimum group size of {min_group_size}"
            if count < min_group_size
            else ""
        )
    rows.append({"group": "Overall", **_numbers(group.overall)})
    flags.append("")
    return table(columns, rows, flags)


_PANEL_WIDTH = 150
_PANELS_PER_ROW = 4
_BAR_STEP = 12


def group_chart(group: GroupMetrics) -> dict[str, Any]:
    """Small multiples: a bar per group in one panel per metric (rates only, not the row count),
    four panels to a row, each with its own value axis (a regression's errors are in the target's
    units). One grouped chart of every metric stacked per group grew to ~9,000 px at 50 groups;
    panels keep it to two screens and put one metric's groups side by side to compare."""
    values = [
        {"group": label, "metric": METRIC_LABELS[metric], "value": number(value)}
        for metric in group.metric_names
        for label, value in zip(group.labels, group.table[metric].tolist(), strict=True)
    ]
    return {
        "data": {"values": values},
        "mark": "bar",
        "width": _PANEL_WIDTH,
        "height": {"step": _BAR_STEP},
        "encoding": {
            "facet": {
                "field": "metric",
                "type": "nominal",
                "columns": _PANELS_PER_ROW,
                "sort": [METRIC_LABELS[metric] for metric in group.metric_names],
                "title": None,
            },
            "y": {"field": "group", "type": "nominal", "title": _grouping_title(group)},
            "x": {"field": "value", "type": "quantitative", "title": None},
            "tooltip": [
                {"field": "group", "type": "nominal"},
                {"field": "metric", "type": "nominal"},
                {"field": "value", "type": "quantitative", "format": ".4f"},
            ],
        },
        "resolve": {"scale": {"x": "independent"}},
    }


def _disparities_section(metrics: FairnessMetrics) -> Section:
    rows: list[dict[str, Any]] = []
    for group in metrics.groupings:
        title = _grouping_title(group)
        difference, ratio = group.difference(), group.ratio()
        low, high = group.group_min(), group.group_max()
        for metric in group.metric_names:
            rows.append(
                {
                    "feature": title,
                    "metric": METRIC_LABELS[metric],
                    "min": low[metric],
                    "max": high[metric],
                    "difference": difference[metric],
                    "ratio": ratio[metric],
                }
            )
        parity = group.parity
        for name, label in (
            ("demographic_parity", "Demographic parity"),
            ("equalized_odds", "Equalized odds"),
        ):
            if f"{name}_difference" in parity:
                rows.append(
                    {
                        "feature": title,
                        "metric": label,
                        "min": None,
                        "max": None,
                        "difference": parity[f"{name}_difference"],
                        "ratio": parity[f"{name}_ratio"],
                    }
                )
    columns = [
        text_column("feature", "Sensitive feature"),
        text_column("metric", "Metric"),
        number_column("min", "Lowest group"),
        number_column("max", "Highest group"),
        number_column("difference", "Difference (max - min)"),
        number_column("ratio", "Ratio (min / max)"),
    ]
    return {
        "id": "disparities",
        "title": "Disparities",
        "description": "How far apart the groups are, as Fairlearn's MetricFrame.difference() "
        "and .ratio() (between groups) measure it: a difference of 0 and a ratio of 1 mean "
        "every group is alike.",
        "table": table(columns, rows),
    }


# --- JSON -----------------------------------------------------------------------------------


def _numbers(series: pd.Series) -> dict[str, float | int | None]:
    """Metric → value; the row count stays a whole number (overall counts are summed floats)."""
    return {str(k): int(v) if k == "count" else number(v) for k, v in series.items()}


def _json_label(value: Any) -> str | float | int | bool | None:
    """A label as JSON keeps it: numpy scalars become Python ones."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        result = item()
        if isinstance(result, (str, bool, int, float)):
            return result
    return str(value)
