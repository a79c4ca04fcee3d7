"""Build a model's image with the Docker SDK, then run it and compare its predictions.

The build is untagged and tagged only once it succeeded, so a build that stops halfway leaves
no image under the user's tag (only the engine's cache of the steps that passed); its whole log
is kept in a private folder and named in the error. The smoke test runs the image the way the
Kubernetes manifests do (non-root, read-only root file system, /tmp a tmpfs, no capabilities,
its port published on 127.0.0.1 only), waits for the image's own HEALTHCHECK, sends the model's
input example to /invocations and compares the answer with `mlflow.pyfunc` in this process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlworkbench.deploy.build_context import (
    APP_PORT,
    APP_UID,
    ImageReference,
    parse_image_reference,
)
from mlworkbench.deploy.deploy_errors import (
    ContainerSmokeError,
    DockerPermissionError,
    DockerUnavailableError,
    ImageBuildError,
    InvalidImageReferenceError,
)
from mlworkbench.errors import MissingPackageError

if TYPE_CHECKING:
    from docker import DockerClient

LogCallback = Callable[[str], None]
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
SMOKE_LABEL = "io.mlworkbench.smoke-test"


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    tag: str
    size_bytes: int
    build_seconds: float
    log_path: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SmokeResult:
    image: str
    url: str  # where the container answered, on 127.0.0.1
    healthy_after_s: float
    user: str  # `id -u`:`id -g` inside the container
    read_only_root: bool
    rows: int  # rows of the input example sent
    predictions_match: bool
    max_abs_difference: float | None
    container_id: str | None  # set when the container was left running

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_tag(tag: str) -> ImageReference:
    """The tag to build, by Docker's grammar: NAME[:TAG] (`latest` when no tag), no digest."""
    reference = parse_image_reference(tag, "image tag")
    if reference.digest:
        raise InvalidImageReferenceError("image tag", tag, "a digest cannot be given to a build")
    return ImageReference(reference.repository, reference.tag or "latest", None)


def connect(base_url: str | None = None) -> DockerClient:
    """A client for the engine at `base_url`, else DOCKER_HOST, else the default socket.

    Checks a Unix socket itself first, so a missing socket or a permission problem becomes a
    typed error with its fix rather than the SDK's nested connection error.
    """
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        raise MissingPackageError("docker", sys.executable, "deploy") from None
    url = base_url or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
    if url.startswith("unix://"):
        socket_path = Path(url[len("unix://") :])
        if not socket_path.exists():
            raise DockerUnavailableError(url, "the socket does not exist (is Docker running?)")
        if not os.access(socket_path, os.R_OK | os.W_OK):
            raise DockerPermissionError(url)
    try:
        if base_url is None:
            client = docker.from_env(timeout=600)  # also reads DOCKER_TLS_VERIFY, CERT_PATH
        else:
            client = docker.DockerClient(base_url=base_url, timeout=600)
        client.ping()
    except DockerException as error:
        raise _connection_error(url, error) from error
    except OSError as error:  # requests' ConnectionError is an OSError too
        raise _connection_error(url, error) from error
    return client


def _connection_error(url: str, error: BaseException) -> Exception:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, PermissionError):
            return DockerPermissionError(url)
        if isinstance(cause, FileNotFoundError):
            return DockerUnavailableError(url, "the socket does not exist (is Docker running?)")
        if isinstance(cause, ConnectionRefusedError):
            return DockerUnavailableError(url, "nothing listens there (is Docker running?)")
        cause = cause.__cause__ or cause.__context__
        if cause is error:
            break
    return DockerUnavailableError(url, f"{type(error).__name__}: {error}")


def base_image_digest(client: DockerClient, base_image: str) -> str | None:
    """The registry digest the engine recorded for `base_image`, when it pulled it from one
    (an imported or locally built base has none: it is pinned by tag only)."""
    from docker.errors import DockerException

    reference = parse_image_reference(base_image, "base image")
    if reference.digest:
        return reference.digest
    try:
        attrs = client.api.inspect_image(base_image)
    except DockerException:
        return None
    for repo_digest in attrs.get("RepoDigests") or []:
        name, _, digest = str(repo_digest).partition("@")
        if name == reference.repository or name.endswith(f"/{reference.repository}"):
            return digest
    return None


def build_image(
    client: DockerClient,
    context: Path,
    tag: str,
    *,
    labels: dict[str, str] | None = None,
    on_log: LogCallback | None = None,
) -> BuildResult:
    """Build `context` untagged, streaming the log lines to `on_log`; tag it only on success."""
    from docker.errors import DockerException

    from mlworkbench.tracking.private_dirs import private_temp_dir

    reference = check_tag(tag)
    log_path = private_temp_dir("mlworkbench-build-log-") / "build.log"
    started = time.monotonic()
    image_id: str | None = None
    error: str | None = None
    with log_path.open("w", encoding="utf-8") as log_file:

        def emit(line: str) -> None:
            log_file.write(line + "\n")
            log_file.flush()
            if on_log:
                on_log(line)

        try:
            stream = client.api.build(
                path=str(context),
                rm=True,
                forcerm=True,  # intermediate containers go even when a step fails
                pull=False,
                decode=True,
                labels=labels or {},
                use_config_proxy=False,  # nothing from ~/.docker/config.json enters the build
            )
            for line, found_id, found_error in _read_stream(stream):
                if line is not None:
                    emit(line)
                image_id = found_id or image_id
                error = found_error or error
        except DockerException as failure:
            error = f"{type(failure).__name__}: {failure}"
            emit(f"error: {error}")
        except OSError as failure:
            raise _connection_error(client.api.base_url, failure) from failure
    if error is not None or image_id is None:
        raise ImageBuildError(error or "the engine reported no image", log_path)
    client.api.tag(image_id, reference.repository, reference.tag, force=True)
    size = int(client.api.inspect_image(image_id).get("Size", 0))
    return BuildResult(
        image_id=image_id,
        tag=str(reference),
        size_bytes=size,
        build_seconds=round(time.monotonic() - started, 2),
        log_path=str(log_path),
    )


def _read_stream(
    stream: Iterator[dict[str, Any]],
) -> Iterator[tuple[str | None, str | None, str | None]]:
    """(log line, image id, error) from the engine's JSON messages."""
    for chunk in stream:
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail") or {}
            message = str(chunk.get("error") or detail.get("message") or "build failed")
            yield f"error: {message.strip()}", None, message.strip()
            continue
        aux = chunk.get("aux")
        image_id = str(aux["ID"]) if isinstance(aux, dict) and "ID" in aux else None
        text = chunk.get("stream")
        if text is None and "status" in chunk:
            text = f"{chunk['status']} {chunk.get('progress', '')}".rstrip()
        lines = str(text).splitlines() if text else []
        for line in lines:
            if line.strip():
                yield line.rstrip(), None, None
        if image_id:
            yield None, image_id, None


def smoke_test(
    client: DockerClient,
    image: str,
    model_dir: Path,
    *,
    payload: dict[str, Any] | None = None,
    timeout_s: float = 180.0,
    keep_running: bool = False,
    on_log: LogCallback | None = None,
) -> SmokeResult:
    """Run `image` locked down, wait for its HEALTHCHECK, and compare one prediction.

    `payload` is an MLflow /invocations body; by default the model's own
    `serving_input_example.json`. Raises `ContainerSmokeError` with the container's log kept.
    """
    from docker.errors import DockerException

    log = on_log or (lambda _line: None)
    body = payload if payload is not None else _input_example(model_dir)
    try:
        expected = _predict_in_process(model_dir, body)
    except Exception as error:  # the model's own loader: whatever it raises
        reason = f"the model does not predict in this process: {type(error).__name__}: {error}"
        raise ContainerSmokeError(image, reason, None) from error
    try:
        container = _start_locked_down(client, image)
    except DockerException as error:
        raise ContainerSmokeError(image, f"the container did not start: {error}", None) from error
    started = time.monotonic()
    try:
        healthy_after = _wait_healthy(container, started, timeout_s, image, log)
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"][f"{APP_PORT}/tcp"][0]["HostPort"]
        url = f"http://127.0.0.1:{port}"
        log(f"healthy after {healthy_after:.1f} s; POST {url}/invocations")
        answer = _post_json(f"{url}/invocations", body, image)
        got = answer.get("predictions", answer) if isinstance(answer, dict) else answer
        match, difference = _compare(expected, got)
        user = container.exec_run(["id", "-u"]).output.decode().strip()
        group = container.exec_run(["id", "-g"]).output.decode().strip()
        writable = container.exec_run(["touch", "/opt/model/probe"]).exit_code == 0
        if not match:
            raise ContainerSmokeError(
                image,
                f"the container predicted {str(got)[:200]}, in-process {str(expected)[:200]}",
                save_container_log(container),
            )
        return SmokeResult(
            image=image,
            url=url,
            healthy_after_s=round(healthy_after, 2),
            user=f"{user}:{group}",
            read_only_root=not writable,
            rows=len(expected) if isinstance(expected, list) else 1,
            predictions_match=match,
            max_abs_difference=difference,
            container_id=container.id if keep_running else None,
        )
    except ContainerSmokeError as error:
        if error.log_path is not None:
            raise
        raise ContainerSmokeError(image, error.reason, save_container_log(container)) from error
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        raise ContainerSmokeError(image, reason, save_container_log(container)) from error
    finally:
        if not keep_running:
            container.remove(force=True)


def _start_locked_down(client: DockerClient, image: str) -> Any:
    """Run `image` as the Kubernetes manifests run it, its port on 127.0.0.1 only."""
    return client.containers.run(
        image,
        detach=True,
        ports={f"{APP_PORT}/tcp": ("127.0.0.1", None)},
        user=f"{APP_UID}:{APP_UID}",
        read_only=True,
        tmpfs={"/tmp": "rw,nosuid,nodev,size=64m"},  # noqa: S108 - the container's own /tmp
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        mem_limit="2g",
        pids_limit=512,
        labels={SMOKE_LABEL: "1"},
        # The image's own check, polled each second instead of every 10 s.
        healthcheck={"interval": 1_000_000_000, "start_period": 120_000_000_000},
    )


def _wait_healthy(
    container: Any, started: float, timeout_s: float, image: str, log: LogCallback
) -> float:
    last = None
    while True:
        container.reload()
        state = container.attrs.get("State", {})
        status = (state.get("Health") or {}).get("Status")
        if status != last:
            log(f"container {container.short_id}: {state.get('Status')}, health {status}")
            last = status
        if status == "healthy":
            return time.monotonic() - started
        if state.get("Status") in ("exited", "dead") or status == "unhealthy":
            raise ContainerSmokeError(
                image,
                f"the container is {status or state.get('Status')} "
                f"(exit code {state.get('ExitCode')})",
                save_container_log(container),
            )
        if time.monotonic() - started > timeout_s:
            raise ContainerSmokeError(
                image, f"not healthy within {timeout_s:.0f} s", save_container_log(container)
            )
        time.sleep(0.5)


def save_container_log(container: Any) -> Path | None:
    """The container's output, kept in a private file for an error to point at (None when the
    container is gone)."""
    from mlworkbench.tracking.private_dirs import private_temp_dir

    try:
        text = container.logs(stdout=True, stderr=True).decode("utf-8", errors="replace")
    except Exception:  # the container may be gone already
        return None
    path = private_temp_dir("mlworkbench-container-log-") / "container.log"
    path.write_text(text, encoding="utf-8")
    return path


def _input_example(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "serving_input_example.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ContainerSmokeError(
            str(model_dir),
            "the model has no serving_input_example.json to send; log it with an "
            "input_example, or pass a payload",
            None,
        ) from error
    if not isinstance(data, dict):
        raise ContainerSmokeError(
            str(model_dir), "serving_input_example.json is not an object", None
        )
    return data


def _predict_in_process(model_dir: Path, body: dict[str, Any]) -> Any:
    """The model's predictions on `body`, parsed the way MLflow's scoring server parses it."""
    import mlflow.pyfunc
    from mlflow.pyfunc.scoring_server import SUPPORTED_FORMATS, infer_and_parse_data

    model = mlflow.pyfunc.load_model(str(model_dir))
    data = {key: value for key, value in body.items() if key in SUPPORTED_FORMATS}
    parsed = infer_and_parse_data(data, model.metadata.get_input_schema())
    return _jsonable(model.predict(parsed, params=body.get("params")))


def _jsonable(value: Any) -> Any:
    """Predictions as the JSON the server sends (lists of numbers or strings)."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a DataFrame
        return value.to_dict(orient="records")
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _compare(expected: Any, got: Any) -> tuple[bool, float | None]:
    import numpy as np

    try:
        want = np.asarray(expected, dtype=float)
        have = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return expected == got, None
    if want.shape != have.shape:
        return False, None
    difference = float(np.max(np.abs(want - have))) if want.size else 0.0
    return bool(np.allclose(want, have, rtol=1e-6, atol=1e-9)), difference


def _post_json(url: str, body: dict[str, Any], image: str) -> Any:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = error.read()[:500].decode("utf-8", errors="replace")
        reason = f"/invocations answered {error.code}: {detail}"
        raise ContainerSmokeError(image, reason, None) from error
