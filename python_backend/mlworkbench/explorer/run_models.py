"""The models a run logged, wherever MLflow keeps them, and their MLmodel file as a local file.

MLflow 3 keeps a model logged with `log_model(name=...)` (or by autolog) outside the run's
artifacts, as a LoggedModel with its own artifact location; older runs keep an artifact folder
holding an MLmodel file. The Runs view lists both under the run, opens their MLmodel, and
registers one by its label; the registry (`model_registry.register_model`) uses the same list.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlworkbench.errors import ArtifactNotFoundError, ArtifactPathRefusedError
from mlworkbench.explorer.artifact_access import MODEL_FILE, ResolvedArtifact
from mlworkbench.explorer.artifact_listing import artifacts_on_this_machine, list_run_artifacts
from mlworkbench.explorer.artifact_paths import inside, local_artifact_root, served_artifact_root
from mlworkbench.tracking.network_access import network_allowed, require_local
from mlworkbench.tracking.private_dirs import download_dir

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

MAX_ARTIFACT_ENTRIES = 500  # bound the walk for MLmodel files in very large runs


@dataclass(frozen=True)
class RunModel:
    label: str  # a LoggedModel's name (its id when two share a name), or the artifact folder
    uri: str  # what MLflow calls it: models:/<model id>, or runs:/<run id>/<folder>
    source: str  # where its files are: the LoggedModel's artifact location, or the folder's URI
    model_id: str | None  # the LoggedModel's id; None for a folder model

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def run_models(client: MlflowClient, run: Any) -> list[RunModel]:
    """LoggedModels first (by creation), then artifact folders with an MLmodel file (by path)."""
    run_id, store = run.info.run_id, str(client.tracking_uri)
    logged = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id='{run_id}'"
    )
    names = [model.name for model in logged]
    found = [
        RunModel(
            label=model.name if names.count(model.name) == 1 else model.model_id,
            uri=f"models:/{model.model_id}",
            # The artifact location, not `models:/<id>`: MLflow's sqlite registry resolves that
            # URI through the process-wide tracking URI, not this client's (MLflow 3.17).
            source=_located(model.artifact_location, store),
            model_id=model.model_id,
        )
        for model in logged
    ]
    root = run.info.artifact_uri.rstrip("/")
    try:
        # Restricted Mode: walking remote artifacts would contact their host.
        reachable = network_allowed() or artifacts_on_this_machine(client, root)
        folders = mlmodel_folders(client, run) if reachable else []
    except ArtifactPathRefusedError:
        folders = []  # a served location that leads out: no folder model can be opened there
    found.extend(
        RunModel(folder, f"runs:/{run_id}/{folder}", _located(f"{root}/{folder}", store), None)
        for folder in folders
        if folder not in names
    )
    return found


def _located(location: str, store: str) -> str:
    """`location`, or the folder on this machine where the workspace's tracking server keeps
    an `mlflow-artifacts:/` one (`artifact_paths.served_artifact_root`): MLflow cannot load
    that scheme through a SQLite store, so serving, reports and deploy builds get the folder.
    A location that would lead out of that folder stays as it is, for MLflow to refuse."""
    try:
        served = served_artifact_root(location, store)
    except ArtifactPathRefusedError:
        return location
    return location if served is None else str(served)


def mlmodel_folders(client: MlflowClient, run: Any) -> list[str]:
    """The run's artifact folders holding an MLmodel file (the walk sees at most
    MAX_ARTIFACT_ENTRIES entries).

    A folder MLflow refuses to list (a symlink out of the run's artifacts, MLflow 3.17) holds
    no model that could be opened: it is left out rather than failing the whole list.
    """
    from mlflow.exceptions import MlflowException

    folders: list[str] = []
    pending = [""]
    seen = 0
    while pending and seen < MAX_ARTIFACT_ENTRIES:
        folder = pending.pop()
        try:
            entries = list_run_artifacts(client, run, folder or None)
        except MlflowException:
            if not folder:
                raise
            continue
        for entry in entries:
            seen += 1
            if entry.is_dir:
                pending.append(entry.path)
            elif entry.path.rsplit("/", 1)[-1] == MODEL_FILE and folder:
                folders.append(folder)
    return sorted(folders)


def resolve_model_file(
    workspace: Path, run_id: str, label: str, *, tracking_uri: str | None = None
) -> ResolvedArtifact:
    """The MLmodel file of the run's model `label` as a local file (downloaded from a remote
    store into this process's private cache, `private_dirs.download_dir`).

    Only a model the run logged can be named, so no path from the caller reaches the disk.
    `ArtifactNotFoundError` when the run has no such model or the model no MLmodel file;
    `ArtifactPathRefusedError` when its MLmodel, or a folder model itself, is a symlink that
    leads out of the run's artifacts (or out of a LoggedModel's own folder).
    """
    from mlworkbench.explorer.run_lookup import open_run

    client, run, _ = open_run(workspace, run_id, tracking_uri)
    model = next((m for m in run_models(client, run) if m.label == label), None)
    if model is None:
        raise ArtifactNotFoundError(run.info.run_id, f"model {label}")
    store = str(client.tracking_uri)
    root = local_artifact_root(model.source, store)
    if root is None:
        require_local(model.source, f"model {label} of run {run.info.run_id}")
        root, relative = _download(workspace, run.info.run_id, model), MODEL_FILE
    elif model.model_id is None:
        # A folder model: the folder itself may be a symlink, so the bound is the run's root.
        run_root = local_artifact_root(run.info.artifact_uri, store)
        root, relative = (
            (run_root, f"{model.label}/{MODEL_FILE}") if run_root else (root, MODEL_FILE)
        )
    else:
        relative = MODEL_FILE
    candidate = root / relative
    if not candidate.exists() and not candidate.is_symlink():
        raise ArtifactNotFoundError(run.info.run_id, f"model {label}/{MODEL_FILE}")
    target = inside(root, relative)
    if target is None:
        raise ArtifactPathRefusedError(
            f"{label}/{MODEL_FILE}", "it resolves outside the model's folder (through a symlink)"
        )
    if not target.is_file():
        raise ArtifactNotFoundError(run.info.run_id, f"model {label}/{MODEL_FILE}")
    return ResolvedArtifact(target, "model")


def _download(workspace: Path, run_id: str, model: RunModel) -> Path:
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    # A folder named for the source (labels may hold any character), inside the run's cache.
    key = hashlib.sha256(model.source.encode()).hexdigest()[:16]
    folder = download_dir("models", run_id, key)
    try:
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"{model.source.rstrip('/')}/{MODEL_FILE}", dst_path=str(folder)
        )
    except (MlflowException, OSError) as error:
        raise ArtifactNotFoundError(run_id, f"model {model.label}/{MODEL_FILE}") from error
    return folder
