"""Train an Explainable Boosting Machine on a data file and log it as a new MLflow run: a
glass-box model whose explanation report is the model's own.

The defaults trade InterpretML's thoroughness (14 bags, 1,024 bins, learning rate 0.015) for a
model trained in seconds on two cores; every setting is a parameter. The model is logged with
MLflow's default format, skops, which loads only the types it is told to trust: the EBM's own
class is named in `skops_trusted_types` (it is the only type skops does not trust by default),
so `mlflow.sklearn.load_model` and the reports load it back with every check on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlworkbench.reports.report_data import require_columns
from mlworkbench.reports.report_errors import InvalidReportInputError

if TYPE_CHECKING:
    import pandas as pd

    from mlworkbench.reports.report_data import LoadedData

TaskChoice = Literal["auto", "classification", "regression"]
Task = Literal["classification", "regression"]

SCRIPT_TAG = "mlworkbench.script"
SCRIPT_NAME = "train-ebm"
MODEL_NAME = "model"
DATA_TAG = "mlworkbench.data.sha256"
DIGEST_CHARS = 36  # MLflow's limit on a data set digest
DEFAULT_EXPERIMENT = "ebm"
# An integer target with at most this many values is taken as classes under --task auto.
MAX_AUTO_CLASSES = 20
MIN_ROWS = 20
SEED = 0


@dataclass
class EbmSettings:
    """The EBM's parameters (InterpretML's names); logged as the run's params."""

    interactions: int = 3
    outer_bags: int = 4
    max_bins: int = 256
    max_interaction_bins: int = 32
    learning_rate: float = 0.05
    max_rounds: int = 2000
    early_stopping_rounds: int = 50
    smoothing_rounds: int = 25
    interaction_smoothing_rounds: int = 25
    # One process: joblib's workers cost seconds to start, more than small data takes to fit.
    n_jobs: int = 1
    random_state: int = SEED


@dataclass
class EbmTrainingResult:
    run_id: str
    model_uri: str
    experiment: str
    task: Task
    target: str
    features: list[str]
    train_rows: int
    test_rows: int
    metrics: dict[str, float]
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        payload = asdict(self)
        return {
            "runId": payload.pop("run_id"),
            "modelUri": payload.pop("model_uri"),
            "trainRows": payload.pop("train_rows"),
            "testRows": payload.pop("test_rows"),
            **payload,
        }


def train_ebm(
    data: LoadedData,
    target: str,
    *,
    workspace: Path,
    task: TaskChoice = "auto",
    features: list[str] | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    test_size: float = 0.2,
    settings: EbmSettings | None = None,
    tracking_uri: str | None = None,
) -> EbmTrainingResult:
    """Fit an EBM on a seeded split of `data`, score it on the held-out part and log both.

    Raises `ColumnNotFoundError` for a missing column and `InvalidReportInputError` for a target
    that cannot be learned (too few rows, a missing label, one class only, text for regression).
    """
    from mlworkbench.reports import report_progress

    settings = settings or EbmSettings()
    frame = data.frame
    names = features or [c for c in frame.columns if c != target]
    require_columns(frame, [target, *names], "column")
    if target in names:
        raise InvalidReportInputError(f"{target!r} is the target, not a feature", "features")
    if not 0 < test_size < 1:
        raise InvalidReportInputError("the test share must be between 0 and 1", "test-size")
    resolved = resolve_task(frame[target], task)
    inputs, labels = frame[names], frame[target]
    _check_labels(labels, resolved)
    train_x, test_x, train_y, test_y = _split(inputs, labels, resolved, test_size)

    report_progress.step(f"Training an EBM ({resolved}, {len(train_x):,} rows)")
    ebm = _fit(train_x, train_y, resolved, settings)
    metrics = _metrics(ebm, test_x, test_y, resolved)
    params: dict[str, Any] = {
        **asdict(settings),
        "task": resolved,
        "target": target,
        "n_features": len(names),
        "test_size": test_size,
    }
    report_progress.step("Logging the run")
    run_id, model_uri = _log_run(
        ebm,
        data,
        workspace=workspace,
        tracking_uri=tracking_uri,
        experiment=experiment,
        target=target,
        example=train_x,
        params=params,
        metrics=metrics,
    )
    return EbmTrainingResult(
        run_id=run_id,
        model_uri=model_uri,
        experiment=experiment,
        task=resolved,
        target=target,
        features=names,
        train_rows=len(train_x),
        test_rows=len(test_x),
        metrics=metrics,
        params=params,
    )


def resolve_task(labels: pd.Series, task: TaskChoice) -> Task:
    """The user's choice, else: text, booleans and whole numbers with few values are classes."""
    if task != "auto":
        return task
    import numpy as np
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(labels) or pd.api.types.is_bool_dtype(labels):
        return "classification"
    present = labels.dropna().to_numpy(dtype=np.float64)
    whole = bool(np.all(np.mod(present, 1) == 0))
    if whole and len(np.unique(present)) <= MAX_AUTO_CLASSES:
        return "classification"
    return "regression"


def _check_labels(labels: pd.Series, task: Task) -> None:
    import pandas as pd

    if len(labels) < MIN_ROWS:
        raise InvalidReportInputError(
            f"{len(labels)} rows are too few to train and test a model (at least {MIN_ROWS})",
            field="data",
        )
    missing = int(labels.isna().sum())
    if missing:
        raise InvalidReportInputError(
            f"the target {labels.name!r} is missing in {missing:,} rows; drop or fill them first",
            field="target",
        )
    if task == "classification" and labels.nunique() < 2:
        raise InvalidReportInputError(
            f"the target {labels.name!r} has one value only; a classifier needs two or more",
            field="target",
        )
    if task == "regression" and (
        not pd.api.types.is_numeric_dtype(labels) or pd.api.types.is_bool_dtype(labels)
    ):
        raise InvalidReportInputError(
            f"the target {labels.name!r} is not numeric: use --task classification",
            field="task",
        )


def _split(
    inputs: pd.DataFrame, labels: pd.Series, task: Task, test_size: float
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    from sklearn.model_selection import train_test_split

    stratify = None
    if task == "classification":
        counts = labels.value_counts()
        # Stratified when every class can be on both sides, so a rare class is not lost.
        if counts.min() >= 2 and len(counts) <= len(labels) * test_size:
            stratify = labels
    train_x, test_x, train_y, test_y = train_test_split(
        inputs, labels, test_size=test_size, random_state=SEED, stratify=stratify
    )
    return train_x, test_x, train_y, test_y


def _fit(inputs: pd.DataFrame, labels: pd.Series, task: Task, settings: EbmSettings) -> Any:
    import warnings

    from interpret.glassbox import ExplainableBoostingClassifier, ExplainableBoostingRegressor

    kind: Any = ExplainableBoostingRegressor
    if task == "classification":
        kind = ExplainableBoostingClassifier
    parameters = asdict(settings)
    if task == "classification" and labels.nunique() > 2:
        # InterpretML cannot graph multiclass pairs: they would only blur the explanation.
        parameters["interactions"] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            return kind(**parameters).fit(inputs, labels)
        except ValueError as error:  # InterpretML's checks of the data (e.g. an empty column)
            raise InvalidReportInputError(
                f"InterpretML could not train on this data: {error}", field="data"
            ) from error


def _metrics(ebm: Any, inputs: pd.DataFrame, labels: pd.Series, task: Task) -> dict[str, float]:
    """Held-out scores with scikit-learn's metric functions, named as autologging names them."""
    import numpy as np
    import sklearn.metrics as skm

    if task == "regression":
        predicted = ebm.predict(inputs)
        return {
            "test_r2_score": float(skm.r2_score(labels, predicted)),
            "test_root_mean_squared_error": float(
                np.sqrt(skm.mean_squared_error(labels, predicted))
            ),
            "test_mean_absolute_error": float(skm.mean_absolute_error(labels, predicted)),
        }
    probabilities = ebm.predict_proba(inputs)
    predicted = ebm.classes_[np.argmax(probabilities, axis=1)]
    metrics = {
        "test_accuracy_score": float(skm.accuracy_score(labels, predicted)),
        "test_log_loss": float(skm.log_loss(labels, probabilities, labels=ebm.classes_)),
    }
    if len(ebm.classes_) == 2 and labels.nunique() == 2:
        metrics["test_roc_auc"] = float(skm.roc_auc_score(labels, probabilities[:, 1]))
    return metrics


def trusted_types(model: Any) -> list[str]:
    """What skops must trust to load `model`: its own class (InterpretML's, not scikit-learn's)."""
    kind = type(model)
    return [f"{kind.__module__}.{kind.__qualname__}"]


def _log_run(
    ebm: Any,
    data: LoadedData,
    *,
    workspace: Path,
    tracking_uri: str | None,
    experiment: str,
    target: str,
    example: pd.DataFrame,
    params: dict[str, Any],
    metrics: dict[str, float],
) -> tuple[str, str]:
    import warnings
    from importlib.metadata import version

    import mlflow
    import mlflow.sklearn
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.models import infer_signature

    from mlworkbench.launch.child.store_open import create_if_missing
    from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

    uri = resolve_tracking_uri(workspace, tracking_uri)
    mlflow.set_tracking_uri(uri)
    create_if_missing(uri, experiment)
    experiment_id = mlflow.set_experiment(experiment).experiment_id
    tags = {
        SCRIPT_TAG: SCRIPT_NAME,
        "mlworkbench.target": target,
        DATA_TAG: data.source["sha256"],
    }
    created = mlflow.MlflowClient().create_run(experiment_id, run_name=f"ebm-{target}", tags=tags)
    # The new run's id, not an ambient MLFLOW_RUN_ID (train-ebm run from a tracked script).
    with mlflow.start_run(run_id=created.info.run_id) as run, warnings.catch_warnings():
        # MLflow's hints (a relative path that could be several kinds of source, integer
        # columns in the signature) are about its own guesses, not the user's data.
        warnings.simplefilter("ignore", UserWarning)
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        # The file's SHA-256 as the digest, cut to the 36 characters MLflow keeps (the whole
        # hash is the DATA_TAG): reports name the data set by the same hash.
        dataset = from_pandas(
            data.frame,
            source=data.source["path"],
            name=data.source["path"],
            targets=target,
            digest=data.source["sha256"][:DIGEST_CHARS],
        )
        mlflow.log_input(dataset, context="training")
        head = example.head(5)
        info = mlflow.sklearn.log_model(
            ebm,
            name=MODEL_NAME,
            signature=infer_signature(head, ebm.predict(head)),
            skops_trusted_types=trusted_types(ebm),
            # Named, not inferred: inference loads the model in a child process (seconds).
            pip_requirements=[
                f"{package}=={version(package)}"
                for package in ("interpret-core", "scikit-learn", "skops", "pandas", "numpy")
            ],
        )
        run_id = run.info.run_id
    return run_id, str(info.model_uri)
