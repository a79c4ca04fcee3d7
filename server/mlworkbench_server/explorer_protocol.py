"""Envelopes of the run explorer's requests: pages, details, artifacts, edits, comparison.

Part of the protocol (`protocol.py` lists them in ENVELOPES, `scripts/gen_protocol.py` turns
them into TypeScript); kept in their own module so each file stays readable.
"""

from __future__ import annotations

from typing import Final, TypedDict

# Light at import (dataclasses only): payload shapes come from the library itself.
from mlworkbench.explorer.run_cache import ExperimentInfo, RunPage
from mlworkbench.explorer.run_details import ArtifactEntry


# --- run explorer envelopes: summary cache, experiments, comparison (explorer_requests) ---
class _QueryRunsOptions(TypedDict, total=False):
    filter: str
    orderBy: str
    experimentId: str
    offset: int
    limit: int  # 1..1000, default 100
    deleted: bool  # add deleted runs to active ones (RunPage.deleted_run_ids names them)


class QueryRunsParams(_QueryRunsOptions):
    workspaceUri: str


class QueryRunsResult(TypedDict):
    page: RunPage
    running: list[str]


class ListExperimentsParams(TypedDict):
    workspaceUri: str


class ListExperimentsResult(TypedDict):
    experiments: list[ExperimentInfo]


class _CompareRunsOptions(TypedDict, total=False):
    maxPoints: int  # points per history before downsampling, default 2000


class CompareRunsParams(_CompareRunsOptions):
    """The result is the library's CompareData (NaN as null, +/-inf as +/-max double)."""

    workspaceUri: str
    runIds: list[str]


# --- run explorer envelopes: details, artifacts, edits (run_requests) ---------------------
class RunDetailsParams(TypedDict):
    workspaceUri: str
    runId: str


class _ListArtifactsOptions(TypedDict, total=False):
    path: str  # a folder relative to the run's artifact root; absent: the root


class ListArtifactsParams(_ListArtifactsOptions):
    workspaceUri: str
    runId: str


class ListArtifactsResult(TypedDict):
    entries: list[ArtifactEntry]


class _ResolveArtifactTarget(TypedDict, total=False):
    path: str  # a file relative to the run's artifact root
    model: str  # or a logged model's label: its MLmodel file (wins over `path`)


class ResolveArtifactParams(_ResolveArtifactTarget):
    workspaceUri: str
    runId: str


class ResolvedArtifactResult(TypedDict):
    localPath: str
    kind: str  # "text" | "image" | "csv" | "model" | "binary" | "directory"


class _EditRunOptions(TypedDict, total=False):
    # One of EDIT_RUN_ACTIONS. Absent, it is refused as an unknown one is (INVALID_RUN_EDIT,
    # the edit's own error), not as malformed params.
    action: str
    value: str  # rename: the name; note: the text; setTag: the tag's value
    key: str  # setTag / removeTag


class EditRunParams(_EditRunOptions):
    """The result is the run's RunDetails afterwards."""

    workspaceUri: str
    runId: str


EDIT_RUN_ACTIONS: Final[tuple[str, ...]] = (
    "rename",
    "note",
    "setTag",
    "removeTag",
    "delete",
    "restore",
)


EXPLORER_ENVELOPES: Final[list[type]] = [
    RunDetailsParams,
    ListArtifactsParams,
    ListArtifactsResult,
    ResolveArtifactParams,
    ResolvedArtifactResult,
    EditRunParams,
    QueryRunsParams,
    QueryRunsResult,
    ListExperimentsParams,
    ListExperimentsResult,
    CompareRunsParams,
]
