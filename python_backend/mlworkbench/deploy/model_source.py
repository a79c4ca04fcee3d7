"""Which model a server serves: `--model URI`, or `--run ID [--model LABEL]`, made loadable.

A run's models are listed by the explorer's `run_models` (LoggedModels and old-style artifact
folders alike), so `serve --run` picks exactly what the Runs view shows. A URI is handed to
MLflow as it is: `models:/`, `runs:/` and remote schemes through MLflow's resolvers, anything
else as a path (relative to the workspace). Nothing here goes near a shell, so a URI holding
`$(...)`, `;` or `../` is only an odd path that MLflow does or does not find.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlworkbench.reports.report_errors import ModelLoadError

# A URI scheme (`s3:`, `models:`, `file:`...); a single letter is a Windows drive, not a scheme.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")
_TRACKING_SCHEMES = ("models:", "runs:")  # resolved through the tracking store


@dataclass(frozen=True)
class ModelSource:
    uri: str  # as the user named it (or the run's model URI)
    location: str  # what MLflow loads: a local path or a URI
    run_id: str | None
    label: str
    tracking_uri: str | None  # set for models:/ and runs:/ URIs, which resolve through it


def resolve_model_source(
    workspace: Path,
    *,
    model: str | None = None,
    run_id: str | None = None,
    tracking_uri: str | None = None,
) -> ModelSource:
    """The model `--model` names (a URI or path; with `run_id`, one of the run's model labels)
    or the one model `run_id` logged.

    Raises `ModelLoadError` (no model, several without a choice) and the explorer's
    `RunNotFoundError`. A plain path never opens the tracking store, so a container with a
    read-only file system serves `/model` without creating `mlflow.db`.
    """
    if run_id:
        return _from_run(workspace, run_id, model, tracking_uri)
    if not model or not model.strip():
        raise ModelLoadError("(none)", "name a model URI or path (--model) or a run (--run)")
    if model.startswith(_TRACKING_SCHEMES):
        from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

        uri = resolve_tracking_uri(workspace, tracking_uri)
        return ModelSource(model, model, _run_id_of(model), model, uri)
    if _SCHEME.match(model):
        return ModelSource(model, model, None, model, None)
    path = Path(model).expanduser()
    if not path.is_absolute():
        path = workspace / path
    return ModelSource(model, str(path), None, model, None)


def _run_id_of(uri: str) -> str | None:
    if uri.startswith("runs:/"):
        return uri[len("runs:/") :].split("/", 1)[0] or None
    return None


def _from_run(
    workspace: Path, run_id: str, label: str | None, tracking_uri: str | None
) -> ModelSource:
    from mlworkbench.explorer.run_lookup import open_run, resolve_run_id
    from mlworkbench.explorer.run_models import run_models
    from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

    full_id = resolve_run_id(workspace, run_id, tracking_uri)
    client, run, _ = open_run(workspace, full_id, tracking_uri)
    models = run_models(client, run)
    found = run.info.run_id
    if label:
        chosen = [m for m in models if label in (m.label, m.uri, m.model_id)]
        if not chosen:
            labels = ", ".join(sorted(m.label for m in models)) or "none"
            raise ModelLoadError(label, f"run {found} has no such model (it has: {labels})")
    else:
        chosen = models
    if not chosen:
        raise ModelLoadError(
            f"runs:/{found}",
            "the run logged no model; log one with mlflow.<flavour>.log_model or autologging",
        )
    if len(chosen) > 1:
        labels = ", ".join(sorted(m.label for m in chosen))
        raise ModelLoadError(
            f"runs:/{found}", f"the run logged several models ({labels}); pick one with --model"
        )
    picked = chosen[0]
    uri = resolve_tracking_uri(workspace, tracking_uri)
    # The artifact location, not models:/<id>: it loads without the registry (run_models).
    return ModelSource(picked.uri, picked.source, found, picked.label, uri)


def load_pyfunc(source: ModelSource) -> Any:
    """The model loaded once through MLflow's pyfunc loader (a `PyFuncModel`, which MLflow types
    only in part), or `ModelLoadError` saying why.

    A scikit-learn model saved with skops whose types were not listed as trusted at log time
    fails here with the types to list: the check stays on (loading an untrusted type runs its
    code), the fix is to log the model again with `skops_trusted_types`.
    """
    import mlflow
    import mlflow.pyfunc

    if source.tracking_uri is not None:
        mlflow.set_tracking_uri(source.tracking_uri)  # models:/ and runs:/ resolve through it
    try:
        return mlflow.pyfunc.load_model(source.location)
    except Exception as error:  # the flavour's loader runs the model's code: any error is its
        raise ModelLoadError(source.uri, _load_failure(source, error)) from error


def _load_failure(source: ModelSource, error: BaseException) -> str:
    from mlflow.exceptions import MlflowException

    untrusted = _untrusted_types(error)
    if untrusted:
        shown = ", ".join(repr(name) for name in untrusted)
        return (
            f"its skops file holds types that were not listed as trusted when it was logged: "
            f"{shown}. Log it again with mlflow.sklearn.log_model(..., "
            f"skops_trusted_types=[{shown}]) if you trust them; ML Workbench does not turn "
            "the check off"
        )
    if untrusted is not None:  # skops refused types its message did not name
        return (
            f"skops refused types in the model file ({error}); log it again with "
            "mlflow.sklearn.log_model(..., skops_trusted_types=[...]) listing the ones you trust"
        )
    missing = isinstance(error, FileNotFoundError) or (
        isinstance(error, MlflowException)
        and error.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")
    )
    if missing:
        return f"nothing to load at {source.location} ({error}); check the URI or path"
    return f"{type(error).__name__}: {error}"


def _untrusted_types(error: BaseException) -> list[str] | None:
    """The type names skops refused (its exception keeps them only in its message), looked for
    in the chain of causes: MLflow may wrap it."""
    seen: BaseException | None = error
    while seen is not None:
        if type(seen).__name__ == "UntrustedTypesFoundException":
            first_line = str(seen).split("\n", 1)[0]
            return re.findall(r"'([\w.]+)'", first_line)
        seen = seen.__cause__ or seen.__context__
    return None
