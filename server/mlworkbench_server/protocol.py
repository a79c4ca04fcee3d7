"""The one definition of every name the extension and the server share.

`scripts/gen_protocol.py` writes `extension/src/protocol.ts` from this module, and
`tests/server/test_protocol_sync.py` fails when the two (or package.json) drift apart, so a
name is never typed by hand on both sides.
"""

from __future__ import annotations

from typing import Final, NamedTuple, TypedDict

# Light at import (dataclasses only): payload shapes come from the library itself.
from mlworkbench.analysis.script_analysis import ScriptAnalysis
from mlworkbench.explorer.run_compare import CompareData
from mlworkbench.explorer.run_details import RunDetails
from mlworkbench.explorer.run_listing import RunSummary
from mlworkbench.registry.model_registry import ModelVersionInfo, RegisteredModelInfo
from mlworkbench.reports.report_document import ReportDocument
from mlworkbench_server.compute_protocol import (
    COMPUTE_ENVELOPES,
    CancelSweepParams,
    ComputeTargetState,
    ListComputeTargetsParams,
    ListComputeTargetsResult,
    StartLocalClusterParams,
    StartSweepParams,
    StartSweepResult,
    StopLocalClusterResult,
    StopTrackingServerResult,
    TrackingServerParams,
    TrackingServerState,
)
from mlworkbench_server.deploy_protocol import (
    DEPLOY_ENVELOPES,
    BuildImageParams,
    BuildImageResult,
    CancelBuildParams,
    ContainerEntry,
    ContainerLogsParams,
    ContainerLogsResult,
    ContainerParams,
    ImageParams,
    InvokeContainerParams,
    InvokeContainerResult,
    ListDeploymentsResult,
    SampleRequestParams,
    SampleRequestResult,
    WriteK8sParams,
    WriteWorkflowParams,
    WrittenFiles,
)
from mlworkbench_server.explorer_protocol import (
    EXPLORER_ENVELOPES,
    CompareRunsParams,
    EditRunParams,
    ListArtifactsParams,
    ListArtifactsResult,
    ListExperimentsParams,
    ListExperimentsResult,
    QueryRunsParams,
    QueryRunsResult,
    ResolveArtifactParams,
    ResolvedArtifactResult,
    RunDetailsParams,
)
from mlworkbench_server.monitor_protocol import (
    MONITOR_ENVELOPES,
    OpenMonitorParams,
    OpenMonitorResult,
    StopMonitorsResult,
)
from mlworkbench_server.registry_protocol import (
    REGISTRY_ENVELOPES,
    DeleteModelAliasParams,
    ListModelsParams,
    ListModelsResult,
    RegisterModelParams,
    SetModelAliasParams,
)
from mlworkbench_server.reports_protocol import (
    REPORTS_ENVELOPES,
    CancelReportParams,
    CreateReportParams,
    CreateReportResult,
    InspectDataParams,
    InspectDataResult,
    ListReportsParams,
    ListReportsResult,
    ReadReportParams,
)

# --- VS Code commands (contributed in package.json, implemented by the extension) ---------
COMMANDS: Final[dict[str, str]] = {
    "RESTART_SERVER": "mlWorkbench.restartServer",
    "SETUP_ENVIRONMENT": "mlWorkbench.setupEnvironment",
    "SHOW_LOG": "mlWorkbench.showLog",
    "RUN_SCRIPT": "mlWorkbench.runScript",
    "SHOW_SCRIPT_INFO": "mlWorkbench.showScriptInfo",
    "OPEN_TRAINING_SCRIPT": "mlWorkbench.openTrainingScript",
    "REFRESH_RUNS": "mlWorkbench.refreshRuns",
    "RUN_SCRIPT_WITH": "mlWorkbench.runScriptWith",
    "DEBUG_SCRIPT": "mlWorkbench.debugScript",
    "CANCEL_RUN": "mlWorkbench.cancelRun",
    "SHOW_LIVE_METRICS": "mlWorkbench.showLiveMetrics",
    "REVEAL_SCRIPT_RUNS": "mlWorkbench.revealScriptRuns",
    "CLEAR_RUNS_FILTER": "mlWorkbench.clearRunsFilter",
    "SHOW_RUNNING": "mlWorkbench.showRunning",
    # Run explorer (tree): filter, sort, group, paging, deleted runs.
    "FILTER_RUNS": "mlWorkbench.filterRuns",
    "SORT_RUNS": "mlWorkbench.sortRuns",
    "GROUP_RUNS_BY_SCRIPT": "mlWorkbench.groupRunsByScript",
    "UNGROUP_RUNS": "mlWorkbench.ungroupRuns",
    "LOAD_MORE_RUNS": "mlWorkbench.loadMoreRuns",
    "SHOW_DELETED_RUNS": "mlWorkbench.showDeletedRuns",
    "HIDE_DELETED_RUNS": "mlWorkbench.hideDeletedRuns",
    # Run actions (tree context menu and palette).
    "COMPARE_RUNS": "mlWorkbench.compareRuns",
    "OPEN_RUN_LOG": "mlWorkbench.openRunLog",
    "OPEN_ARTIFACT": "mlWorkbench.openArtifact",
    "RERUN": "mlWorkbench.rerun",
    "RERUN_WITH": "mlWorkbench.rerunWith",
    "DEBUG_RUN": "mlWorkbench.debugRun",
    "RENAME_RUN": "mlWorkbench.renameRun",
    "NOTE_RUN": "mlWorkbench.noteRun",
    "TAG_RUN": "mlWorkbench.tagRun",
    "REMOVE_TAG": "mlWorkbench.removeTag",
    "DELETE_RUN": "mlWorkbench.deleteRun",
    "RESTORE_RUN": "mlWorkbench.restoreRun",
    "COPY_RUN_ID": "mlWorkbench.copyRunId",
    # Model registry (Models view).
    "REGISTER_MODEL": "mlWorkbench.registerModel",
    "REFRESH_MODELS": "mlWorkbench.refreshModels",
    "SET_MODEL_ALIAS": "mlWorkbench.setModelAlias",
    "REMOVE_MODEL_ALIAS": "mlWorkbench.removeModelAlias",
    # Monitoring servers and the tracking server's token.
    "OPEN_MLFLOW_UI": "mlWorkbench.openMlflowUi",
    "OPEN_TENSORBOARD": "mlWorkbench.openTensorBoard",
    "STOP_MONITORS": "mlWorkbench.stopMonitors",
    "SET_TRACKING_TOKEN": "mlWorkbench.setTrackingToken",
    "CLEAR_TRACKING_TOKEN": "mlWorkbench.clearTrackingToken",
    # Reports (fairness, explanations, privacy, model card): the wizard, the panel, the tree.
    "CREATE_REPORT": "mlWorkbench.createReport",
    "OPEN_REPORT": "mlWorkbench.openReport",
    "PRIVACY_SYNTH": "mlWorkbench.privacySynth",
    "PRIVACY_QUERY": "mlWorkbench.privacyQuery",
    "SERVE_LOCALLY": "mlWorkbench.serveLocally",
    "BUILD_CONTAINER": "mlWorkbench.buildContainer",
    "GENERATE_K8S": "mlWorkbench.generateK8sManifests",
    "GENERATE_WORKFLOW": "mlWorkbench.generateWorkflow",
    "REFRESH_DEPLOYMENTS": "mlWorkbench.refreshDeployments",
    "START_CONTAINER": "mlWorkbench.startContainer",
    "STOP_CONTAINER": "mlWorkbench.stopContainer",
    "SHOW_CONTAINER_LOGS": "mlWorkbench.showContainerLogs",
    "REMOVE_IMAGE": "mlWorkbench.removeImage",
    "NEW_TEST_REQUEST": "mlWorkbench.newTestRequest",
    "SEND_TEST_REQUEST": "mlWorkbench.sendTestRequest",
    # Compute: a sweep of a script's own parameters (lens, editor menus, palette).
    "SWEEP_SCRIPT": "mlWorkbench.sweepScript",
    # Compute targets: Run on… (lens, editor menus, palette) and the Compute view.
    "RUN_SCRIPT_ON": "mlWorkbench.runScriptOn",
    "REFRESH_COMPUTE": "mlWorkbench.refreshCompute",
    "START_LOCAL_CLUSTER": "mlWorkbench.startLocalCluster",
    "STOP_LOCAL_CLUSTER": "mlWorkbench.stopLocalCluster",
    "ADD_COMPUTE_TARGET": "mlWorkbench.addComputeTarget",
    "START_TRACKING_SERVER": "mlWorkbench.startTrackingServer",
    "STOP_TRACKING_SERVER": "mlWorkbench.stopTrackingServer",
}

# --- custom LSP requests (client -> server) ------------------------------------------------
REQUESTS: Final[dict[str, str]] = {
    "ANALYZE_SCRIPT": "mlworkbench/analyzeScript",
    "SERVER_INFO": "mlworkbench/serverInfo",
    "START_RUN": "mlworkbench/startRun",
    "CANCEL_RUN": "mlworkbench/cancelRun",
    "LIST_RUNS": "mlworkbench/listRuns",
    "PREPARE_DEBUG_RUN": "mlworkbench/prepareDebugRun",
    # Run explorer: pages of runs from the summary cache, experiments, comparison data.
    "QUERY_RUNS": "mlworkbench/queryRuns",
    "LIST_EXPERIMENTS": "mlworkbench/listExperiments",
    "COMPARE_RUNS": "mlworkbench/compareRuns",
    # One run: details, artifacts (RESOLVE_ARTIFACT: `path`, or `model` = a model's label for
    # its MLmodel file), edits.
    "RUN_DETAILS": "mlworkbench/runDetails",
    "LIST_ARTIFACTS": "mlworkbench/listArtifacts",
    "RESOLVE_ARTIFACT": "mlworkbench/resolveArtifact",
    "EDIT_RUN": "mlworkbench/editRun",
    # Model registry.
    "LIST_MODELS": "mlworkbench/listModels",
    "REGISTER_MODEL": "mlworkbench/registerModel",
    "SET_MODEL_ALIAS": "mlworkbench/setModelAlias",
    "DELETE_MODEL_ALIAS": "mlworkbench/deleteModelAlias",
    # MLflow UI / TensorBoard servers the server starts on 127.0.0.1.
    "OPEN_MONITOR": "mlworkbench/openMonitor",
    "STOP_MONITORS": "mlworkbench/stopMonitors",
    # Reports: made by the `mlworkbench report|privacy` CLI in a child process (cancellable),
    # logged under the run, read back for the panel.
    "CREATE_REPORT": "mlworkbench/createReport",
    "CANCEL_REPORT": "mlworkbench/cancelReport",
    "LIST_REPORTS": "mlworkbench/listReports",
    "READ_REPORT": "mlworkbench/readReport",
    "INSPECT_DATA": "mlworkbench/inspectData",
    "BUILD_IMAGE": "mlworkbench/buildImage",
    "CANCEL_BUILD": "mlworkbench/cancelBuild",
    "LIST_DEPLOYMENTS": "mlworkbench/listDeployments",
    "START_CONTAINER": "mlworkbench/startContainer",
    "STOP_CONTAINER": "mlworkbench/stopContainer",
    "REMOVE_IMAGE": "mlworkbench/removeImage",
    "CONTAINER_LOGS": "mlworkbench/containerLogs",
    "SAMPLE_REQUEST": "mlworkbench/sampleRequest",
    "INVOKE_CONTAINER": "mlworkbench/invokeContainer",
    "WRITE_K8S": "mlworkbench/writeK8sManifests",
    "WRITE_WORKFLOW": "mlworkbench/writeWorkflow",
    # Sweeps: `mlworkbench sweep` in a child process (cancellable); the parameters to offer
    # come from analyzeScript.
    "START_SWEEP": "mlworkbench/startSweep",
    "CANCEL_SWEEP": "mlworkbench/cancelSweep",
    # Compute targets: the Compute view, the local Ray cluster, the workspace's tracking server.
    "LIST_COMPUTE_TARGETS": "mlworkbench/listComputeTargets",
    "START_LOCAL_CLUSTER": "mlworkbench/startLocalCluster",
    "STOP_LOCAL_CLUSTER": "mlworkbench/stopLocalCluster",
    "START_TRACKING_SERVER": "mlworkbench/startTrackingServer",
    "STOP_TRACKING_SERVER": "mlworkbench/stopTrackingServer",
}

# --- custom LSP notifications (server -> client) ------------------------------------------
NOTIFICATIONS: Final[dict[str, str]] = {
    # Output of a run, batched (at most ~10 a second per run).
    "RUN_OUTPUT": "mlworkbench/runOutput",
    # Metric points of a run as they are logged (TensorBoard mirror, autolog).
    "RUN_METRICS": "mlworkbench/runMetrics",
    # A run started or ended; the Runs view refreshes on it.
    "RUN_STATUS": "mlworkbench/runStatus",
    # The step a report job is on ("Loading the model"), for its progress notification.
    "REPORT_PROGRESS": "mlworkbench/reportProgress",
    "DEPLOY_LOG": "mlworkbench/deployLog",
    # A sweep's trial started or ended ("trial 2/4 lr=0.01: FINISHED accuracy=0.93").
    "SWEEP_PROGRESS": "mlworkbench/sweepProgress",
}

# --- structured error codes the server puts in LSP ResponseError.code ----------------------
# JSON-RPC reserves -32768..-32000; application codes live outside that range.
ERROR_CODES: Final[dict[str, int]] = {
    "SCRIPT_NOT_FOUND": 1001,
    "SCRIPT_NOT_DECODABLE": 1002,
    "SCRIPT_NOT_READABLE": 1004,
    "UNKNOWN_EXTRA": 1005,
    "RUN_NOT_FOUND": 1010,
    "TRACKING_UNAVAILABLE": 1011,
    "TRACKING_STORE_CORRUPT": 1012,
    "TRACKING_STORE_READ_ONLY": 1013,
    "SCRIPT_OUTSIDE_WORKSPACE": 1014,
    "MISSING_PACKAGE": 1015,
    "UNTRUSTED_WORKSPACE": 1016,
    "RUN_START_FAILED": 1017,
    "INVALID_FILTER": 1018,
    "UNKNOWN_EXPERIMENT": 1019,
    # Run explorer: details, edits, artifacts (1020-1029).
    "ARTIFACT_PATH_REFUSED": 1020,
    "ARTIFACT_NOT_FOUND": 1021,
    "INVALID_RUN_EDIT": 1022,
    "EXPERIMENT_DELETED": 1023,
    "TRACKING_STORE_TOO_NEW": 1024,
    "PRIVATE_FOLDER_REFUSED": 1025,
    # Summary cache and comparison (1030-1039).
    "TOO_MANY_RUNS": 1031,
    "NO_RUNS_TO_COMPARE": 1032,
    # Registry and monitoring servers (1040-1049).
    "NO_MODEL_IN_RUN": 1040,
    "MODEL_NOT_FOUND": 1041,
    "MONITOR_START_FAILED": 1042,
    "SEVERAL_MODELS_IN_RUN": 1043,
    "INVALID_MODEL_NAME": 1044,
    "NO_EVENT_FILES": 1045,
    # Security (1050-1059).
    "NETWORK_REFUSED": 1050,
    # Reports: data, columns, model, privacy budget (1060-1069).
    "REPORT_DATA_INVALID": 1060,
    "COLUMN_NOT_FOUND": 1061,
    "INVALID_REPORT_INPUT": 1062,
    "MODEL_LOAD_FAILED": 1063,
    "PRIVACY_BUDGET_EXCEEDED": 1064,
    "REPORT_NOT_FOUND": 1065,
    "REPORT_FAILED": 1066,
    # Deploy: images, containers, manifests, workflows (1070-1079).
    "INVALID_IMAGE_REFERENCE": 1070,
    "INVALID_RESOURCE_NAME": 1071,
    "DEPLOY_MODEL_INVALID": 1072,
    "WHEELHOUSE_FAILED": 1073,
    "OUTPUT_EXISTS": 1074,
    "DOCKER_UNAVAILABLE": 1075,
    "DOCKER_PERMISSION_DENIED": 1076,
    "IMAGE_BUILD_FAILED": 1077,
    "CONTAINER_SMOKE_FAILED": 1078,
    "INVALID_DEPLOY_OPTION": 1079,
    "CONTAINER_NOT_FOUND": 1080,
    "CONTAINER_START_FAILED": 1081,
    "INVALID_SWEEP": 1090,
    "UNKNOWN_SWEEP_PARAMETER": 1091,
    "SWEEP_FAILED": 1092,
    # Compute targets: Ray clusters and jobs (1093-1099).
    "COMPUTE_TARGET_UNREACHABLE": 1093,
    "WORKING_DIR_TOO_LARGE": 1094,
    "TRACKING_SERVER_REQUIRED": 1095,
    "RAY_NOT_INSTALLED": 1096,
    "RAY_CLUSTER_START_FAILED": 1097,
    "INVALID_COMPUTE_TARGET": 1098,
    # The workspace's tracking server (1100-1104).
    "TRACKING_SERVER_START_FAILED": 1100,
    "TRACKING_SERVER_NOT_RUNNING": 1101,
    "INVALID_BACKEND_STORE": 1102,
}

# --- views and context keys ---------------------------------------------------------------
VIEWS: Final[dict[str, str]] = {
    "CONTAINER": "mlWorkbench",
    "RUNS": "mlWorkbench.runs",
    "MODELS": "mlWorkbench.models",
    "DEPLOYMENTS": "mlWorkbench.deployments",
    "COMPUTE": "mlWorkbench.compute",
}

# Context keys (`when` clauses) and status bar item ids the extension sets.
CONTEXT_KEYS: Final[dict[str, str]] = {
    "RUNS_FILTERED": "mlWorkbench.runsFiltered",
    "RUNS_GROUPED": "mlWorkbench.runsGrouped",
    "RUNS_SHOW_DELETED": "mlWorkbench.runsShowDeleted",
    "MONITORS_RUNNING": "mlWorkbench.monitorsRunning",
    "TEST_REQUEST_ACTIVE": "mlWorkbench.testRequestActive",
}
WEBVIEWS: Final[dict[str, str]] = {
    "LIVE_METRICS": "mlWorkbench.liveMetrics",
    "COMPARE": "mlWorkbench.compare",
    "REPORT": "mlWorkbench.report",
}
STATUS_ITEMS: Final[dict[str, str]] = {
    "SERVER": "mlWorkbench.status",
    "RUNNING": "mlWorkbench.running",
}

# Exit code of `mlworkbench_server --check` when the interpreter is too old.
EXIT_CODES: Final[dict[str, int]] = {
    "PYTHON_TOO_OLD": 3,
    "MISSING_DEPENDENCY": 4,
}

MIN_PYTHON: Final[tuple[int, int]] = (3, 10)


# --- payload envelopes of the custom requests and notifications ------------------------------
# Library results inside them (RunResult, RunSummary, ScriptAnalysis) are the library's own
# dataclasses; gen_protocol.py emits TypeScript interfaces for both.


# Optional keys live in a `total=False` base (NotRequired needs Python 3.11).
class NoParams(TypedDict):
    """The params of a request that takes none (the client sends `{}`)."""


class EmptyResult(TypedDict):
    """The result of a request that succeeds with nothing to say (`{}`)."""


class AnalyzeScriptParams(TypedDict):
    uri: str  # an open document's (its live text) or a file's on disk


class ServerInfoResult(TypedDict):
    version: str
    python: str
    executable: str
    pid: int


class _StartRunOptions(TypedDict, total=False):
    experiment: str
    runName: str
    # A Ray target (from the Compute view or `mlWorkbench.computeTargets`): the script goes to
    # that cluster through the Ray Jobs API and tracks to the workspace's tracking server.
    targetAddress: str
    targetName: str


class StartRunParams(_StartRunOptions):
    uri: str
    workspaceUri: str
    args: list[str]


class PrepareDebugRunParams(TypedDict):
    uri: str
    workspaceUri: str
    args: list[str]


class _StartRunResultExtras(TypedDict, total=False):
    jobId: str  # a run on a Ray target: its Ray job


class StartRunResult(_StartRunResultExtras):
    runId: str
    experimentId: str
    pid: int  # 0 for a run on a Ray target (its process is the cluster's)
    logPath: str  # "" for a run on a Ray target (its log is the job's)


class DebugLaunch(TypedDict):
    """What a debugger needs to launch a tracked run (the bootstrap as its program)."""

    python: str
    program: str
    args: list[str]
    env: dict[str, str]
    cwd: str


class RunIdParams(TypedDict):
    runId: str


class ListRunsParams(TypedDict):
    workspaceUri: str


class ListRunsResult(TypedDict):
    runs: list[RunSummary]
    running: list[str]


class RunOutputParams(TypedDict):
    runId: str
    text: str


class MetricPointPayload(TypedDict):
    key: str
    value: float
    step: int
    timestamp: int


class RunMetricsParams(TypedDict):
    runId: str
    points: list[MetricPointPayload]


class _RunStatusDetails(TypedDict, total=False):
    script: str
    result: dict[str, object]
    primaryMetric: str
    error: str


class RunStatusParams(_RunStatusDetails):
    runId: str
    status: str


ENVELOPES: Final[list[type]] = [
    NoParams,
    EmptyResult,
    AnalyzeScriptParams,
    ServerInfoResult,
    StartRunParams,
    PrepareDebugRunParams,
    StartRunResult,
    DebugLaunch,
    RunIdParams,
    ListRunsParams,
    ListRunsResult,
    RunOutputParams,
    MetricPointPayload,
    RunMetricsParams,
    RunStatusParams,
    *EXPLORER_ENVELOPES,
    *REGISTRY_ENVELOPES,
    *MONITOR_ENVELOPES,
    *REPORTS_ENVELOPES,
    *DEPLOY_ENVELOPES,
    *COMPUTE_ENVELOPES,
]


# --- what each request takes and answers ----------------------------------------------------
class RequestType(NamedTuple):
    """A request's params envelope (a TypedDict the server structures the params into before
    its handler runs) and its result (a TypedDict or one of the library's dataclasses, in its
    JSON form). gen_protocol.py emits the table as TypeScript's `RequestTypes`."""

    params: type
    result: type


# Keyed like REQUESTS; a request without a row here cannot be registered (request_path).
REQUEST_TYPES: Final[dict[str, RequestType]] = {
    "ANALYZE_SCRIPT": RequestType(AnalyzeScriptParams, ScriptAnalysis),
    "SERVER_INFO": RequestType(NoParams, ServerInfoResult),
    "START_RUN": RequestType(StartRunParams, StartRunResult),
    "CANCEL_RUN": RequestType(RunIdParams, EmptyResult),
    "LIST_RUNS": RequestType(ListRunsParams, ListRunsResult),
    "PREPARE_DEBUG_RUN": RequestType(PrepareDebugRunParams, DebugLaunch),
    "QUERY_RUNS": RequestType(QueryRunsParams, QueryRunsResult),
    "LIST_EXPERIMENTS": RequestType(ListExperimentsParams, ListExperimentsResult),
    "COMPARE_RUNS": RequestType(CompareRunsParams, CompareData),
    "RUN_DETAILS": RequestType(RunDetailsParams, RunDetails),
    "LIST_ARTIFACTS": RequestType(ListArtifactsParams, ListArtifactsResult),
    "RESOLVE_ARTIFACT": RequestType(ResolveArtifactParams, ResolvedArtifactResult),
    "EDIT_RUN": RequestType(EditRunParams, RunDetails),
    "LIST_MODELS": RequestType(ListModelsParams, ListModelsResult),
    "REGISTER_MODEL": RequestType(RegisterModelParams, ModelVersionInfo),
    "SET_MODEL_ALIAS": RequestType(SetModelAliasParams, RegisteredModelInfo),
    "DELETE_MODEL_ALIAS": RequestType(DeleteModelAliasParams, RegisteredModelInfo),
    "OPEN_MONITOR": RequestType(OpenMonitorParams, OpenMonitorResult),
    "STOP_MONITORS": RequestType(NoParams, StopMonitorsResult),
    "CREATE_REPORT": RequestType(CreateReportParams, CreateReportResult),
    "CANCEL_REPORT": RequestType(CancelReportParams, EmptyResult),
    "LIST_REPORTS": RequestType(ListReportsParams, ListReportsResult),
    "READ_REPORT": RequestType(ReadReportParams, ReportDocument),
    "INSPECT_DATA": RequestType(InspectDataParams, InspectDataResult),
    "BUILD_IMAGE": RequestType(BuildImageParams, BuildImageResult),
    "CANCEL_BUILD": RequestType(CancelBuildParams, EmptyResult),
    "LIST_DEPLOYMENTS": RequestType(NoParams, ListDeploymentsResult),
    "START_CONTAINER": RequestType(ImageParams, ContainerEntry),
    "STOP_CONTAINER": RequestType(ContainerParams, EmptyResult),
    "REMOVE_IMAGE": RequestType(ImageParams, EmptyResult),
    "CONTAINER_LOGS": RequestType(ContainerLogsParams, ContainerLogsResult),
    "SAMPLE_REQUEST": RequestType(SampleRequestParams, SampleRequestResult),
    "INVOKE_CONTAINER": RequestType(InvokeContainerParams, InvokeContainerResult),
    "WRITE_K8S": RequestType(WriteK8sParams, WrittenFiles),
    "WRITE_WORKFLOW": RequestType(WriteWorkflowParams, WrittenFiles),
    "START_SWEEP": RequestType(StartSweepParams, StartSweepResult),
    "CANCEL_SWEEP": RequestType(CancelSweepParams, EmptyResult),
    "LIST_COMPUTE_TARGETS": RequestType(ListComputeTargetsParams, ListComputeTargetsResult),
    "START_LOCAL_CLUSTER": RequestType(StartLocalClusterParams, ComputeTargetState),
    "STOP_LOCAL_CLUSTER": RequestType(NoParams, StopLocalClusterResult),
    "START_TRACKING_SERVER": RequestType(TrackingServerParams, TrackingServerState),
    "STOP_TRACKING_SERVER": RequestType(TrackingServerParams, StopTrackingServerResult),
}
