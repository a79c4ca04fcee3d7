"""Find one run in the workspace's store, by full id or (for people typing) a unique prefix.

Details, artifacts and edits all start from a run id that came from outside (a tree item, a
command line); this is where an unknown id or a run of a deleted experiment becomes a typed
error instead of MLflow's exception text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from mlworkbench.errors import ExperimentDeletedError, RunNotFoundError

if TYPE_CHECKING:
    from mlflow.entities import Experiment, Run
    from mlflow.tracking import MlflowClient

MIN_PREFIX = 6
_FULL_ID = re.compile(r"[0-9a-f]{32}")
_HEX = re.compile(r"[0-9a-f]+")
_MISSING_CODES = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


class AmbiguousRunIdError(RunNotFoundError):
    """A run id prefix that more than one run starts with."""

    def __init__(self, prefix: str, matches: list[str]) -> None:
        super().__init__(prefix)
        shown = ", ".join(matches[:5])
        self.message = (
            f"run id prefix {prefix!r} matches {len(matches)} runs ({shown}); type more of the id"
        )
        self.args = (self.message,)
        self.matches = matches


def open_run(
    workspace: Path, run_id: str, tracking_uri: str | None = None
) -> tuple[MlflowClient, Run, Experiment]:
    """The client, the run and its experiment; the experiment must not be deleted."""
    from mlflow.exceptions import MlflowException

    from mlworkbench.tracking.tracking_client import open_client

    client = open_client(workspace, tracking_uri)
    if client is None or not run_id.strip():
        raise RunNotFoundError(run_id)
    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        if error.error_code in _MISSING_CODES:
            raise RunNotFoundError(run_id) from error
        raise
    experiment = client.get_experiment(run.info.experiment_id)
    if experiment.lifecycle_stage == "deleted":
        raise ExperimentDeletedError(experiment.experiment_id, experiment.name)
    return client, run, experiment


def resolve_run_id(workspace: Path, text: str, tracking_uri: str | None = None) -> str:
    """`text` itself when it is a full id, else the one run whose id starts with it.

    Prefixes need at least MIN_PREFIX hex characters, so a short typo never edits a random
    run. Deleted runs count: `restore` takes their id too.
    """
    from mlflow.entities import ViewType

    from mlworkbench.tracking.tracking_client import open_client

    wanted = text.strip().lower()
    if _FULL_ID.fullmatch(wanted) or len(wanted) < MIN_PREFIX or not _HEX.fullmatch(wanted):
        return text
    client = open_client(workspace, tracking_uri)
    if client is None:
        raise RunNotFoundError(text)
    experiment_ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    matches: list[str] = []
    token: str | None = None
    while experiment_ids:
        page = client.search_runs(
            experiment_ids, run_view_type=ViewType.ALL, max_results=1000, page_token=token
        )
        matches.extend(r.info.run_id for r in page if r.info.run_id.startswith(wanted))
        token = page.token
        if not token:
            break
    if not matches:
        raise RunNotFoundError(text)
    if len(matches) > 1:
        raise AmbiguousRunIdError(text, sorted(matches))
    return matches[0]
