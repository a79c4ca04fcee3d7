"""The workspace's model registry: list models, register a run's model, move aliases.

The Models view and its commands start here. Everything goes through MLflow's own registry on
the store `open_client` opens (the sqlite store holds the registry too); this module adds what
a user needs around it: finding which model a run logged (MLflow 3 LoggedModels or an older
MLmodel artifact folder), and errors that say what to do instead of MLflow's exception text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

# MLflow resolves `models:/<name>@latest` and `@v3` itself, so it refuses them as alias names.
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)
_ALIAS_CHARS = re.compile(r"^[\w-]+$")


@dataclass(frozen=True)
class ModelVersionInfo:
    name: str
    version: str
    run_id: str | None
    source: str
    status: str
    creation_time: int | None
    aliases: list[str]
    description: str | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class RegisteredModelInfo:
    name: str
    description: str | None
    aliases: dict[str, str]
    versions: list[ModelVersionInfo]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def list_models(workspace: Path, *, tracking_uri: str | None = None) -> list[RegisteredModelInfo]:
    """Every registered model by name, each with all its versions, newest version first."""
    from mlworkbench.tracking.tracking_client import open_client

    client = open_client(workspace, tracking_uri)
    if client is None:
        return []
    versions: dict[str, list[ModelVersionInfo]] = {}
    for version in _pages(client.search_model_versions):
        versions.setdefault(version.name, []).append(_version_info(version))
    return [_model_info(model, versions.get(model.name, [])) for model in _registered(client)]


def register_model(
    workspace: Path,
    run_id: str,
    name: str,
    *,
    model_path: str | None = None,
    tracking_uri: str | None = None,
) -> ModelVersionInfo:
    """Register the run's model as a new version of `name` (the model is created if new).

    `model_path` picks one of several models: a LoggedModel's name or id, or the artifact
    folder holding an MLmodel file.
    """
    from mlflow.exceptions import MlflowException

    from mlworkbench.errors import RunNotFoundError
    from mlworkbench.explorer.run_models import run_models
    from mlworkbench.registry.registry_errors import NoModelInRunError, SeveralModelsInRunError
    from mlworkbench.tracking.tracking_client import open_client

    _check_model_name(name)
    client = open_client(workspace, tracking_uri)
    if client is None:
        raise RunNotFoundError(run_id)
    run = _get_run(client, run_id)
    candidates = {m.label: (m.source, m.model_id) for m in run_models(client, run)}
    if not candidates:
        raise NoModelInRunError(run_id)
    if model_path is not None:
        if model_path not in candidates:
            raise NoModelInRunError(run_id, model_path)
        source, model_id = candidates[model_path]
    elif len(candidates) > 1:
        raise SeveralModelsInRunError(run_id, sorted(candidates))
    else:
        ((source, model_id),) = candidates.values()
    try:
        if not _exists(client, name):
            client.create_registered_model(name)
        version = client.create_model_version(name, source, run_id=run_id, model_id=model_id)
    except MlflowException as error:
        raise _translate(error, "model name", name) from error
    return _version_info(version)


def set_alias(
    workspace: Path, name: str, alias: str, version: str, *, tracking_uri: str | None = None
) -> RegisteredModelInfo:
    """Point `alias` at `version` of `name` (moving it from another version if it had one)."""
    from mlflow.exceptions import MlflowException

    from mlworkbench.registry.registry_errors import InvalidModelNameError, ModelNotFoundError

    _check_alias(alias)
    version = version.strip()
    if not version.isdigit():
        raise InvalidModelNameError("version", version, "a version is a number such as 3")
    client = _existing_model_client(workspace, name, tracking_uri)
    try:
        client.get_model_version(name, version)
    except MlflowException as error:
        raise ModelNotFoundError(name, version=version) from error
    try:
        client.set_registered_model_alias(name, alias, version)
    except MlflowException as error:
        raise _translate(error, "alias", alias) from error
    return _describe(client, name)


def delete_alias(
    workspace: Path, name: str, alias: str, *, tracking_uri: str | None = None
) -> RegisteredModelInfo:
    """Remove `alias` from `name`; an alias the model does not have is an error, not a no-op."""
    from mlworkbench.registry.registry_errors import ModelNotFoundError

    client = _existing_model_client(workspace, name, tracking_uri)
    if alias not in client.get_registered_model(name).aliases:
        raise ModelNotFoundError(name, alias=alias)
    client.delete_registered_model_alias(name, alias)
    return _describe(client, name)


def _check_model_name(name: str) -> None:
    from mlworkbench.registry.registry_errors import InvalidModelNameError

    if not name.strip():
        raise InvalidModelNameError("model name", name, "it is empty")
    if name != name.strip():
        raise InvalidModelNameError("model name", name, "it starts or ends with white space")
    if "/" in name or ":" in name:
        raise InvalidModelNameError("model name", name, "it cannot contain '/' or ':'")


def _check_alias(alias: str) -> None:
    from mlworkbench.registry.registry_errors import InvalidModelNameError

    if not alias:
        raise InvalidModelNameError("alias", alias, "it is empty")
    if _RESERVED_ALIAS.match(alias):
        raise InvalidModelNameError(
            "alias", alias, "MLflow reserves 'latest' and 'v<number>' for its own model URIs"
        )
    if not _ALIAS_CHARS.match(alias):
        raise InvalidModelNameError(
            "alias", alias, "use only letters, digits, underscores (_) and dashes (-)"
        )


def _translate(error: Exception, what: str, value: str) -> Exception:
    """MLflow's refusal of a name as our typed error; anything else is re-raised as is."""
    from mlworkbench.registry.registry_errors import InvalidModelNameError

    if getattr(error, "error_code", None) == "INVALID_PARAMETER_VALUE":
        return InvalidModelNameError(what, value, str(getattr(error, "message", error)))
    return error


def _existing_model_client(workspace: Path, name: str, tracking_uri: str | None) -> MlflowClient:
    from mlworkbench.registry.registry_errors import ModelNotFoundError
    from mlworkbench.tracking.tracking_client import open_client

    client = open_client(workspace, tracking_uri)
    if client is None or not name or not _exists(client, name):
        raise ModelNotFoundError(name)
    return client


def _exists(client: MlflowClient, name: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise
    return True


def _get_run(client: MlflowClient, run_id: str) -> Any:
    from mlflow.exceptions import MlflowException

    from mlworkbench.errors import RunNotFoundError

    try:
        return client.get_run(run_id)
    except MlflowException as error:  # unknown id, or one MLflow cannot even parse
        raise RunNotFoundError(run_id) from error


def _pages(search: Any) -> Iterator[Any]:
    token: str | None = None
    while True:
        page = search(page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def _registered(client: MlflowClient) -> list[Any]:
    return sorted(
        _pages(lambda page_token: client.search_registered_models(page_token=page_token)),
        key=lambda model: model.name,
    )


def _describe(client: MlflowClient, name: str) -> RegisteredModelInfo:
    # Filtered here, not with a search filter: a name may hold quotes the filter would misread.
    versions = [_version_info(v) for v in _pages(client.search_model_versions) if v.name == name]
    return _model_info(client.get_registered_model(name), versions)


def _model_info(model: Any, versions: list[ModelVersionInfo]) -> RegisteredModelInfo:
    aliases = {alias: str(version) for alias, version in sorted(model.aliases.items())}
    # search_model_versions leaves each version's aliases empty; the model's map is the truth.
    return RegisteredModelInfo(
        name=model.name,
        description=model.description or None,
        aliases=aliases,
        versions=[
            replace(v, aliases=[a for a, target in aliases.items() if target == v.version])
            for v in sorted(versions, key=lambda v: int(v.version), reverse=True)
        ],
    )


def _version_info(version: Any) -> ModelVersionInfo:
    return ModelVersionInfo(
        name=version.name,
        version=str(version.version),
        run_id=version.run_id or None,
        source=version.source,
        status=str(version.status),
        creation_time=version.creation_timestamp,
        aliases=sorted(version.aliases),
        description=version.description or None,
    )
