"""One folder level of a run's artifacts, wherever the store keeps them.

MLflow's `MlflowClient.list_artifacts` resolves the run's artifact location itself, and cannot
for an `mlflow-artifacts:/` location when the client reads the workspace's SQLite file (it
wants an http tracking URI). Such runs were logged through the workspace's tracking server,
which keeps their files on this machine (`artifact_paths.served_artifact_root`): they are listed
from that folder with MLflow's own local repository, every other run through the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlworkbench.explorer.artifact_paths import served_artifact_root

if TYPE_CHECKING:
    from mlflow.entities import FileInfo
    from mlflow.tracking import MlflowClient


def list_run_artifacts(client: MlflowClient, run: Any, path: str | None) -> list[FileInfo]:
    """The entries directly under `path` (the root when None), paths relative to the run's
    artifact root, as `MlflowClient.list_artifacts` gives them."""
    served = served_artifact_root(run.info.artifact_uri, str(client.tracking_uri))
    if served is None:
        return list(client.list_artifacts(run.info.run_id, path))
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

    listed: list[FileInfo] = LocalArtifactRepository(served.as_uri()).list_artifacts(path)  # type: ignore[no-untyped-call]
    return listed


def artifacts_on_this_machine(client: MlflowClient, artifact_uri: str) -> bool:
    """True when listing or opening these artifacts contacts no other host."""
    from mlworkbench.tracking.network_access import is_local

    return is_local(artifact_uri) or (
        served_artifact_root(artifact_uri, str(client.tracking_uri)) is not None
    )
