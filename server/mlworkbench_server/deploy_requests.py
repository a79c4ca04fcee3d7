"""Deploy requests: build a model's image (the CLI in a child process, its log streamed), list
the workbench's images and containers, start, call, read and stop a container, remove an
image, and write Kubernetes manifests and a GitHub Actions workflow into the workspace.

A build runs `mlworkbench deploy build` exactly as a terminal would (an argument list, every
value its own `--flag=value` item, no shell), so a crash or a hung engine stays out of this
process and a cancel stops everything the build started; the image is tagged only once its
build succeeded (`image_build.build_image`). Containers started here require a bearer token
that only this server holds (`container_engine.ContainerTokens`).
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from mlworkbench_server.cancellable_jobs import CancellableJobs
from mlworkbench_server.protocol import NOTIFICATIONS, REQUESTS
from mlworkbench_server.request_path import Trust, request, workspace_of

if TYPE_CHECKING:
    from docker import DockerClient

    from mlworkbench.deploy.container_engine import (
        ContainerInfo,
        ContainerTokens,
        EngineState,
        ImageInfo,
    )
    from mlworkbench_server.deploy_protocol import (
        BuildImageParams,
        BuildImageResult,
        CancelBuildParams,
        ContainerEntry,
        ContainerLogsParams,
        ContainerLogsResult,
        ContainerParams,
        ImageEntry,
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
    from mlworkbench_server.deploy_protocol import (
        EngineState as EngineEntry,
    )
    from mlworkbench_server.protocol import EmptyResult, NoParams
    from mlworkbench_server.server import WorkbenchServer

MAX_VALUE_CHARS = 4_096
BUILD_CANCEL_GRACE_S = 10.0  # the CLI removes a smoke test's container on SIGINT


def _bad_params(message: str) -> JsonRpcException:
    return JsonRpcException(code=types.ErrorCodes.InvalidParams, message=message)


def build_argv(params: BuildImageParams) -> list[str]:
    """The CLI arguments for a build (without --json/--workspace, which the runner adds).

    The tag and base image are checked against Docker's grammar here, before any process.
    """
    from mlworkbench.deploy.build_context import parse_image_reference
    from mlworkbench.deploy.image_build import check_tag

    tag = str(check_tag(params["tag"]))
    argv = ["deploy", "build", f"--tag={tag}"]
    run_id, model = params.get("runId"), params.get("model")
    for name, value in (
        ("runId", run_id),
        ("model", model),
        ("baseImage", params.get("baseImage")),
    ):
        if value is not None and (len(value) > MAX_VALUE_CHARS or "\x00" in value):
            raise _bad_params(f"'{name}' is too long or holds a NUL character")
    if run_id:
        argv.append(f"--run={run_id}")
        if model:
            argv.append(f"--model-name={model}")
    elif model:
        argv.append(f"--model={model}")
    else:
        raise _bad_params("name the model to build: 'runId' or 'model'")
    base = params.get("baseImage")
    if base:
        parse_image_reference(base, "base image")
        argv.append(f"--base-image={base}")
    if params.get("smokeTest"):
        argv.append("--run-container")
    return argv


def _engine_state(state: EngineState) -> EngineEntry:
    entry: EngineEntry = {"status": state.status, "host": state.host}
    if state.message:
        entry["message"] = state.message
    if state.fix:
        entry["fix"] = state.fix
    return entry


def _image_entry(image: ImageInfo) -> ImageEntry:
    entry: ImageEntry = {
        "id": image.id,
        "tags": image.tags,
        "sizeBytes": image.size_bytes,
        "created": image.created,
        "modelUri": image.model_uri,
        "flavor": image.flavor,
    }
    if image.run_id:
        entry["runId"] = image.run_id
    return entry


def _container_entry(info: ContainerInfo, tokens: ContainerTokens) -> ContainerEntry:
    entry: ContainerEntry = {
        "id": info.id,
        "name": info.name,
        "image": info.image,
        "status": info.status,
        "startedByEditor": info.id in tokens,
    }
    if info.url:
        entry["url"] = info.url
    if info.health:
        entry["health"] = info.health
    if info.run_id:
        entry["runId"] = info.run_id
    return entry


def _client() -> DockerClient:
    """The engine at the server's DOCKER_HOST (default socket), or its typed error."""
    from mlworkbench.deploy.image_build import connect

    return connect(None)


def _inside(workspace: Path, relative: str, what: str) -> str:
    """`relative` as a workspace-relative POSIX path, refused when it leads out of it."""
    from mlworkbench.deploy.deploy_errors import InvalidDeployOptionError

    root = workspace.resolve()
    target = (root / relative).resolve()
    if Path(relative).is_absolute() or not target.is_relative_to(root):
        raise InvalidDeployOptionError(what, f"{relative!r} lies outside the workspace {root}")
    return target.relative_to(root).as_posix()


class _LazyTokens:
    """The server's `ContainerTokens`, made on first use: start-up imports no deploy code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: ContainerTokens | None = None

    def get(self) -> ContainerTokens:
        with self._lock:
            if self._tokens is None:
                from mlworkbench.deploy.container_engine import ContainerTokens

                self._tokens = ContainerTokens()
            return self._tokens

    def close(self) -> None:
        with self._lock:
            held = self._tokens
        if held is not None:
            held.close()


def register(server: WorkbenchServer) -> None:
    jobs = CancellableJobs("build")
    tokens = _LazyTokens()
    stopping = threading.Event()  # the server is going: starts stop waiting

    @request(server, REQUESTS["BUILD_IMAGE"], Trust.EXECUTE, refused="build container images")
    def build_image(ls: WorkbenchServer, params: BuildImageParams) -> BuildImageResult:
        import os

        from mlworkbench.cli_child import child_env, run_cli
        from mlworkbench.deploy.deploy_errors import ImageBuildError
        from mlworkbench.tracking.private_dirs import private_temp_dir
        from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

        argv = build_argv(params)
        workspace = workspace_of(params)
        job_id = params["jobId"]
        cancelled = jobs.start(job_id)
        # Everything the child said, kept for a build that ends without its own log path.
        log_path = private_temp_dir("mlworkbench-build-output-") / "output.log"
        try:
            uri = resolve_tracking_uri(workspace, ls.tracking_uri)
            with log_path.open("w", encoding="utf-8") as log:

                def on_line(line: str) -> None:
                    log.write(line + "\n")
                    log.flush()
                    ls.protocol.notify(NOTIFICATIONS["DEPLOY_LOG"], {"jobId": job_id, "line": line})

                payload = run_cli(
                    argv,
                    workspace=workspace,
                    env=child_env(os.environ, uri),
                    failure=lambda reason, _output: ImageBuildError(reason, log_path),
                    accept=lambda answer: (
                        isinstance(answer, dict) and isinstance(answer.get("build"), dict)
                    ),
                    on_line=on_line,
                    cancelled=cancelled,
                    cancel_grace_s=BUILD_CANCEL_GRACE_S,
                )
        finally:
            jobs.end(job_id)
        built, smoke = payload["build"], payload.get("smoke")
        return {
            "tag": built["tag"],
            "imageId": built["image_id"],
            "sizeBytes": built["size_bytes"],
            "buildSeconds": built["build_seconds"],
            "logPath": built["log_path"],
            "smoke": None
            if not smoke
            else {
                "url": smoke["url"],
                "healthyAfterS": smoke["healthy_after_s"],
                "user": smoke["user"],
                "readOnlyRoot": smoke["read_only_root"],
                "predictionsMatch": smoke["predictions_match"],
            },
        }

    # From memory, on the event loop: a cancel must not queue behind the build it cancels.
    @request(server, REQUESTS["CANCEL_BUILD"], Trust.EXECUTE, thread=False)
    def cancel_build(ls: WorkbenchServer, params: CancelBuildParams) -> EmptyResult:
        jobs.cancel(params["jobId"])
        return {}

    @request(server, REQUESTS["LIST_DEPLOYMENTS"], Trust.READ_LOCAL)
    def list_deployments(ls: WorkbenchServer, params: NoParams) -> ListDeploymentsResult:
        from mlworkbench.deploy import container_engine

        state, client = container_engine.engine_state()
        if client is None:
            return {"engine": _engine_state(state), "images": [], "containers": []}
        images = [_image_entry(image) for image in container_engine.list_images(client)]
        containers = [
            _container_entry(info, tokens.get())
            for info in container_engine.list_containers(client)
        ]
        return {"engine": _engine_state(state), "images": images, "containers": containers}

    @request(server, REQUESTS["START_CONTAINER"], Trust.EXECUTE, refused="start containers")
    def start_container(ls: WorkbenchServer, params: ImageParams) -> ContainerEntry:
        from mlworkbench.deploy.container_engine import start_container

        started = start_container(_client(), params["image"], cancelled=stopping)
        tokens.get().add(started)
        return _container_entry(started.info, tokens.get())

    @request(server, REQUESTS["STOP_CONTAINER"], Trust.EXECUTE, refused="stop containers")
    def stop_container(ls: WorkbenchServer, params: ContainerParams) -> EmptyResult:
        from mlworkbench.deploy.container_engine import stop_container

        stop_container(_client(), params["containerId"], tokens.get())
        return {}

    @request(server, REQUESTS["REMOVE_IMAGE"], Trust.EXECUTE, refused="remove images")
    def remove_image(ls: WorkbenchServer, params: ImageParams) -> EmptyResult:
        from mlworkbench.deploy.container_engine import remove_image

        remove_image(_client(), params["image"])
        return {}

    @request(server, REQUESTS["CONTAINER_LOGS"], Trust.READ_LOCAL)
    def container_logs(ls: WorkbenchServer, params: ContainerLogsParams) -> ContainerLogsResult:
        from mlworkbench.deploy.container_engine import DEFAULT_TAIL, container_logs

        tail = params.get("tail", DEFAULT_TAIL)
        return {"text": container_logs(_client(), params["containerId"], tail)}

    @request(server, REQUESTS["SAMPLE_REQUEST"], Trust.READ_LOCAL)
    def sample_request(ls: WorkbenchServer, params: SampleRequestParams) -> SampleRequestResult:
        from mlworkbench.deploy.container_engine import sample_request

        body, source = sample_request(
            _client(), params["containerId"], workspace_of(params), ls.tracking_uri
        )
        return {"body": body, "source": source}

    @request(server, REQUESTS["INVOKE_CONTAINER"], Trust.EXECUTE, refused="call containers")
    def invoke_container(
        ls: WorkbenchServer, params: InvokeContainerParams
    ) -> InvokeContainerResult:
        from mlworkbench.deploy.container_engine import invoke

        answer = invoke(_client(), params["containerId"], params["body"], tokens=tokens.get())
        return {"status": answer.status, "body": answer.body, "elapsedMs": answer.elapsed_ms}

    @request(server, REQUESTS["WRITE_K8S"], Trust.WRITE)
    def write_k8s(ls: WorkbenchServer, params: WriteK8sParams) -> WrittenFiles:
        from mlworkbench.deploy.k8s_manifests import render_manifests, write_manifests

        workspace = workspace_of(params)
        objects = render_manifests(
            params["image"],
            params["name"],
            replicas=params.get("replicas", 2),
            hpa=params.get("hpa", False),
        )
        out = workspace / _inside(workspace, f"k8s/{params['name']}", "manifest folder")
        written = write_manifests(objects, out, force=params.get("force", False))
        return {"files": written.files}

    @request(server, REQUESTS["WRITE_WORKFLOW"], Trust.WRITE)
    def write_workflow(ls: WorkbenchServer, params: WriteWorkflowParams) -> WrittenFiles:
        from mlworkbench.deploy.github_workflow import (
            DEFAULT_INSTALL,
            DEFAULT_OUT,
            WorkflowOptions,
            write_workflow,
        )

        workspace = workspace_of(params)
        data = params.get("data")
        options = WorkflowOptions(
            script=_inside(workspace, params["script"], "training script"),
            data=_inside(workspace, data, "data file") if data else None,
            target=params.get("target"),
            sensitive=list(params.get("sensitive", [])),
            max_disparity=params.get("maxDisparity", 0.1),
            image=params.get("image", WorkflowOptions.image),
            install=DEFAULT_INSTALL,
            requirements="requirements.txt" if (workspace / "requirements.txt").is_file() else None,
        )
        out = workspace / _inside(workspace, str(DEFAULT_OUT), "workflow file")
        written = write_workflow(options, out, force=params.get("force", False))
        return {"files": [written.path]}

    def close() -> None:
        stopping.set()
        jobs.cancel_all()
        tokens.close()

    # Builds run in their own session and token folders live in the temp folder: end them
    # when the server goes (shutdown, exit, or a crash of the client that skips both).
    atexit.register(close)
