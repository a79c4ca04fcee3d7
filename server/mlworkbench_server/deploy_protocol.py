"""Envelopes of the deploy requests (deploy_requests): build an image from a run's model (the
CLI in a child process, its log streamed), list the workbench's images and containers, start,
stop, read and call a container, and write Kubernetes manifests and a GitHub Actions workflow.

Part of the protocol (`protocol.py` lists them in ENVELOPES, `scripts/gen_protocol.py` turns
them into TypeScript).
"""

from __future__ import annotations

from typing import Final, Literal, TypedDict


class _BuildImageOptions(TypedDict, total=False):
    runId: str  # build the run's model ...
    model: str  # ... or a model URI; with runId, which of the run's models (its label)
    baseImage: str  # default: the CLI's (a Python slim image)
    smokeTest: bool  # run the image once and compare a prediction with the in-process one


class BuildImageParams(_BuildImageOptions):
    workspaceUri: str
    jobId: str  # chosen by the client; cancelBuild and deployLog name it
    tag: str  # NAME[:TAG], checked against Docker's reference grammar before anything runs


class SmokeSummary(TypedDict):
    url: str
    healthyAfterS: float
    user: str  # uid:gid inside the container
    readOnlyRoot: bool
    predictionsMatch: bool


class BuildImageResult(TypedDict):
    tag: str
    imageId: str
    sizeBytes: int
    buildSeconds: float
    logPath: str  # the whole build log, kept on disk
    smoke: SmokeSummary | None


class CancelBuildParams(TypedDict):
    jobId: str


class DeployLogParams(TypedDict):
    """A line of a build's log (notification), in order."""

    jobId: str
    line: str


EngineStatus = Literal["running", "unavailable", "permission-denied"]


class _EngineHelp(TypedDict, total=False):
    message: str  # why the engine cannot be reached, for the view's placeholder item
    fix: str  # what to do about it, one sentence


class EngineState(_EngineHelp):
    status: EngineStatus
    host: str  # the engine's address (DOCKER_HOST or the default socket)


class _ImageModel(TypedDict, total=False):
    runId: str


class ImageEntry(_ImageModel):
    id: str  # sha256:…
    tags: list[str]
    sizeBytes: int
    created: str  # ISO 8601
    modelUri: str
    flavor: str


class _ContainerPort(TypedDict, total=False):
    url: str  # http://127.0.0.1:PORT when the serving port is published
    health: str  # starting | healthy | unhealthy (Docker's HEALTHCHECK state)
    runId: str


class ContainerEntry(_ContainerPort):
    id: str
    name: str
    image: str  # the tag it was started from
    status: str  # Docker's: created, running, exited, …
    startedByEditor: bool  # this server holds its token; others are the CLI's


class ListDeploymentsResult(TypedDict):
    engine: EngineState
    images: list[ImageEntry]
    containers: list[ContainerEntry]


class ImageParams(TypedDict):
    image: str  # an image id or tag the workbench built


class ContainerParams(TypedDict):
    containerId: str


class _LogsOptions(TypedDict, total=False):
    tail: int  # lines from the end (default 500)


class ContainerLogsParams(_LogsOptions):
    containerId: str


class ContainerLogsResult(TypedDict):
    text: str


class SampleRequestParams(TypedDict):
    workspaceUri: str  # where the container's model URI (a runs:/ URI) is resolved
    containerId: str


class SampleRequestResult(TypedDict):
    body: str  # a JSON /invocations body, pretty-printed, for the user to edit
    source: Literal["example", "signature", "none"]  # where it came from


class InvokeContainerParams(TypedDict):
    containerId: str
    body: str  # JSON text as the user edited it; sent as is (the container validates it)


class InvokeContainerResult(TypedDict):
    status: int  # the container's HTTP status (400/413/422 carry its reason in body)
    body: str
    elapsedMs: float


class _K8sOptions(TypedDict, total=False):
    replicas: int
    hpa: bool
    force: bool  # overwrite manifests already there


class WriteK8sParams(_K8sOptions):
    workspaceUri: str
    image: str
    name: str  # a DNS-1035 label


class WrittenFiles(TypedDict):
    files: list[str]  # absolute paths, in the order written


class _WorkflowOptions(TypedDict, total=False):
    data: str  # with target and sensitive: a fairness gate on the trained model
    target: str
    sensitive: list[str]
    maxDisparity: float
    image: str
    force: bool


class WriteWorkflowParams(_WorkflowOptions):
    workspaceUri: str
    script: str  # workspace-relative training script


DEPLOY_ENVELOPES: Final[list[type]] = [
    BuildImageParams,
    SmokeSummary,
    BuildImageResult,
    CancelBuildParams,
    DeployLogParams,
    EngineState,
    ImageEntry,
    ContainerEntry,
    ListDeploymentsResult,
    ImageParams,
    ContainerParams,
    ContainerLogsParams,
    ContainerLogsResult,
    SampleRequestParams,
    SampleRequestResult,
    InvokeContainerParams,
    InvokeContainerResult,
    WriteK8sParams,
    WrittenFiles,
    WriteWorkflowParams,
]
