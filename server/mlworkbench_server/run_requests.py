"""One run from the editor: its details, its artifacts (checked paths only) and its edits.

Thin adapters over `mlworkbench.explorer.run_details`, `artifact_access` and `run_edits`: parse the
params, call the library in a worker thread, convert. Edits change the user's store, so
Restricted Mode refuses them; reads are allowed there as the Runs view itself is, kept to files
on this machine (a run whose artifacts live elsewhere is refused, see `request_path`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mlworkbench_server.explorer_protocol import (
    EDIT_RUN_ACTIONS,
    EditRunParams,
    ListArtifactsParams,
    ResolveArtifactParams,
    ResolvedArtifactResult,
    RunDetailsParams,
)
from mlworkbench_server.protocol import REQUESTS
from mlworkbench_server.request_path import Trust, request, workspace_of

if TYPE_CHECKING:
    from mlworkbench.explorer.run_details import RunDetails
    from mlworkbench_server.server import WorkbenchServer


def edit_run(ls: WorkbenchServer, params: EditRunParams) -> RunDetails:
    """Apply one edit action; the run's details afterwards (the request path checked trust)."""
    from mlworkbench.errors import InvalidRunEditError
    from mlworkbench.explorer import run_edits

    workspace, run_id, uri = workspace_of(params), params["runId"], ls.tracking_uri
    action, value, key = params.get("action"), params.get("value"), params.get("key")

    def needs(name: str, given: str | None) -> str:
        if given is None:
            raise InvalidRunEditError(run_id, f"the {action!r} edit needs a {name!r} string")
        return given

    actions: dict[str, Callable[[], RunDetails]] = {
        "rename": lambda: run_edits.rename_run(
            workspace, run_id, needs("value", value), tracking_uri=uri
        ),
        "note": lambda: run_edits.set_note(
            workspace, run_id, needs("value", value), tracking_uri=uri
        ),
        "setTag": lambda: run_edits.set_tag(
            workspace, run_id, needs("key", key), needs("value", value), tracking_uri=uri
        ),
        "removeTag": lambda: run_edits.remove_tag(
            workspace, run_id, needs("key", key), tracking_uri=uri
        ),
        "delete": lambda: run_edits.delete_run(workspace, run_id, tracking_uri=uri),
        "restore": lambda: run_edits.restore_run(workspace, run_id, tracking_uri=uri),
    }
    assert set(actions) == set(EDIT_RUN_ACTIONS)

    def apply() -> RunDetails:
        if action is None or action not in actions:
            raise InvalidRunEditError(
                run_id, f"unknown edit {action!r}; expected one of {', '.join(EDIT_RUN_ACTIONS)}"
            )
        return actions[action]()

    details = apply()
    ls.runs_changed(details.run_id)
    return details


def register(server: WorkbenchServer) -> None:
    @request(server, REQUESTS["RUN_DETAILS"], Trust.READ_LOCAL)
    def run_details(ls: WorkbenchServer, params: RunDetailsParams) -> dict[str, object]:
        from mlworkbench.explorer.run_details import get_run_details

        workspace, run_id = workspace_of(params), params["runId"]
        return get_run_details(workspace, run_id, tracking_uri=ls.tracking_uri).to_dict()

    @request(server, REQUESTS["LIST_ARTIFACTS"], Trust.READ_LOCAL)
    def list_artifacts(ls: WorkbenchServer, params: ListArtifactsParams) -> dict[str, object]:
        from mlworkbench.explorer.run_details import list_artifacts

        workspace, run_id = workspace_of(params), params["runId"]
        path = params.get("path") or None
        entries = list_artifacts(workspace, run_id, path, tracking_uri=ls.tracking_uri)
        return {"entries": [entry.to_dict() for entry in entries]}

    @request(server, REQUESTS["RESOLVE_ARTIFACT"], Trust.READ_LOCAL)
    def resolve_artifact(
        ls: WorkbenchServer, params: ResolveArtifactParams
    ) -> ResolvedArtifactResult:
        from mlworkbench.explorer.artifact_access import resolve_artifact
        from mlworkbench.explorer.run_models import resolve_model_file

        workspace, run_id = workspace_of(params), params["runId"]
        model = params.get("model")  # a model's label: its MLmodel file
        if model is not None:
            resolved = resolve_model_file(workspace, run_id, model, tracking_uri=ls.tracking_uri)
        else:
            resolved = resolve_artifact(
                workspace, run_id, params.get("path", ""), tracking_uri=ls.tracking_uri
            )
        return {"localPath": str(resolved.local_path), "kind": resolved.kind}

    @request(server, REQUESTS["EDIT_RUN"], Trust.WRITE, refused="change runs")
    def edit(ls: WorkbenchServer, params: EditRunParams) -> dict[str, object]:
        return edit_run(ls, params).to_dict()
