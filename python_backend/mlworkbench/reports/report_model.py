"""The model a report judges: found from a run or a URI, loaded, and matched to the data.

Loading a model runs code (pickle, skops, the flavour's loader), so reports run only in a trusted
workspace and in their own process (the server starts the CLI). A scikit-learn model is loaded
as the estimator itself, so Fairlearn and InterpretML get `predict_proba`; any other flavour
through pyfunc, which predicts only. The data's columns are matched to the model's features by
name, and a mismatch names the missing ones instead of failing inside `predict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlworkbench.reports.report_errors import InvalidReportInputError, ModelLoadError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass
class ReportModel:
    uri: str  # as the user or the run named it (models:/…, runs:/…, a path)
    source: str  # where its files are: what was loaded
    label: str
    run_id: str | None
    flavor: str  # "sklearn" (the estimator itself) or "pyfunc"
    model: Any  # the estimator, or the pyfunc model
    features: list[str] | None  # the columns the model was fitted on, when it says
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def has_proba(self) -> bool:
        return self.flavor == "sklearn" and hasattr(self.model, "predict_proba")

    def features_of(self, frame: pd.DataFrame, exclude: list[str]) -> pd.DataFrame:
        """The model's input columns from `frame`, in the model's order.

        Without recorded features: every column but `exclude` (the target, the sensitive
        features when they were not model inputs). `InvalidReportInputError` names the features
        the data lacks.
        """
        if self.features is None:
            return frame.drop(columns=[c for c in exclude if c in frame.columns])
        self._require_features(frame)
        return frame[self.features]

    def rows_of(self, frame: pd.DataFrame, rows: list[int], exclude: list[str]) -> pd.DataFrame:
        """`features_of(frame.iloc[rows])` in one positional take: the explained rows of a
        large data set without first copying all their columns."""
        if self.features is None or not frame.columns.is_unique:
            return self.features_of(frame.iloc[rows], exclude)
        self._require_features(frame)
        return frame.iloc[rows, [frame.columns.get_loc(name) for name in self.features]]

    def _require_features(self, frame: pd.DataFrame) -> None:
        assert self.features is not None
        missing = [name for name in self.features if name not in frame.columns]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:10])
            raise InvalidReportInputError(
                f"the model was trained on columns the data set lacks: {shown}"
                f"{' …' if len(missing) > 10 else ''}; pick the data set the model was trained "
                "on (or one with the same columns)",
                field="data",
            )

    def predict(self, inputs: pd.DataFrame) -> np.ndarray:
        import numpy as np

        try:
            return np.asarray(self.model.predict(inputs)).ravel()
        except Exception as error:  # the model's own code: any exception is its report
            raise InvalidReportInputError(
                f"the model failed to predict on the data set: {type(error).__name__}: {error}",
                field="data",
            ) from error

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        import numpy as np

        if not self.has_proba:
            raise InvalidReportInputError(
                f"model {self.label} has no predict_proba (flavour {self.flavor}); this needs a "
                "probabilistic classifier logged with the scikit-learn flavour",
                field="model",
            )
        try:
            return np.asarray(self.model.predict_proba(inputs))
        except Exception as error:
            raise InvalidReportInputError(
                f"the model failed in predict_proba: {type(error).__name__}: {error}",
                field="data",
            ) from error


def load_report_model(
    workspace: Path,
    *,
    run_id: str | None = None,
    model: str | None = None,
    tracking_uri: str | None = None,
) -> ReportModel:
    """The model named by `model` (a URI or path, or with `run_id` one of the run's model
    labels) or the one model `run_id` logged.

    Raises `ModelLoadError` (no model, several without a choice, a loader failure) and the
    explorer's `RunNotFoundError`.
    """
    import mlflow

    from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

    uri = resolve_tracking_uri(workspace, tracking_uri)
    mlflow.set_tracking_uri(uri)  # models:/ and runs:/ resolve through the process-wide URI
    if run_id:
        return _from_run(workspace, run_id, model, tracking_uri)
    if not model:
        raise ModelLoadError("(none)", "name a model URI (--model) or a run (--run)")
    path = Path(model).expanduser()
    if (
        "://" not in model
        and not model.startswith(("models:/", "runs:/"))
        and not path.is_absolute()
    ):
        path = workspace / path
    source = str(path) if "://" not in model and ":/" not in model else model
    return _load(model, source, label=model, run_id=None)


def _from_run(
    workspace: Path, run_id: str, label: str | None, tracking_uri: str | None
) -> ReportModel:
    from mlworkbench.explorer.run_lookup import open_run
    from mlworkbench.explorer.run_models import run_models

    client, run, _ = open_run(workspace, run_id, tracking_uri)
    models = run_models(client, run)
    if label:
        chosen = [m for m in models if label in (m.label, m.uri, m.model_id)]
        if not chosen:
            labels = ", ".join(sorted(m.label for m in models)) or "none"
            raise ModelLoadError(
                label, f"run {run.info.run_id} has no such model (it has: {labels})"
            )
    else:
        chosen = models
    if not chosen:
        raise ModelLoadError(
            f"runs:/{run.info.run_id}",
            "the run logged no model; log one with mlflow.<flavour>.log_model or autologging",
        )
    if len(chosen) > 1:
        labels = ", ".join(sorted(m.label for m in chosen))
        raise ModelLoadError(
            f"runs:/{run.info.run_id}", f"the run logged several models ({labels}); pick one"
        )
    picked = chosen[0]
    loaded = _load(picked.uri, picked.source, label=picked.label, run_id=run.info.run_id)
    loaded.tags = dict(run.data.tags)
    return loaded


def _load(uri: str, source: str, *, label: str, run_id: str | None) -> ReportModel:
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    source = _local_if_file_uri(source)
    try:
        info = Model.load(source)
    except (MlflowException, OSError) as error:
        raise ModelLoadError(uri, f"no MLmodel file at {source} ({error})") from error
    try:
        if "sklearn" in info.flavors:
            import mlflow.sklearn

            estimator = mlflow.sklearn.load_model(source)
            return ReportModel(
                uri, source, label, run_id, "sklearn", estimator, _sklearn_features(estimator, info)
            )
        import mlflow.pyfunc

        pyfunc = mlflow.pyfunc.load_model(source)
        return ReportModel(uri, source, label, run_id, "pyfunc", pyfunc, _signature_features(info))
    except (MlflowException, OSError, ImportError, ModuleNotFoundError) as error:
        raise ModelLoadError(uri, f"{type(error).__name__}: {error}") from error
    except Exception as error:  # skops' UntrustedTypesFoundException, unpickling errors, …
        raise ModelLoadError(uri, f"{type(error).__name__}: {error}") from error


def _local_if_file_uri(source: str) -> str:
    """A `file://` source as its local path.

    Experiments made by `mlflow server --default-artifact-root file:///…`, or by hand, hold
    `file://` artifact locations, and MLflow's `Model.load` tests such a string with
    `os.path.exists`, so it calls the model missing although its files are there.
    """
    if not source.startswith("file:"):
        return source
    from mlflow.utils.file_utils import local_file_uri_to_path

    return str(local_file_uri_to_path(source))  # type: ignore[no-untyped-call]


def _sklearn_features(estimator: Any, info: Any) -> list[str] | None:
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(name) for name in names]
    return _signature_features(info)


def _signature_features(info: Any) -> list[str] | None:
    signature = getattr(info, "signature", None)
    if signature is None or signature.inputs is None:
        return None
    names = [str(name) for name in signature.inputs.input_names()]
    return names if names and not all(name.isdigit() for name in names) else None
