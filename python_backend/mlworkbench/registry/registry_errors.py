"""Typed errors of the model registry: a run without (or with several) models, unknown models,
names MLflow would refuse. The server maps their `code` like every `MlWorkbenchError`.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlworkbench.errors import MlWorkbenchError


class NoModelInRunError(MlWorkbenchError):
    """A run to register a model from has logged no model (neither a LoggedModel nor MLmodel)."""

    code = "NO_MODEL_IN_RUN"

    def __init__(self, run_id: str, model_path: str | None = None) -> None:
        what = f"no model {model_path!r}" if model_path else "no model"
        super().__init__(
            f"run {run_id} has {what}; log one in the script with e.g. "
            "'mlflow.sklearn.log_model(model, name=\"model\")' (or turn on mlflow.autolog()) "
            "and run it again"
        )
        self.run_id = run_id
        self.model_path = model_path

    @property
    def data(self) -> dict[str, object]:
        return {"runId": self.run_id, "modelPath": self.model_path}


class SeveralModelsInRunError(MlWorkbenchError):
    """A run logged several models and the caller did not say which one to register."""

    code = "SEVERAL_MODELS_IN_RUN"

    def __init__(self, run_id: str, models: Sequence[str]) -> None:
        super().__init__(
            f"run {run_id} has several models ({', '.join(repr(m) for m in models)}); "
            "choose one (the model path)"
        )
        self.run_id = run_id
        self.models = list(models)

    @property
    def data(self) -> dict[str, object]:
        return {"runId": self.run_id, "models": self.models}


class ModelNotFoundError(MlWorkbenchError):
    """A registered model, version or alias the registry does not have."""

    code = "MODEL_NOT_FOUND"

    def __init__(self, name: str, *, version: str | None = None, alias: str | None = None) -> None:
        if alias is not None:
            what = f"model {name!r} has no alias {alias!r}"
        elif version is not None:
            what = f"model {name!r} has no version {version}"
        else:
            what = f"no registered model {name!r}"
        super().__init__(
            f"{what} in this tracking store; refresh the Models view "
            "(or run `mlworkbench models list`)"
        )
        self.name = name
        self.version = version
        self.alias = alias

    @property
    def data(self) -> dict[str, object]:
        return {"name": self.name, "version": self.version, "alias": self.alias}


class InvalidModelNameError(MlWorkbenchError):
    """A model name, alias or version the registry would refuse; nothing was changed."""

    code = "INVALID_MODEL_NAME"

    def __init__(self, what: str, value: str, reason: str) -> None:
        super().__init__(f"invalid {what} {value!r}: {reason}")
        self.what = what
        self.value = value
        self.reason = reason

    @property
    def data(self) -> dict[str, object]:
        return {"what": self.what, "value": self.value, "reason": self.reason}
