"""Fairness mitigation: a new model that treats the groups more alike, as a new MLflow run.

Two of Fairlearn's methods: ThresholdOptimizer post-processes the run's own fitted estimator
(per-group thresholds on its positive-class score, so it needs the sensitive features when it
predicts), ExponentiatedGradient refits a clone of it under a demographic parity or equalized
odds constraint. Either way the result goes into a new run beside the source run (tagged
`mlworkbench.mitigatedFrom`), with the model, its metrics, and a fairness report comparing
before and after on held-out rows: the numbers a person needs to decide whether the accuracy it
costs is worth it. The source run is never changed.

The logged model is a `MitigatedModel`: `predict(frame)` takes the model's features and the
sensitive columns by name and answers in the target's own labels, so the fairness report, the
pyfunc flavour and a serving container call it like any scikit-learn model. It is saved with
cloudpickle, this module's classes by value, so loading it needs scikit-learn and Fairlearn but
not ML Workbench (skops would need every Fairlearn type listed as trusted).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

# scikit-learn's base classes make the wrappers estimators its checks and MLflow accept; this
# module is imported only by the mitigation itself, never at the CLI's start.
from sklearn.base import BaseEstimator, ClassifierMixin

from mlworkbench.reports import report_progress
from mlworkbench.reports.fairness_metrics import (
    MISSING,
    FairnessMetrics,
    binary_labels,
    compute_fairness_metrics,
)
from mlworkbench.reports.fairness_report import check_columns, fairness_document
from mlworkbench.reports.report_document import (
    ReportDocument,
    Section,
    number,
    number_column,
    table,
    text_column,
)
from mlworkbench.reports.report_errors import InvalidReportInputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlworkbench.reports.report_data import LoadedData
    from mlworkbench.reports.report_model import ReportModel

Method = Literal["threshold", "expgrad"]
Constraint = Literal["demographic_parity", "equalized_odds"]
METHODS: tuple[Method, ...] = ("threshold", "expgrad")
CONSTRAINTS: tuple[Constraint, ...] = ("demographic_parity", "equalized_odds")
METHOD_LABELS = {"threshold": "ThresholdOptimizer", "expgrad": "ExponentiatedGradient"}
CONSTRAINT_LABELS = {"demographic_parity": "demographic parity", "equalized_odds": "equalized odds"}
MITIGATED_FROM_TAG = "mlworkbench.mitigatedFrom"
MODEL_NAME = "model"
DEFAULT_HOLDOUT = 0.3
# The randomised predictions of both methods are seeded, so the same rows get the same answers.
SEED = 0


@dataclass
class MitigationResult:
    document: ReportDocument
    run_id: str  # the new run
    model_uri: str
    before: FairnessMetrics
    after: FairnessMetrics


class PositiveScore(BaseEstimator):  # type: ignore[misc]
    """The fitted estimator's probability of the positive class, as `predict`.

    ThresholdOptimizer takes column 1 of `predict_proba`, which is the positive class only when
    it sorts last; this picks the right column whatever the labels.
    """

    def __init__(self, estimator: Any, column: int) -> None:
        self.estimator = estimator
        self.column = column

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, inputs: Any, labels: Any) -> PositiveScore:
        """Never called (prefit): scikit-learn's checks want an estimator to have one."""
        return self

    def predict(self, inputs: Any) -> Any:
        return self.estimator.predict_proba(inputs)[:, self.column]


class MitigatedModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A Fairlearn mitigator that predicts from one frame, in the target's own labels."""

    def __init__(
        self,
        mitigator: Any,
        method: str,
        features: list[str],
        sensitive: list[str],
        labels: tuple[Any, Any],
    ) -> None:
        self.mitigator = mitigator
        self.method = method
        self.features = features
        self.sensitive = sensitive
        self.labels = labels
        self.classes_ = list(labels)  # [negative, positive]
        needed = sensitive if method == "threshold" else []
        self.feature_names_in_ = features + [s for s in needed if s not in features]

    def predict(self, inputs: Any) -> Any:
        import numpy as np
        import pandas as pd

        frame = inputs if isinstance(inputs, pd.DataFrame) else pd.DataFrame(inputs)
        features = frame[self.features]
        if self.method == "threshold":
            groups = frame[self.sensitive].astype(object)
            groups = groups.where(groups.notna(), MISSING)
            chosen = self.mitigator.predict(features, sensitive_features=groups, random_state=SEED)
        else:
            chosen = self.mitigator.predict(features, random_state=SEED)
        negative, positive = self.classes_
        return np.where(np.asarray(chosen) == 1, positive, negative)


def mitigate(
    data: LoadedData,
    model: ReportModel,
    target: str,
    sensitive: list[str],
    *,
    workspace: Path,
    method: Method = "threshold",
    constraint: Constraint = "demographic_parity",
    pos_label: Any = None,
    holdout: float = DEFAULT_HOLDOUT,
    tracking_uri: str | None = None,
) -> MitigationResult:
    """Mitigate `model` (a run's scikit-learn classifier) on `data`; log a new run with the
    mitigated model; return its before/after fairness report (not yet published).

    Raises `InvalidReportInputError` (no source run, not a scikit-learn classifier, a target
    that is not binary, an estimator that cannot be refit with sample weights) and the
    fairness report's column errors.
    """
    if method not in METHODS:
        raise InvalidReportInputError(
            f"unknown method {method!r}; expected one of {', '.join(METHODS)}", field="method"
        )
    if constraint not in CONSTRAINTS:
        raise InvalidReportInputError(
            f"unknown constraint {constraint!r}; expected one of {', '.join(CONSTRAINTS)}",
            field="constraint",
        )
    if not 0 <= holdout < 1:
        raise InvalidReportInputError("--holdout must be at least 0 and below 1", field="holdout")
    if model.run_id is None:
        raise InvalidReportInputError(
            "mitigation makes a new run beside the model's run: name the run (--run)", field="run"
        )
    if model.flavor != "sklearn":
        raise InvalidReportInputError(
            f"model {model.label} is not a scikit-learn model (flavour {model.flavor}); "
            "Fairlearn's mitigations need a scikit-learn estimator",
            field="model",
        )
    import numpy as np

    frame = data.frame
    names = check_columns(frame, target, sensitive)
    report_progress.step("Predicting")
    inputs = model.features_of(frame, exclude=[target, *names])
    raw_truth = frame[target].to_numpy()
    raw_before = model.predict(inputs)
    truth, before, positive = binary_labels(raw_truth, raw_before, pos_label, target)
    negative = _negative_label(raw_truth, positive, target)

    fit_rows, eval_rows = _split(truth, holdout)
    groups = frame[names].astype(object)
    groups = groups.where(groups.notna(), MISSING)
    if method == "threshold":
        _require_both_labels(truth[fit_rows], frame[names].iloc[fit_rows])
    report_progress.step(f"Fitting {METHOD_LABELS[method]}")
    mitigator = _fit(
        method,
        constraint,
        model,
        inputs.iloc[fit_rows],
        truth[fit_rows],
        groups.iloc[fit_rows],
        positive,
    )
    mitigated = MitigatedModel(
        mitigator, method, [str(c) for c in inputs.columns], names, (negative, positive)
    )

    report_progress.step("Computing metrics before and after")
    evaluated = frame.iloc[eval_rows]
    after = np.asarray(mitigated.predict(evaluated) == positive, dtype=np.int64)
    before_metrics = compute_fairness_metrics(
        truth[eval_rows], before[eval_rows], evaluated[names], task="binary", target=target
    )
    after_metrics = compute_fairness_metrics(
        truth[eval_rows], after, evaluated[names], task="binary", target=target
    )
    before_metrics.pos_label = after_metrics.pos_label = positive

    report_progress.step("Logging the mitigated model")
    run_id, model_uri = _log_run(
        workspace,
        tracking_uri,
        model,
        mitigated,
        evaluated[mitigated.feature_names_in_],
        params={
            "method": method,
            "constraint": constraint,
            "pos_label": str(positive),
            "holdout": holdout,
            "sensitive": ",".join(names),
        },
        metrics=after_metrics,
    )
    document = fairness_document(
        after_metrics,
        title=f"Fairness after {METHOD_LABELS[method]} ({CONSTRAINT_LABELS[constraint]}) "
        f"of {model.label}",
    )
    _add_comparison(document, before_metrics, after_metrics, method, constraint)
    document["data"] = data.source
    document["runId"] = run_id
    document["modelUri"] = model_uri
    document["details"].update(
        {
            "target": target,
            "sensitive": names,
            "method": method,
            "constraint": constraint,
            "sourceRunId": model.run_id,
            "sourceModelUri": model.uri,
            "evaluatedRows": len(eval_rows),
            "holdout": holdout,
        }
    )
    if holdout == 0:
        document["warnings"].insert(
            0,
            "Evaluated on the rows the mitigation was fitted on (--holdout 0): the numbers "
            "flatter it; keep some rows out to judge it.",
        )
    return MitigationResult(document, run_id, model_uri, before_metrics, after_metrics)


def _negative_label(raw_truth: np.ndarray, positive: Any, target: str) -> Any:
    import pandas as pd

    values = [v for v in pd.unique(pd.Series(raw_truth)).tolist() if v != positive]
    if len(values) != 1:
        raise InvalidReportInputError(
            f"mitigation needs a binary target; {target!r} has {len(values) + 1} distinct "
            "values (one class against the rest is not supported here)",
            field="target",
        )
    # 0/1 targets read as booleans or floats keep their own type.
    return values[0]


def _split(truth: np.ndarray, holdout: float) -> tuple[np.ndarray, np.ndarray]:
    """Row positions to fit on and to evaluate on (stratified by the label when it can be)."""
    import numpy as np

    rows = np.arange(len(truth))
    if holdout == 0:
        return rows, rows
    from sklearn.model_selection import train_test_split

    counts = np.bincount(truth, minlength=2)
    stratify = truth if counts.min() >= 2 else None
    try:
        fit_rows, eval_rows = train_test_split(
            rows, test_size=holdout, random_state=SEED, stratify=stratify
        )
    except ValueError as error:  # too few rows for the fraction asked
        raise InvalidReportInputError(
            f"cannot hold out {holdout:g} of {len(truth)} rows: {error}", field="holdout"
        ) from error
    return np.sort(fit_rows), np.sort(eval_rows)


def _require_both_labels(truth: np.ndarray, sensitive: pd.DataFrame) -> None:
    """ThresholdOptimizer picks a threshold per group from both labels' scores: a group with
    one label has none to pick (Fairlearn says "degenerate labels"); name such groups."""
    import numpy as np

    from mlworkbench.reports.fairness_metrics import groupings_of

    grouping = groupings_of(sensitive, max_groups=len(sensitive) + 1)[0][-1]
    groups = len(grouping.levels)
    positives = np.bincount(grouping.codes, weights=truth, minlength=groups)
    sizes = np.bincount(grouping.codes, minlength=groups)
    one_label = np.flatnonzero((positives == 0) | (positives == sizes))
    if len(one_label):
        shown = ", ".join(repr(grouping.label(int(i))) for i in one_label[:5])
        raise InvalidReportInputError(
            f"ThresholdOptimizer needs both labels in every group, and {len(one_label)} "
            f"group(s) have only one among the rows it is fitted on ({shown}); merge or drop "
            "those groups, lower --holdout, or use --method expgrad",
            field="sensitive",
        )


def _fit(
    method: Method,
    constraint: Constraint,
    model: ReportModel,
    inputs: pd.DataFrame,
    truth: np.ndarray,
    groups: pd.DataFrame,
    positive: Any,
) -> Any:
    estimator = model.model
    try:
        if method == "threshold":
            from fairlearn.postprocessing import ThresholdOptimizer

            if not model.has_proba:
                raise InvalidReportInputError(
                    f"model {model.label} has no predict_proba: ThresholdOptimizer needs a "
                    "score; use --method expgrad",
                    field="method",
                )
            classes = [c for c in getattr(estimator, "classes_", [])]
            column = classes.index(positive) if positive in classes else len(classes) - 1
            optimizer = ThresholdOptimizer(
                estimator=PositiveScore(estimator, column),
                constraints=constraint,
                prefit=True,
                predict_method="predict",
            )
            return optimizer.fit(inputs, truth, sensitive_features=groups)
        from fairlearn.reductions import DemographicParity, EqualizedOdds, ExponentiatedGradient
        from sklearn.base import clone

        moment = DemographicParity() if constraint == "demographic_parity" else EqualizedOdds()
        reduction = ExponentiatedGradient(clone(estimator), constraints=moment)
        return reduction.fit(inputs, truth, sensitive_features=groups)
    except InvalidReportInputError:
        raise
    except (TypeError, ValueError) as error:  # e.g. a Pipeline that takes no sample_weight
        hint = "; try --method threshold" if method == "expgrad" else ""
        raise InvalidReportInputError(
            f"{METHOD_LABELS[method]} failed on model {model.label}: "
            f"{type(error).__name__}: {error}{hint}",
            field="method",
        ) from error


def _log_run(
    workspace: Path,
    tracking_uri: str | None,
    model: ReportModel,
    mitigated: MitigatedModel,
    example: pd.DataFrame,
    *,
    params: dict[str, Any],
    metrics: FairnessMetrics,
) -> tuple[str, str]:
    """A new run in the source run's experiment holding the mitigated model; (run id, URI)."""
    import sys
    from importlib.metadata import version

    import cloudpickle  # type: ignore[import-untyped]
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

    mlflow.set_tracking_uri(resolve_tracking_uri(workspace, tracking_uri))
    client = mlflow.MlflowClient()
    source = client.get_run(str(model.run_id))
    name = f"{source.info.run_name or source.info.run_id[:8]}-{params['method']}"
    run = client.create_run(
        source.info.experiment_id,
        run_name=name,
        tags={MITIGATED_FROM_TAG: source.info.run_id},
    )
    overall = metrics.headline.overall
    parity = metrics.headline.parity
    # The run's id, not an ambient MLFLOW_RUN_ID: the model must land in the new run.
    with mlflow.start_run(run_id=run.info.run_id):
        mlflow.log_params(params)
        mlflow.log_metrics(
            {
                key: float(value)
                for key, value in {
                    "accuracy": overall["accuracy"],
                    "balanced_accuracy": overall["balanced_accuracy"],
                    "selection_rate": overall["selection_rate"],
                    **parity,
                }.items()
                if number(value) is not None
            }
        )
        signature = infer_signature(example, mitigated.predict(example))
        module = sys.modules[__name__]
        cloudpickle.register_pickle_by_value(module)
        try:
            info = mlflow.sklearn.log_model(
                mitigated,
                name=MODEL_NAME,
                serialization_format="cloudpickle",
                signature=signature,
                # Named, not inferred: inference loads the model in a child process (seconds).
                pip_requirements=[
                    f"{package}=={version(package)}"
                    for package in ("scikit-learn", "fairlearn", "cloudpickle", "pandas", "numpy")
                ],
            )
        finally:
            cloudpickle.unregister_pickle_by_value(module)
    return run.info.run_id, str(info.model_uri)


def _add_comparison(
    document: ReportDocument,
    before: FairnessMetrics,
    after: FairnessMetrics,
    method: Method,
    constraint: Constraint,
) -> None:
    """A "Before and after" section first, and the summary figures of both."""
    disparity = f"{constraint}_difference"
    label = {"demographic_parity": "DP difference", "equalized_odds": "EO difference"}[constraint]
    rows = []
    for name, metrics in (("Before", before), ("After", after)):
        overall, parity = metrics.headline.overall, metrics.headline.parity
        rows.append(
            {
                "model": name,
                "accuracy": overall["accuracy"],
                "balanced_accuracy": overall["balanced_accuracy"],
                "selection_rate": overall["selection_rate"],
                "dp_difference": parity["demographic_parity_difference"],
                "dp_ratio": parity["demographic_parity_ratio"],
                "eo_difference": parity["equalized_odds_difference"],
                "eo_ratio": parity["equalized_odds_ratio"],
            }
        )
    columns = [
        text_column("model", "Model"),
        number_column("accuracy", "Accuracy"),
        number_column("balanced_accuracy", "Balanced accuracy"),
        number_column("selection_rate", "Selection rate"),
        number_column("dp_difference", "DP difference"),
        number_column("dp_ratio", "DP ratio"),
        number_column("eo_difference", "EO difference"),
        number_column("eo_ratio", "EO ratio"),
    ]
    key = "dp_difference" if constraint == "demographic_parity" else "eo_difference"
    chart = {
        "data": {
            "values": [
                {"model": r["model"], "accuracy": number(r["accuracy"]), label: number(r[key])}
                for r in rows
            ]
        },
        "mark": {"type": "point", "filled": True, "size": 120},
        "encoding": {
            "x": {"field": label, "type": "quantitative", "title": f"{label} (lower is fairer)"},
            "y": {
                "field": "accuracy",
                "type": "quantitative",
                "title": "Accuracy",
                "scale": {"zero": False},
            },
            "color": {"field": "model", "type": "nominal", "title": "Model"},
            "tooltip": [
                {"field": "model", "type": "nominal"},
                {"field": "accuracy", "type": "quantitative", "format": ".4f"},
                {"field": label, "type": "quantitative", "format": ".4f"},
            ],
        },
    }
    section: Section = {
        "id": "before-after",
        "title": "Before and after",
        "description": f"The source model and the {METHOD_LABELS[method]} model with a "
        f"{CONSTRAINT_LABELS[constraint]} constraint, on the same held-out rows.",
        "table": table(columns, rows),
        "chart": chart,
    }
    document["sections"].insert(0, section)
    document["summary"] = [
        {"label": "Method", "value": f"{METHOD_LABELS[method]}, {CONSTRAINT_LABELS[constraint]}"},
        {"label": "Accuracy before", "value": number(rows[0]["accuracy"])},
        {"label": "Accuracy after", "value": number(rows[1]["accuracy"])},
        {"label": f"{label} before", "value": number(before.headline.parity[disparity])},
        {
            "label": f"{label} after",
            "value": number(after.headline.parity[disparity]),
            "hint": "lower is fairer",
        },
    ]
    document["details"]["before"] = {
        "overall": {k: number(v) for k, v in before.headline.overall.items()},
        "parity": {k: number(v) for k, v in before.headline.parity.items()},
    }
    document["details"]["after"] = {
        "overall": {k: number(v) for k, v in after.headline.overall.items()},
        "parity": {k: number(v) for k, v in after.headline.parity.items()},
    }
