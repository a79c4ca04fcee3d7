"""Envelopes of the compute requests: a sweep of a script's own parameters (compute_requests),
and compute targets (compute_target_requests): the Compute view's listing, the workbench's local
Ray cluster, and the workspace's tracking server that runs on a Ray target track to.

Part of the protocol (`protocol.py` lists them in ENVELOPES, `scripts/gen_protocol.py` turns
them into TypeScript). The result is `mlworkbench sweep --json`'s document, typed and renamed
to the protocol's camelCase; the parameters a script declares come from `analyzeScript`.
"""

from __future__ import annotations

from typing import Final, Literal, TypedDict


class SweepParameterValues(TypedDict):
    name: str  # the name the script sees (`n_estimators`) or its flag (`n-estimators`)
    values: list[str]  # as written; the CLI types them by the script's declaration


class _StartSweepOptions(TypedDict, total=False):
    random: int  # that many combinations drawn from the grid instead of all of it
    seed: int  # of `random` (drawn and recorded when absent)
    maxConcurrent: int  # trials in flight at once (the CLI's default: 1)
    metric: str  # the final metric that picks the best trial
    mode: Literal["min", "max"]
    args: list[str]  # the script's own arguments, the same for every trial (after `--`)
    # Trials as jobs on this Ray cluster (Compute view / `mlWorkbench.computeTargets`), tracked
    # by the workspace's tracking server; absent: this machine's process pool.
    targetAddress: str


class StartSweepParams(_StartSweepOptions):
    workspaceUri: str
    jobId: str  # chosen by the client; cancelSweep and sweepProgress name it
    uri: str  # the script
    params: list[SweepParameterValues]


class SweepTrial(TypedDict):
    index: int  # 1-based, in the order trials start
    values: dict[str, str | float | bool]  # typed as the script declares them
    status: str  # FINISHED | FAILED | KILLED | NOT_RUN
    runId: str | None  # None when no run exists (not run, or refused at start)
    metric: float | None  # the sweep's metric, when it has one and the trial logged it
    error: str | None  # the end of a failed trial's output, or why it could not start


class StartSweepResult(TypedDict):
    parentRunId: str
    experimentId: str
    status: str  # FINISHED | FAILED (every trial failed); a cancel is an error instead
    metric: str | None
    mode: Literal["min", "max"]
    trials: list[SweepTrial]
    best: SweepTrial | None


class CancelSweepParams(TypedDict):
    jobId: str


class SweepProgressParams(TypedDict):
    jobId: str
    message: str  # "trial 2/4 lr=0.01: started (run …)", "trial 2/4 lr=0.01: FINISHED acc=0.9"


class ComputeTargetSetting(TypedDict):
    """One entry of `mlWorkbench.computeTargets` (a machine setting: a repository cannot name
    where its code is sent)."""

    name: str
    address: str  # the Ray dashboard's http(s)://host:port


class ListComputeTargetsParams(TypedDict):
    workspaceUri: str
    targets: list[ComputeTargetSetting]


class ComputeTargetState(TypedDict):
    name: str
    kind: Literal["local", "ray"]
    address: str | None  # None for this machine's plain processes
    managed: bool  # the workbench's own local Ray cluster (Start/Stop apply)
    reachable: bool
    nodes: int | None
    cpus: float | None
    gpus: float | None
    error: str | None  # why it is not reachable, naming the address


class TrackingServerState(TypedDict):
    uri: str
    backend: str  # the backend store, any password redacted
    pid: int


class ListComputeTargetsResult(TypedDict):
    targets: list[ComputeTargetState]
    trackingServer: TrackingServerState | None  # the workspace's, when it runs


class _StartLocalClusterOptions(TypedDict, total=False):
    numCpus: int  # default: Ray's (all of this machine's)


class StartLocalClusterParams(_StartLocalClusterOptions):
    workspaceUri: str


class StopLocalClusterResult(TypedDict):
    stopped: bool  # False when none was running


class TrackingServerParams(TypedDict):
    workspaceUri: str


class StopTrackingServerResult(TypedDict):
    stopped: bool


COMPUTE_ENVELOPES: Final[list[type]] = [
    SweepParameterValues,
    StartSweepParams,
    SweepTrial,
    StartSweepResult,
    CancelSweepParams,
    SweepProgressParams,
    ComputeTargetSetting,
    ListComputeTargetsParams,
    ComputeTargetState,
    TrackingServerState,
    ListComputeTargetsResult,
    StartLocalClusterParams,
    StopLocalClusterResult,
    TrackingServerParams,
    StopTrackingServerResult,
]
