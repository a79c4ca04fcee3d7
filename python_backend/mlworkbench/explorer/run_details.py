"""Everything about one run the editor's run page and `mlworkbench runs show` display.

Read through MLflow's client only (the design keeps no second database): params, latest
metrics, tags split into the user's and the system's, the note, the script arguments to rerun
with, and the models a user could register.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlworkbench.explorer.artifact_paths import check_artifact_path
from mlworkbench.explorer.run_models import RunModel, run_models

if TYPE_CHECKING:
    from mlflow.entities import Experiment, Run
    from mlflow.tracking import MlflowClient

NOTE_TAG = "mlflow.note.content"
SYSTEM_PREFIXES = ("mlflow.", "mlworkbench.")
LOG_ARTIFACT = "mlworkbench/output.log"
MODEL_FILE = "MLmodel"


@dataclass(frozen=True)
class ArtifactEntry:
    path: str  # posix, relative to the run's artifact root, e.g. "model/MLmodel"
    is_dir: bool
    size: int | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class RunDetails:
    run_id: str
    experiment_id: str
    experiment_name: str
    run_name: str
    status: str
    start_time: int | None
    end_time: int | None
    script: str | None
    lifecycle_stage: str  # "active" | "deleted"
    params: dict[str, str]
    metrics: dict[str, float]  # latest values, exact
    tags: dict[str, str]  # the user's: without mlflow.* and mlworkbench.* keys
    system_tags: dict[str, str]  # the mlflow.* / mlworkbench.* ones
    note: str | None
    artifact_uri: str
    log_artifact: str | None  # LOG_ARTIFACT when the run has it
    args: list[str] | None  # the script arguments the run was launched with
    models: list[RunModel]  # what a user can open and register (run_models.py)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def get_run_details(workspace: Path, run_id: str, *, tracking_uri: str | None = None) -> RunDetails:
    """The run's details; `RunNotFoundError`, `ExperimentDeletedError` otherwise."""
    from mlworkbench.explorer.run_lookup import open_run

    client, run, experiment = open_run(workspace, run_id, tracking_uri)
    return details_of(client, run, experiment)


def details_of(client: MlflowClient, run: Run, experiment: Experiment) -> RunDetails:
    from mlworkbench.errors import ArtifactPathRefusedError
    from mlworkbench.explorer.artifact_listing import artifacts_on_this_machine
    from mlworkbench.tracking.network_access import network_allowed

    info, data = run.info, run.data
    tags = dict(data.tags)
    # In Restricted Mode a run whose artifacts live off this machine shows none (listing them
    # would contact that host); `list_artifacts` says why when the user opens them. So does a
    # served location that would lead out of the server's folder: the page still shows the run.
    try:
        artifacts_reachable = network_allowed() or artifacts_on_this_machine(
            client, info.artifact_uri
        )
        top = list_entries(client, run, None) if artifacts_reachable else []
    except ArtifactPathRefusedError:
        artifacts_reachable, top = False, []
    return RunDetails(
        run_id=info.run_id,
        experiment_id=info.experiment_id,
        experiment_name=experiment.name,
        run_name=info.run_name or info.run_id[:8],
        status=info.status,
        start_time=info.start_time,
        end_time=info.end_time,
        script=tags.get("mlworkbench.script"),
        lifecycle_stage=info.lifecycle_stage,
        params=dict(data.params),
        metrics=dict(data.metrics),
        tags={k: v for k, v in tags.items() if not k.startswith(SYSTEM_PREFIXES)},
        system_tags={k: v for k, v in tags.items() if k.startswith(SYSTEM_PREFIXES)},
        note=tags.get(NOTE_TAG),
        artifact_uri=info.artifact_uri,
        log_artifact=_log_artifact(client, run, top) if artifacts_reachable else None,
        args=script_args(tags),
        models=run_models(client, run),
    )


def script_args(tags: dict[str, str]) -> list[str] | None:
    """The arguments after the script, from the provenance tags (`argv`, else `command`).

    `argv` is the script's own sys.argv ([script, *args]); `command` is [python, script, *args].
    A run not started by ML Workbench has neither: None, and the editor offers no rerun.
    """
    for key, skip in (("mlworkbench.argv", 1), ("mlworkbench.command", 2)):
        text = tags.get(key)
        if text is None:
            continue
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if (
            isinstance(value, list)
            and len(value) >= skip
            and all(isinstance(v, str) for v in value)
        ):
            return [str(v) for v in value[skip:]]
    return None


def list_artifacts(
    workspace: Path, run_id: str, path: str | None = None, *, tracking_uri: str | None = None
) -> list[ArtifactEntry]:
    """One folder level of the run's artifacts (the root when `path` is None or empty).

    The path is checked like `resolve_artifact`'s before MLflow sees it (and, for artifacts on
    this machine, must not lead out through a symlink). A folder that a local artifact store
    does not have is `ArtifactNotFoundError`.
    """
    from mlworkbench.errors import ArtifactNotFoundError, ArtifactPathRefusedError
    from mlworkbench.explorer.artifact_paths import inside, local_artifact_root
    from mlworkbench.explorer.run_lookup import open_run
    from mlworkbench.tracking.network_access import require_local

    relative = check_artifact_path(path) if path else None
    client, run, _ = open_run(workspace, run_id, tracking_uri)
    root = local_artifact_root(run.info.artifact_uri, str(client.tracking_uri))
    if root is None:
        require_local(run.info.artifact_uri, f"the artifacts of run {run.info.run_id}")
    if relative is not None and root is not None:
        if not (root / relative).exists():
            raise ArtifactNotFoundError(run.info.run_id, relative)
        if inside(root, relative) is None:
            raise ArtifactPathRefusedError(
                relative, "it resolves outside the run's artifact folder (through a symlink)"
            )
    return list_entries(client, run, relative)


def list_entries(client: MlflowClient, run: Run, path: str | None) -> list[ArtifactEntry]:
    from mlworkbench.explorer.artifact_listing import list_run_artifacts

    return [
        ArtifactEntry(path=f.path, is_dir=f.is_dir, size=None if f.is_dir else f.file_size)
        for f in sorted(list_run_artifacts(client, run, path), key=lambda f: f.path)
    ]


def _log_artifact(client: MlflowClient, run: Run, top: list[ArtifactEntry]) -> str | None:
    folder = LOG_ARTIFACT.rsplit("/", 1)[0]
    if not any(e.is_dir and e.path == folder for e in top):
        return None
    inside = list_entries(client, run, folder)
    return LOG_ARTIFACT if any(e.path == LOG_ARTIFACT for e in inside) else None
