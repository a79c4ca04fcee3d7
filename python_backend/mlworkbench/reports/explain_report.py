"""The explanation report: what drives a model overall, and why it predicted what it did for
chosen rows, with InterpretML's numbers laid out as a `ReportDocument` (kind "explain").

An Explainable Boosting Machine explains itself: its term importances, each term's shape
function and its per-row term scores come straight from `explain_global` / `explain_local`, and
they are exactly what the model adds up. Any other model is a black box to InterpretML; the
explainer installed with interpret-core that needs nothing more is `PartialDependence` (Morris
needs SALib, LIME needs lime, SHAP needs shap). Its curves are InterpretML's own; the global
importance and the local contributions are read off those curves in the same way EBM defines
its own (see `_explain_black_box`), so both kinds of report read alike.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mlworkbench.reports import report_progress
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
from mlworkbench.tracking.gc_pause import collector_paused

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlworkbench.reports.report_data import LoadedData
    from mlworkbench.reports.report_model import ReportModel

Task = Literal["classification", "regression"]
Explainer = Literal["ebm", "partial-dependence"]

DEFAULT_ROWS = 10  # explained when no rows are named: the first ones
MAX_ROWS_EXPLAINED = 20  # each row is an option of its own; the editor asks for at most 20 too
DEFAULT_SAMPLE = 10_000  # rows partial dependence predicts on, per grid point and feature
SAMPLE_SEED = 0
# InterpretML's own default grid; it also draws 10 individual curves, so it needs 10 rows.
PDP_POINTS = 10
MIN_PDP_ROWS = 10
# Bars in one chart: past this the chart shows the largest and the table keeps them all.
MAX_CHART_BARS = 30
_NAMED = 5  # values named in one message before the rest are counted


@dataclass
class Explanation:
    """What either explainer found, in InterpretML's own numbers (JSON-able), before layout."""

    explainer: Explainer
    task: Task
    scale: str  # what a score or contribution is measured in, for people
    classes: list[Any] | None
    importance_names: list[str]
    importance_scores: list[float | None]
    importance_method: str
    terms: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    sample: dict[str, int] | None = None
    dropped_terms: list[str] = field(default_factory=list)


def explain_report(
    data: LoadedData,
    model: ReportModel,
    target: str,
    *,
    rows: Sequence[int] | None = None,
    max_rows_explained: int = MAX_ROWS_EXPLAINED,
    sample: int = DEFAULT_SAMPLE,
) -> ReportDocument:
    """The explanation report of `model` on `data` (kind "explain").

    `rows` are positions in the data set (0 is the first data row; default: the first
    `DEFAULT_ROWS`). `sample` bounds the rows a black-box explainer predicts on; an EBM needs
    none. Raises `ColumnNotFoundError` for a missing target and `InvalidReportInputError` for a
    row out of range, a target that does not fit the model, features the data lacks, or a
    classifier without `predict_proba`.

    The cyclic collector is paused while InterpretML's arrays become the document's tens of
    thousands of small lists and dicts (a shape function has up to 1,024 bins): with it on,
    each burst of them walks the whole heap (pandas, scikit-learn, InterpretML) again, a third
    of an EBM report's time. Nothing made there is cyclic.
    """
    frame = data.frame
    require_columns(frame, [target], "target")
    picked = pick_rows(rows, len(frame), max_rows_explained)
    if sample < MIN_PDP_ROWS:
        raise InvalidReportInputError(
            f"--sample must be at least {MIN_PDP_ROWS} rows, got {sample}", field="sample"
        )
    estimator = model.model if model.flavor == "sklearn" else None
    if estimator is not None and is_ebm(estimator):
        # An EBM's global explanation is the model itself: only the explained rows are read.
        selected = model.rows_of(frame, picked, exclude=[target])
        with collector_paused():
            explanation = _explain_ebm(estimator, selected, frame[target], picked)
    else:
        # The collector stays on: the model predicts hundreds of times on data frames.
        explanation = _explain_black_box(model, frame, target, picked, sample)
    with collector_paused():
        document = explanation_document(explanation, title=f"Explanations of {model.label}")
    document["data"] = data.source
    document["modelUri"] = model.uri
    if model.run_id:
        document["runId"] = model.run_id
    document["details"]["target"] = target
    return document


def pick_rows(rows: Sequence[int] | None, total: int, limit: int) -> list[int]:
    """The rows to explain, de-duplicated in the order given; each must exist."""
    if limit < 1:
        raise InvalidReportInputError("explain at least one row", field="rows")
    if rows is None:
        return list(range(min(DEFAULT_ROWS, total, limit)))
    picked = list(dict.fromkeys(int(row) for row in rows))
    if not picked:
        raise InvalidReportInputError("name at least one row to explain (--rows 0,17)", "rows")
    if len(picked) > limit:
        raise InvalidReportInputError(
            f"{len(picked)} rows named; at most {limit} are explained one by one", field="rows"
        )
    bad = [row for row in picked if not 0 <= row < total]
    if bad:
        raise InvalidReportInputError(
            f"row {bad[0]} is out of range: the data set has {total:,} rows, numbered 0 to "
            f"{total - 1:,}",
            field="rows",
        )
    return picked


def is_ebm(estimator: Any) -> bool:
    """An Explainable Boosting Machine (plain or differentially private), which explains itself."""
    if not type(estimator).__module__.startswith("interpret."):
        return False  # no need to import InterpretML to know a scikit-learn model is not one
    from interpret.glassbox import ExplainableBoostingClassifier, ExplainableBoostingRegressor
    from interpret.privacy import DPExplainableBoostingClassifier, DPExplainableBoostingRegressor

    return isinstance(
        estimator,
        (
            ExplainableBoostingClassifier,
            ExplainableBoostingRegressor,
            DPExplainableBoostingClassifier,
            DPExplainableBoostingRegressor,
        ),
    )


# --- the glass box --------------------------------------------------------------------------


def _explain_ebm(
    ebm: Any, selected: pd.DataFrame, truth: pd.Series, rows: list[int]
) -> Explanation:
    classes = getattr(ebm, "classes_", None)
    task: Task = "classification" if classes is not None else "regression"
    check_target(truth, task, classes)
    report_progress.step("Reading the model's shape functions")
    with warnings.catch_warnings():
        # "Dropping term …": said once, in the report's own words, below.
        warnings.simplefilter("ignore", UserWarning)
        explained = ebm.explain_global()
    overall = explained.data()
    features_of_term = {
        str(name): [str(ebm.feature_names_in_[f]) for f in features]
        for name, features in zip(ebm.term_names_, ebm.term_features_, strict=True)
    }
    terms = [
        _ebm_term(str(name), kind, features_of_term[str(name)], explained.data(index))
        for index, (name, kind) in enumerate(
            zip(overall["names"], explained.feature_types, strict=True)
        )
    ]
    dropped = [str(name) for name in ebm.term_names_ if name not in set(overall["names"])]
    report_progress.step("Explaining rows")
    actual = truth.iloc[rows].tolist()  # one lookup: pandas pays ~50 µs per scalar access
    explained_rows = [
        {
            "row": row,
            "predicted": _ebm_prediction(ebm, item),
            "actual": plain(actual[position]),
            "intercept": numbers(item["extra"]["scores"][0]),
            "names": [str(name) for name in item["names"]],
            "values": [plain(value) for value in item["values"]],
            "scores": numbers(item["scores"]),  # a row per term; a column per class
        }
        for position, (row, item) in enumerate(zip(rows, _ebm_local(ebm, selected), strict=True))
    ]
    labels = [plain(c) for c in classes] if classes is not None else None
    if labels is None:
        scale = f"units of {truth.name!s}"
    elif len(labels) == 2:
        scale = f"log-odds of {truth.name!s} = {labels[1]}"
    else:
        scale = "log-odds (one score per class)"
    return Explanation(
        explainer="ebm",
        task=task,
        scale=scale,
        classes=labels,
        importance_names=[str(name) for name in overall["names"]],
        importance_scores=[number(score) for score in overall["scores"]],
        importance_method="InterpretML's term importance: the mean absolute score the term adds, "
        "over the training data (EBM.term_importances())",
        terms=terms,
        rows=explained_rows,
        warnings=[
            f"InterpretML does not graph {name!r} (a multiclass interaction or a term of more "
            "than two features): it is missing from the importance and shape sections but "
            "counts in the local explanations."
            for name in dropped
        ],
        dropped_terms=dropped,
    )


def _ebm_local(ebm: Any, selected: pd.DataFrame) -> list[dict[str, Any]]:
    """What `ebm.explain_local(selected).data(k)` holds for each row (its term names, the
    row's value of each single-feature term, per-term scores, the intercept; a regressor's
    prediction), from `ebm.eval_terms`, the very call explain_local sums, without building
    InterpretML's explanation object and its selector: a third of the time for ten rows.
    Values are read as InterpretML's `unify_data` reads them: numbers for continuous
    features, text for categorical ones, "" for a pair.
    """
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scores = np.asarray(ebm.eval_terms(selected))
    classes = getattr(ebm, "classes_", None)
    intercept = ebm.intercept_
    if (classes is None or len(classes) <= 2) and isinstance(intercept, (list, np.ndarray)):
        intercept = intercept[0]
    names = [str(name) for name in ebm.feature_names_in_]
    ordered = selected if list(selected.columns) == names else selected[names]
    frame = ordered.to_numpy(dtype=object)
    continuous = [kind == "continuous" for kind in ebm.feature_types_in_]
    predicted = ebm.predict(selected) if classes is None else None
    items = []
    for position, data in enumerate(frame):
        values = [
            ("" if len(term) != 1 else _unified(data[term[0]], continuous[term[0]]))
            for term in ebm.term_features_
        ]
        items.append(
            {
                "names": list(ebm.term_names_),
                "scores": scores[position],
                "values": values,
                "extra": {"scores": [intercept]},
                "perf": {"predicted": None if predicted is None else predicted[position]},
            }
        )
    return items


def _unified(value: Any, continuous: bool) -> Any:
    """A cell as InterpretML's `unify_data` hands it to explanations: a float for a continuous
    feature, the category's text otherwise (a missing value stays missing)."""
    if value is None or (isinstance(value, float) and value != value):
        return value
    return float(value) if continuous else str(value)


def _ebm_prediction(ebm: Any, item: dict[str, Any]) -> Any:
    """What `ebm.predict` says for an explained row, from the scores InterpretML just summed
    (as `predict` does: class 1 past a score of 0, else the highest-scoring class; a regressor's
    prediction is InterpretML's own, through its link)."""
    import numpy as np

    classes = getattr(ebm, "classes_", None)
    if classes is None:
        return plain(item["perf"]["predicted"])
    total = np.sum(np.asarray(item["scores"]), axis=0) + item["extra"]["scores"][0]
    index = int(total > 0) if np.ndim(total) == 0 else int(np.argmax(total))
    return plain(classes[index])


def _ebm_term(name: str, kind: str, features: list[str], data: dict[str, Any]) -> dict[str, Any]:
    if data["type"] == "interaction":
        return {
            "name": name,
            "type": "interaction",
            "featureType": kind,
            "features": features,
            "leftNames": bin_names(data["left_names"]),
            "rightNames": bin_names(data["right_names"]),
            "scores": numbers(data["scores"]),
        }
    return {
        "name": name,
        "type": "univariate",
        "featureType": kind,
        "features": features,
        "names": bin_names(data["names"]),
        "scores": numbers(data["scores"]),
        "upperBounds": _optional_numbers(data.get("upper_bounds")),
        "lowerBounds": _optional_numbers(data.get("lower_bounds")),
    }


# --- the black box --------------------------------------------------------------------------


def _explain_black_box(
    model: ReportModel,
    frame: pd.DataFrame,
    target: str,
    rows: list[int],
    sample: int,
) -> Explanation:
    """InterpretML's partial dependence, and what it says about the whole data and each row.

    A feature's partial dependence PD_j(v) is the model's mean prediction with feature j set to
    v on every row. Centred on its mean over the data, PD_j(x_j) - mean_i PD_j(x_ij) is the
    feature's contribution to a row: for an additive model (an EBM without pairs, a linear
    model on the score scale) it is exactly the term the model adds, and otherwise the additive
    part of the model, what is left being interactions (reported per row, never hidden). The
    global importance is the mean absolute contribution over the data, which is how EBM
    defines its own term importance. Between grid points PD_j is linearly interpolated.
    """
    import numpy as np
    import pandas as pd

    truth = frame[target]
    estimator = model.model if model.flavor == "sklearn" else None
    task = _black_box_task(estimator, truth)
    classes = getattr(estimator, "classes_", None) if task == "classification" else None
    check_target(truth, task, classes)
    total = len(frame)
    sampled: dict[str, int] | None = None
    notes: list[str] = []
    if total > sample:
        chosen = np.sort(np.random.default_rng(SAMPLE_SEED).choice(total, sample, replace=False))
        background = model.features_of(frame.iloc[chosen], exclude=[target])
        sampled = {"rows": sample, "of": total, "seed": SAMPLE_SEED}
        notes.append(
            f"The data set has {total:,} rows: partial dependence used a random sample of "
            f"{sample:,} (seed {SAMPLE_SEED}); raise --sample to use more."
        )
    else:
        background = model.features_of(frame, exclude=[target])
    if len(background) < MIN_PDP_ROWS:
        raise InvalidReportInputError(
            f"InterpretML's partial dependence needs at least {MIN_PDP_ROWS} rows; the data set "
            f"has {len(background)}",
            field="data",
        )
    text = [c for c in background.columns if not pd.api.types.is_numeric_dtype(background[c])]
    if text:
        raise InvalidReportInputError(
            "InterpretML's partial dependence needs numeric features, and "
            f"{_named(text)} {'is' if len(text) == 1 else 'are'} not; encode them in the data "
            "or explain an EBM (`mlworkbench train-ebm`), which takes text features as they are",
            field="data",
        )
    selected = model.features_of(frame.iloc[rows], exclude=[target])
    if task == "classification":
        # The report_model error when the model has no predict_proba.
        probabilities = model.predict_proba(selected)
        if probabilities.ndim != 2 or probabilities.shape[1] != 2:
            raise InvalidReportInputError(
                f"InterpretML's partial dependence explains binary classifiers and regressors; "
                f"this classifier has {probabilities.shape[-1]} classes. Explain an EBM "
                "(`mlworkbench train-ebm`), which explains multiclass models",
                field="model",
            )

    report_progress.step("Computing partial dependence")
    explained = partial_dependence(model, background, task)
    grids = [explained.data(index) for index in range(len(background.columns))]
    columns = background.to_numpy(dtype=np.float64)
    curves = [
        np.interp(columns[:, j], grid["names"], grid["scores"]) for j, grid in enumerate(grids)
    ]
    centres = [float(curve.mean()) for curve in curves]
    importance = [
        float(np.abs(curve - centre).mean()) for curve, centre in zip(curves, centres, strict=True)
    ]
    average = float(np.mean(_scores(model, background, task)))

    report_progress.step("Explaining rows")
    actual = truth.iloc[rows].tolist()
    explained_rows = []
    values = selected.to_numpy(dtype=np.float64)
    scores = _scores(model, selected, task)
    predicted = _predictions(model.predict(selected))
    for position, row in enumerate(rows):
        contributions = [
            float(np.interp(values[position, j], grid["names"], grid["scores"])) - centres[j]
            for j, grid in enumerate(grids)
        ]
        explained_rows.append(
            {
                "row": row,
                "predicted": predicted[position],
                "actual": plain(actual[position]),
                "prediction": number(scores[position]),
                "intercept": number(average),
                "names": [str(name) for name in background.columns],
                "values": [plain(v) for v in selected.iloc[position].tolist()],
                "scores": [number(c) for c in contributions],
                "remainder": number(scores[position] - average - sum(contributions)),
            }
        )

    labels = [plain(c) for c in classes] if classes is not None else None
    terms = [
        {
            "name": str(name),
            "type": "univariate",
            "featureType": kind,
            "features": [str(name)],
            "names": numbers(grid["names"]),
            "scores": numbers(grid["scores"]),
            "upperBounds": _optional_numbers(grid.get("upper_bounds")),
            "lowerBounds": _optional_numbers(grid.get("lower_bounds")),
            "centre": number(centre),
        }
        for name, kind, grid, centre in zip(
            background.columns, explained.feature_types, grids, centres, strict=True
        )
    ]
    scale = (
        f"probability of {truth.name!s} = {labels[1]}"
        if labels is not None
        else f"units of {truth.name!s}"
    )
    return Explanation(
        explainer="partial-dependence",
        task=task,
        scale=scale,
        classes=labels,
        importance_names=[str(name) for name in background.columns],
        importance_scores=[number(value) for value in importance],
        importance_method="mean absolute centred partial dependence over the data: how far, "
        "on average, the feature moves the prediction from its mean (as EBM's term importance)",
        terms=terms,
        rows=explained_rows,
        warnings=notes,
        sample=sampled,
    )


def partial_dependence(model: ReportModel, background: pd.DataFrame, task: Task) -> Any:
    """InterpretML's `PartialDependence(...).explain_global()` of the model on `background`.

    A scikit-learn model goes in as itself (InterpretML takes class 1's probability from a
    binary classifier); a pyfunc model, which only predicts, as its predict function.
    """
    from interpret.blackbox import PartialDependence

    predictor: Any = model.model if model.flavor == "sklearn" else model.predict
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return PartialDependence(predictor, background, num_points=PDP_POINTS).explain_global()
    except InvalidReportInputError:
        raise
    except Exception as error:  # the model's own code runs inside: any exception is its report
        raise InvalidReportInputError(
            f"InterpretML's partial dependence failed on this model and data set: "
            f"{type(error).__name__}: {error}",
            field="data",
        ) from error


def _black_box_task(estimator: Any, truth: pd.Series) -> Task:
    if estimator is not None:
        from sklearn.base import is_classifier, is_regressor

        if is_classifier(estimator):
            return "classification"
        if is_regressor(estimator):
            return "regression"
    import pandas as pd

    # A pyfunc model only predicts: a numeric target with more than two values is taken as a
    # regression target, anything else needs class probabilities the model cannot give.
    numeric = pd.api.types.is_numeric_dtype(truth) and not pd.api.types.is_bool_dtype(truth)
    return "regression" if numeric and truth.nunique() > 2 else "classification"


def _scores(model: ReportModel, inputs: pd.DataFrame, task: Task) -> np.ndarray:
    """What partial dependence averages: class 1's probability, or the prediction."""
    if task == "classification":
        return model.predict_proba(inputs)[:, 1]
    return model.predict(inputs).astype(float)


def check_target(truth: pd.Series, task: Task, classes: Any) -> None:
    """`InvalidReportInputError` when the target cannot be what the model predicts: a
    regressor's target that is not numeric, a classifier's target holding values that are
    none of its classes (a regression target, or the wrong column)."""
    import pandas as pd

    if task == "regression":
        if not pd.api.types.is_numeric_dtype(truth) or pd.api.types.is_bool_dtype(truth):
            raise InvalidReportInputError(
                f"the model is a regressor but the target {truth.name!r} is not numeric; pick "
                "the column the model was trained to predict",
                field="target",
            )
        return
    if classes is None:
        return
    # The distinct values first: a hash pass, then a handful of lookups, however many rows.
    labels = set(classes.tolist() if hasattr(classes, "tolist") else classes)
    distinct = pd.unique(truth.to_numpy()).tolist()
    unknown = [v for v in distinct if not pd.isna(v) and v not in labels]
    if unknown:
        known = ", ".join(repr(plain(c)) for c in list(classes)[:_NAMED])
        raise InvalidReportInputError(
            f"the model is a classifier of {known}{' …' if len(classes) > _NAMED else ''} but "
            f"the target {truth.name!r} holds {_named([plain(v) for v in unknown])}"
            f"{' (a regression target?)' if pd.api.types.is_float_dtype(truth) else ''}; pick "
            "the column the model was trained to predict",
            field="target",
        )


# --- the document ---------------------------------------------------------------------------


def explanation_document(explanation: Explanation, *, title: str) -> ReportDocument:
    document = new_document("explain", title)
    ebm = explanation.explainer == "ebm"
    ranked = _ranked(explanation.importance_names, explanation.importance_scores)
    summary: list[Figure] = [
        {
            "label": "Explainer",
            "value": "EBM (glass box)" if ebm else "Partial dependence (black box)",
            "hint": "InterpretML's own explanation of the model"
            if ebm
            else "InterpretML's PartialDependence; contributions read off its curves",
        },
        {
            "label": "Most important",
            "value": ranked[0][0] if ranked else None,
            "hint": "largest global importance",
        },
        {"label": "Terms" if ebm else "Features", "value": len(explanation.importance_names)},
        {"label": "Rows explained", "value": len(explanation.rows)},
    ]
    if explanation.sample:
        summary.append(
            {
                "label": "Rows used",
                "value": explanation.sample["rows"],
                "hint": f"a seeded sample of {explanation.sample['of']:,}",
            }
        )
    document["summary"] = summary
    document["warnings"] = list(explanation.warnings)
    document["sections"] = [
        _importance_section(explanation, ranked),
        _shapes_section(explanation),
        _local_section(explanation),
    ]
    document["details"] = {
        "explainer": explanation.explainer,
        "task": explanation.task,
        "scale": explanation.scale,
        "classes": explanation.classes,
        "importance": {
            "names": explanation.importance_names,
            "scores": explanation.importance_scores,
            "method": explanation.importance_method,
        },
        "terms": explanation.terms,
        "rows": explanation.rows,
        "sample": explanation.sample,
        "droppedTerms": explanation.dropped_terms,
    }
    return document


def _ranked(names: list[str], scores: list[float | None]) -> list[tuple[str, float | None]]:
    return sorted(zip(names, scores, strict=True), key=lambda item: -(item[1] or 0.0))


def _importance_section(
    explanation: Explanation, ranked: list[tuple[str, float | None]]
) -> Section:
    noun = "term" if explanation.explainer == "ebm" else "feature"
    shown = ranked[:MAX_CHART_BARS]
    more = f" The chart shows the {MAX_CHART_BARS} largest." if len(ranked) > len(shown) else ""
    return {
        "id": "importance",
        "title": "Global importance",
        "description": f"How much each {noun} moves the model's output ({explanation.scale}), "
        f"over the whole data set: {explanation.importance_method}.{more}",
        "table": table(
            [text_column("term", noun.capitalize()), number_column("importance", "Importance")],
            [{"term": name, "importance": score} for name, score in ranked],
        ),
        "chart": {
            "data": {"values": [{"term": name, "importance": score} for name, score in shown]},
            "mark": "bar",
            "encoding": {
                "y": {"field": "term", "type": "nominal", "sort": "-x", "title": None},
                "x": {"field": "importance", "type": "quantitative", "title": "Importance"},
                "tooltip": [
                    {"field": "term", "type": "nominal", "title": noun.capitalize()},
                    {"field": "importance", "type": "quantitative", "format": ".4f"},
                ],
            },
        },
    }


def _shapes_section(explanation: Explanation) -> Section:
    ebm = explanation.explainer == "ebm"
    options: list[Option] = []
    for index, term in enumerate(explanation.terms):
        if term["type"] == "interaction":
            description = (
                f"The score the pair {term['name']} adds ({explanation.scale}), for each "
                "combination of their bins."
            )
            chart = _heatmap(term)
        else:
            description = (
                f"The score {term['name']} adds to the model's output ({explanation.scale}) at "
                "each value; the band is ± one standard deviation across InterpretML's bags."
                if ebm
                else f"The model's mean prediction ({explanation.scale}) with {term['name']} set "
                "to each value on every row; the band is ± one standard deviation of the "
                "individual rows' predictions."
            )
            chart = _shape_chart(term, explanation.classes if ebm else None, stepped=ebm)
        options.append(
            {
                "id": f"term-{index}",
                "label": term["name"],
                "description": description,
                "chart": chart,
            }
        )
    return {
        "id": "shapes" if ebm else "partial-dependence",
        "title": "Shape functions" if ebm else "Partial dependence",
        "description": "What the model adds for each value of a term (EBM's own shape "
        "functions, exactly what it sums)."
        if ebm
        else "How the model's mean prediction changes with one feature, the others as they are "
        f"in the data (InterpretML's PartialDependence, {PDP_POINTS} grid points).",
        "choice": {"label": "Term" if ebm else "Feature", "options": options},
    }


def _shape_chart(term: dict[str, Any], classes: list[Any] | None, *, stepped: bool) -> Any:
    """A term's scores by value: bars for categories, a step line (EBM's bins) or a line through
    the grid points (partial dependence), with its band. The data is columnar, one record of
    arrays per series, which Vega-Lite's `flatten` turns into points: a 1,024-bin term costs no
    Python loop and no key repeated per point."""
    names, scores = term["names"], term["scores"]
    categorical = term["featureType"] in ("nominal", "ordinal") or _textual(names)
    multiclass = bool(scores) and isinstance(scores[0], list)
    count = len(scores)
    # A continuous EBM term has one more edge than bins: each score holds from its edge on, and
    # the last one up to the last edge, so it is drawn twice.
    edges = stepped and not categorical and len(names) == count + 1
    x_values = names if edges else names[:count]

    def column(values: list[Any]) -> list[Any]:
        return [*values, values[-1]] if edges and values else values

    series: list[dict[str, Any]] = []
    fields = ["x", "order", "score"]
    if multiclass:
        labels = classes or list(range(len(scores[0])))
        for index, label in enumerate(labels):
            by_class = [row[index] for row in scores]
            order = list(range(len(x_values)))
            series.append(
                {"class": str(label), "x": x_values, "order": order, "score": column(by_class)}
            )
    else:
        record = {"x": x_values, "order": list(range(len(x_values))), "score": column(scores)}
        if term.get("lowerBounds") is not None and term.get("upperBounds") is not None:
            record["lower"] = column(term["lowerBounds"])
            record["upper"] = column(term["upperBounds"])
            fields += ["lower", "upper"]
        series.append(record)
    data = {"data": {"values": series}, "transform": [{"flatten": fields}]}
    x: dict[str, Any] = (
        {"field": "x", "type": "nominal", "sort": {"field": "order"}, "title": term["name"]}
        if categorical
        else {"field": "x", "type": "quantitative", "title": term["name"], "scale": {"zero": False}}
    )
    title = "Score" if stepped else "Mean prediction"
    y = {"field": "score", "type": "quantitative", "title": title}
    color = {"color": {"field": "class", "type": "nominal", "title": "Class"}} if multiclass else {}
    tooltip = [
        {"field": "x", "title": term["name"]},
        {"field": "score", "type": "quantitative", "title": title, "format": ".4f"},
    ]
    if categorical:
        offset = {"xOffset": {"field": "class", "type": "nominal"}} if multiclass else {}
        return {
            **data,
            "mark": "bar",
            "encoding": {"x": x, "y": y, **color, **offset, "tooltip": tooltip},
        }
    line: dict[str, Any] = {"type": "line", "interpolate": "step-after" if stepped else "linear"}
    if not stepped:
        line["point"] = True
    layers: list[dict[str, Any]] = []
    if "lower" in fields:
        layers.append(
            {
                "mark": {"type": "area", "opacity": 0.25, "interpolate": line["interpolate"]},
                "encoding": {
                    "x": x,
                    "y": {"field": "lower", "type": "quantitative"},
                    "y2": {"field": "upper"},
                },
            }
        )
    layers.append({"mark": line, "encoding": {"x": x, "y": y, **color, "tooltip": tooltip}})
    return {**data, "layer": layers}


def _heatmap(term: dict[str, Any]) -> dict[str, Any]:
    """A pair's scores as a grid of bins, one record of arrays per row of the grid."""
    left, right = _bin_labels(term["leftNames"]), _bin_labels(term["rightNames"])
    first, second = term["features"]
    order = list(range(len(right)))
    values = [
        {"left": left[i], "leftOrder": i, "right": right, "rightOrder": order, "score": row}
        for i, row in enumerate(term["scores"])
    ]
    return {
        "data": {"values": values},
        "transform": [{"flatten": ["right", "rightOrder", "score"]}],
        "mark": "rect",
        "encoding": {
            "x": {
                "field": "left",
                "type": "ordinal",
                "sort": {"field": "leftOrder"},
                "title": first,
            },
            "y": {
                "field": "right",
                "type": "ordinal",
                "sort": {"field": "rightOrder"},
                "title": second,
            },
            "color": {
                "field": "score",
                "type": "quantitative",
                "title": "Score",
                "scale": {"scheme": "redblue", "domainMid": 0, "reverse": True},
            },
            "tooltip": [
                {"field": "left", "title": first},
                {"field": "right", "title": second},
                {"field": "score", "type": "quantitative", "format": ".4f"},
            ],
        },
    }


def _bin_labels(names: list[Any]) -> list[str]:
    """Categories as they are; continuous edges as the bins between them."""
    if _textual(names):
        return [str(name) for name in names]
    return [f"{_short(low)} to {_short(high)}" for low, high in itertools.pairwise(names)]


def _local_section(explanation: Explanation) -> Section:
    ebm = explanation.explainer == "ebm"
    options: list[Option] = []
    for item in explanation.rows:
        label = (
            f"Row {item['row']} (predicted {_short(item['predicted'])}, "
            f"actual {_short(item['actual'])})"
        )
        column, scale = _class_column(explanation, item)
        contributions = [score[column] if column is not None else score for score in item["scores"]]
        intercept = item["intercept"][column] if column is not None else item["intercept"]
        records = [
            {"term": name, "value": _short(value, 6), "contribution": score}
            for name, value, score in zip(item["names"], item["values"], contributions, strict=True)
        ]
        records.sort(key=lambda record: -abs(record["contribution"] or 0.0))
        rows: list[dict[str, Any]] = list(records)
        total = intercept + sum(c or 0.0 for c in contributions) if intercept is not None else None
        if ebm:
            rows.append({"term": "(intercept)", "value": "", "contribution": intercept})
            description = (
                f"What each term adds to the model's score ({scale}); the intercept plus them is "
                f"{_short(total)}."
            )
        else:
            rows.append({"term": "(mean prediction)", "value": "", "contribution": intercept})
            rows.append(
                {
                    "term": "(interactions and the rest)",
                    "value": "",
                    "contribution": item["remainder"],
                }
            )
            description = (
                f"Each feature's centred partial dependence at this row's value ({scale}); the "
                f"mean prediction plus them is {_short(total)}, and the model predicts "
                f"{_short(item['prediction'])}: the difference is what no single feature "
                "explains (interactions)."
            )
        shown = records[:MAX_CHART_BARS]
        options.append(
            {
                "id": f"row-{item['row']}",
                "label": label,
                "description": description,
                "table": table(
                    [
                        text_column("term", "Term" if ebm else "Feature"),
                        text_column("value", "Value"),
                        number_column("contribution", "Contribution"),
                    ],
                    rows,
                ),
                "chart": _contribution_chart(shown, ebm),
            }
        )
    return {
        "id": "local",
        "title": "Local explanations",
        "description": "Why the model predicted what it did for each chosen row (0 is the first "
        "data row): each term's contribution, largest first.",
        "choice": {"label": "Row", "options": options},
    }


def _class_column(explanation: Explanation, item: dict[str, Any]) -> tuple[int | None, str]:
    """Which column of a multiclass row's scores to show (the predicted class's), and the scale."""
    classes = explanation.classes
    if not item["scores"] or not isinstance(item["scores"][0], list) or classes is None:
        return None, explanation.scale
    column = classes.index(item["predicted"]) if item["predicted"] in classes else 0
    return column, f"log-odds score of class {classes[column]}"


def _contribution_chart(records: list[dict[str, Any]], ebm: bool) -> dict[str, Any]:
    """Bars of the largest contributions, largest first, coloured by direction (columnar data
    that Vega-Lite flattens, as the shape charts)."""
    contributions = [record["contribution"] for record in records]
    series = {
        "term": [record["term"] for record in records],
        "value": [record["value"] for record in records],
        "contribution": contributions,
        "direction": ["raises" if (c or 0.0) >= 0 else "lowers" for c in contributions],
        "order": list(range(len(records))),
    }
    noun = "Term" if ebm else "Feature"
    return {
        "data": {"values": [series]},
        "transform": [{"flatten": list(series)}],
        "mark": "bar",
        "encoding": {
            "y": {"field": "term", "type": "nominal", "sort": {"field": "order"}, "title": None},
            "x": {"field": "contribution", "type": "quantitative", "title": "Contribution"},
            "color": {"field": "direction", "type": "nominal", "title": "Effect"},
            "tooltip": [
                {"field": "term", "type": "nominal", "title": noun},
                {"field": "value", "type": "nominal", "title": "Value"},
                {"field": "contribution", "type": "quantitative", "format": ".4f"},
            ],
        },
    }


# --- JSON -----------------------------------------------------------------------------------


def plain(value: Any) -> str | float | int | bool | None:
    """A value as JSON keeps it: numpy scalars become Python ones, NaN becomes None."""
    kind = type(value)
    if kind is str or kind is int or value is None:
        same: str | int | None = value  # the common cases, without the lookups below
        return same
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (str, bytes)):
        value = item()
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (int, float)):
        return number(value)
    return str(value)


def numbers(values: Any) -> Any:
    """InterpretML's scores (a float, a vector, a matrix) as JSON-safe nested lists: NaN and
    infinities become None, as `number` makes them."""
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0:
        return number(array.item())
    finite = np.isfinite(array)
    if finite.all():
        return array.tolist()  # C speed: a 1,024-bin term is one call, not 1,024
    cells = array.astype(object)
    cells[~finite] = None
    return cells.tolist()


def bin_names(values: Any) -> list[Any]:
    """Bin names: category names as they are, numeric edges as `numbers` makes them."""
    import numpy as np

    listed = list(values)
    if _textual(listed):
        return [plain(value) for value in listed]
    # InterpretML hands edges over as a list of numpy scalars: fromiter reads them in one pass.
    return list(numbers(np.fromiter(listed, dtype=np.float64, count=len(listed))))


def _textual(names: list[Any]) -> bool:
    """Category names (InterpretML's are strings, "DPOther" included), not numeric edges."""
    return bool(names) and isinstance(names[0], str)


def _optional_numbers(values: Any) -> Any:
    return None if values is None else numbers(values)


def _predictions(predicted: Any) -> list[Any]:
    return [plain(value) for value in list(predicted)]


def _short(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _named(values: list[Any]) -> str:
    shown = ", ".join(repr(v) for v in values[:_NAMED])
    return shown + (f" and {len(values) - _NAMED} more" if len(values) > _NAMED else "")
