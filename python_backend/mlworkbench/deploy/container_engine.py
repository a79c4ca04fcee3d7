"""The workbench's images and containers on a Docker engine: list, start, call, read, stop.

Only images the workbench built (those labelled with a model URI by `build_context`) are
listed, started or removed; containers inherit that label. A container starts locked down like
the smoke test's (non-root, read-only root, no capabilities, its port on 127.0.0.1 only) but
requires a bearer token: the image's default `--no-token` argument is replaced by
`--token-file`, a file bind-mounted read-only from a private `mkdtemp` folder. The token stays
in memory (`ContainerTokens`) and the folder goes when the container is stopped. Requests go
only to the 127.0.0.1 URL read from the container's own port mapping. The docker SDK is
imported by `image_build.connect`, inside the functions that need it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlworkbench.deploy.build_context import APP_PORT, APP_UID
from mlworkbench.deploy.deploy_errors import (
    ContainerNotFoundError,
    ContainerStartError,
    DockerPermissionError,
    DockerUnavailableError,
    InvalidDeployOptionError,
)
from mlworkbench.deploy.image_build import (
    DEFAULT_SOCKET,
    SMOKE_LABEL,
    connect,
    save_container_log,
)
from mlworkbench.errors import MissingPackageError

if TYPE_CHECKING:
    from docker import DockerClient

MODEL_URI_LABEL = "io.mlworkbench.model.uri"  # = build_context's labels
FLAVOR_LABEL = "io.mlworkbench.model.flavor"
RUN_ID_LABEL = "io.mlworkbench.model.run-id"
# Where the token file is mounted: the path the Kubernetes manifests mount their Secret at.
TOKEN_IN_CONTAINER = "/var/run/secrets/mlworkbench/token"  # noqa: S105 - a path, not a secret
TOKEN_FOLDER_PREFIX = "mlworkbench-container-token-"  # noqa: S105 - a folder name
DEFAULT_TAIL = 500
START_TIMEOUT_S = 180.0
INVOKE_TIMEOUT_S = 60.0
MAX_ANSWER_BYTES = 16 * 1024 * 1024
EMPTY_SAMPLE: dict[str, Any] = {"dataframe_split": {"columns": [], "data": []}}

EngineStatus = Literal["running", "unavailable", "permission-denied"]
SampleSource = Literal["example", "signature", "none"]


@dataclass(frozen=True)
class EngineState:
    status: EngineStatus
    host: str
    message: str | None = None  # why it cannot be reached
    fix: str | None = None  # what to do about it, one sentence


@dataclass(frozen=True)
class ImageInfo:
    id: str
    tags: list[str]
    size_bytes: int
    created: str
    model_uri: str
    flavor: str
    run_id: str | None


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    name: str
    image: str
    status: str
    url: str | None
    health: str | None
    run_id: str | None


@dataclass(frozen=True)
class StartedContainer:
    info: ContainerInfo
    token: str
    token_dir: Path


@dataclass(frozen=True)
class Invocation:
    status: int
    body: str
    elapsed_ms: float


# --- the engine -------------------------------------------------------------------------------


def engine_host(docker_host: str | None = None) -> str:
    return docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def engine_state(docker_host: str | None = None) -> tuple[EngineState, DockerClient | None]:
    """Whether the engine answers, with a client when it does; never raises for an engine that
    is absent or refuses us (the Deployments view shows the message and the fix instead)."""
    host = engine_host(docker_host)
    try:
        client = connect(docker_host)
    except DockerPermissionError:
        return EngineState(
            "permission-denied",
            host,
            f"Permission denied on the Docker socket {host}.",
            "Add your user to the 'docker' group (sudo usermod -aG docker $USER, then log in "
            "again), or point DOCKER_HOST at a rootless engine's socket.",
        ), None
    except DockerUnavailableError as error:
        return EngineState(
            "unavailable",
            host,
            f"No Docker engine at {host}: {error.reason}.",
            "Start Docker (e.g. sudo systemctl start docker), or set DOCKER_HOST to the "
            "engine's socket, then refresh.",
        ), None
    except MissingPackageError as error:
        return EngineState(
            "unavailable",
            host,
            f"The docker package is not installed for {error.python}.",
            f"Install it with: {error.python} -m pip install 'mlworkbench[deploy]'.",
        ), None
    return EngineState("running", host), client


# --- listing ----------------------------------------------------------------------------------


def list_images(client: DockerClient) -> list[ImageInfo]:
    """The workbench's images, newest first (untagged ones too: a rebuild leaves its old one)."""
    images = [_image_info(image.attrs) for image in client.images.list(filters=_OURS)]
    return sorted(images, key=lambda image: image.created, reverse=True)


def list_containers(client: DockerClient) -> list[ContainerInfo]:
    """Containers of the workbench's images; a smoke test's only while it runs."""
    found = []
    for container in client.containers.list(all=True, filters=_OURS, ignore_removed=True):
        labels = container.attrs.get("Config", {}).get("Labels") or {}
        status = container.attrs.get("State", {}).get("Status", "")
        if SMOKE_LABEL in labels and status != "running":
            continue
        found.append(container_info(container.attrs))
    return found


_OURS = {"label": MODEL_URI_LABEL}


def _image_info(attrs: dict[str, Any]) -> ImageInfo:
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    return ImageInfo(
        id=str(attrs.get("Id", "")),
        tags=[tag for tag in attrs.get("RepoTags") or [] if tag != "<none>:<none>"],
        size_bytes=int(attrs.get("Size") or 0),
        created=str(attrs.get("Created", "")),
        model_uri=str(labels.get(MODEL_URI_LABEL, "")),
        flavor=str(labels.get(FLAVOR_LABEL, "unknown")),
        run_id=labels.get(RUN_ID_LABEL) or None,
    )


def container_info(attrs: dict[str, Any]) -> ContainerInfo:
    """The entry for a container from its `docker inspect` attributes."""
    config = attrs.get("Config") or {}
    state = attrs.get("State") or {}
    labels = config.get("Labels") or {}
    return ContainerInfo(
        id=str(attrs.get("Id", "")),
        name=str(attrs.get("Name", "")).lstrip("/"),
        image=str(config.get("Image", "")),
        status=str(state.get("Status", "")),
        url=published_url(attrs),
        health=(state.get("Health") or {}).get("Status") or None,
        run_id=labels.get(RUN_ID_LABEL) or None,
    )


def published_url(attrs: dict[str, Any]) -> str | None:
    """`http://127.0.0.1:PORT` for the serving port as the engine published it on the host's
    IPv4 loopback (or on all addresses, which include it); None when it is not published.

    Always 127.0.0.1, whatever address the mapping names: nothing here contacts another host.
    """
    ports = ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).get(f"{APP_PORT}/tcp")
    for binding in ports or []:
        host_ip = str(binding.get("HostIp", ""))
        port = str(binding.get("HostPort", ""))
        if host_ip in ("127.0.0.1", "0.0.0.0", "") and port.isdigit():  # noqa: S104
            return f"http://127.0.0.1:{int(port)}"
    return None


def workbench_image(client: DockerClient, image: str) -> dict[str, Any]:
    """The inspect attributes of `image` (an id or tag) when the workbench built it."""
    from docker.errors import ImageNotFound

    try:
        attrs: dict[str, Any] = client.api.inspect_image(image)
    except ImageNotFound:
        attrs = {}
    if MODEL_URI_LABEL not in ((attrs.get("Config") or {}).get("Labels") or {}):
        raise InvalidDeployOptionError(
            f"image {image!r}",
            "the engine has no image of that name or id that ML Workbench built; build one "
            "first (mlworkbench deploy build) or refresh the Deployments view",
        )
    return attrs


def workbench_container(client: DockerClient, container: str) -> Any:
    """The container (a docker SDK object) `container` names, when it runs a workbench image."""
    from docker.errors import NotFound

    try:
        found = client.containers.get(container)
    except NotFound:
        raise ContainerNotFoundError(container, "does not exist (any more)") from None
    if MODEL_URI_LABEL not in (found.attrs.get("Config", {}).get("Labels") or {}):
        raise ContainerNotFoundError(container, "does not run an image ML Workbench built")
    return found


# --- tokens -----------------------------------------------------------------------------------


class ContainerTokens:
    """The tokens of the containers this process started (container id -> token, folder).

    The folder holding the mounted token file goes when its container is stopped, or when the
    process ends (`close`): a running container keeps the file it mounted, nothing else does.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, Path]] = {}

    def add(self, started: StartedContainer) -> None:
        with self._lock:
            self._tokens[started.info.id] = (started.token, started.token_dir)

    def token_of(self, container_id: str) -> str | None:
        with self._lock:
            entry = self._tokens.get(container_id)
        return entry[0] if entry else None

    def __contains__(self, container_id: object) -> bool:
        with self._lock:
            return container_id in self._tokens

    def forget(self, container_id: str) -> None:
        with self._lock:
            entry = self._tokens.pop(container_id, None)
        if entry is not None:
            shutil.rmtree(entry[1], ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            ids = list(self._tokens)
        for container_id in ids:
            self.forget(container_id)


@dataclass(frozen=True)
class TokenFilePlan:
    """How the token file is made readable by the container's user, and by nobody else."""

    mode: int
    owner: tuple[int, int] | None  # chown to (uid, gid) first
    group_add: list[str]  # supplementary groups of the container's process


def token_file_plan(euid: int, egid: int, rootless: bool) -> TokenFilePlan:
    """The file lives in a 0700 folder of ours, so on the host only we reach it; inside the
    container it must pass `serving_access.read_token_file`'s check (no read bit for a group
    the server is not in, none for others) and still be readable by uid APP_UID:

    - as root: owned by APP_UID, mode 0400;
    - as a user of a rootful engine: our group, mode 0440, and that group added to the
      container's process (ids are the host's there);
    - with a rootless engine our ids are the container's root, which APP_UID is not: mode 0444
      (the server then warns that others could read it; in the container nobody else runs).
    """
    if euid == 0:
        return TokenFilePlan(0o400, (APP_UID, APP_UID), [])
    if rootless or egid == 0:
        return TokenFilePlan(0o444, None, [])
    return TokenFilePlan(0o440, None, [str(egid)])


def _write_token(token: str, folder: Path, plan: TokenFilePlan) -> Path:
    from mlworkbench.deploy.serving_access import write_token_file

    path = write_token_file(token, folder)
    if plan.owner is not None:
        os.chown(path, *plan.owner)
    os.chmod(path, plan.mode)
    return path


def _is_rootless(client: DockerClient) -> bool:
    try:
        options = client.info().get("SecurityOptions") or []
    except Exception:  # an engine that will not say: assume the common, rootful case
        return False
    return any("name=rootless" in str(option) for option in options)


# --- start, stop, remove, logs ----------------------------------------------------------------


def container_name(image: str, suffix: str) -> str:
    """A container's name that says what it serves: the image's last path component and tag
    (`credit-model-1.0-3fa2c1` for `registry.local/team/credit-model:1.0`), in Docker's name
    alphabet, unique by `suffix`."""
    if image.startswith("sha256:"):  # an untagged image, by id
        return f"image-{image.removeprefix('sha256:')[:12]}-{suffix}"
    name = image.rsplit("/", 1)[-1]
    if "@" in name:
        name = name.split("@", 1)[0]
    slug = re.sub(r"[^a-zA-Z0-9_.-]+", "-", name).strip("-._")[:40] or "model"
    return f"{slug}-{suffix}"


def start_container(
    client: DockerClient,
    image: str,
    *,
    timeout_s: float = START_TIMEOUT_S,
    cancelled: threading.Event | None = None,
    on_log: Callable[[str], None] | None = None,
) -> StartedContainer:
    """Run a workbench image locked down, requiring a new bearer token, and wait until its
    HEALTHCHECK passes. `ContainerStartError` (container removed, log kept) when it does not
    within `timeout_s`, exits, or `cancelled` is set."""
    from docker.errors import DockerException

    from mlworkbench.deploy.serving_access import new_token

    attrs = workbench_image(client, image)
    tags = [tag for tag in attrs.get("RepoTags") or [] if tag != "<none>:<none>"]
    log = on_log or (lambda _line: None)
    token = new_token()
    folder = Path(tempfile.mkdtemp(prefix=TOKEN_FOLDER_PREFIX))  # 0700
    try:
        plan = token_file_plan(os.geteuid(), os.getegid(), _is_rootless(client))
        token_file = _write_token(token, folder, plan)
        container = client.containers.run(
            image,
            name=container_name(tags[0] if tags else image, secrets.token_hex(3)),
            command=["--token-file", TOKEN_IN_CONTAINER],
            detach=True,
            ports={f"{APP_PORT}/tcp": ("127.0.0.1", None)},
            user=f"{APP_UID}:{APP_UID}",
            group_add=plan.group_add or None,
            read_only=True,
            tmpfs={"/tmp": "rw,nosuid,nodev,size=64m"},  # noqa: S108 - the container's own /tmp
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            mem_limit="2g",
            pids_limit=512,
            volumes={str(token_file): {"bind": TOKEN_IN_CONTAINER, "mode": "ro"}},
            # The image's own check, every 2 s instead of 10 s, so a start is seen soon.
            healthcheck={"interval": 2_000_000_000, "start_period": 120_000_000_000},
        )
    except DockerException as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise ContainerStartError(image, f"the engine did not run it: {error}", None) from error
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        _wait_healthy(container, image, timeout_s, cancelled, log)
        container.reload()
    except BaseException as error:
        log_path = save_container_log(container)
        container.remove(force=True)
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(error, ContainerStartError):
            raise ContainerStartError(image, error.reason, log_path) from error
        raise
    return StartedContainer(container_info(container.attrs), token, folder)


def _wait_healthy(
    container: Any,
    image: str,
    timeout_s: float,
    cancelled: threading.Event | None,
    log: Callable[[str], None],
) -> None:
    started = time.monotonic()
    last = None
    while True:
        container.reload()
        state = container.attrs.get("State", {})
        health = (state.get("Health") or {}).get("Status")
        if health != last:
            log(f"container {container.short_id}: {state.get('Status')}, health {health}")
            last = health
        if health == "healthy":
            return
        if state.get("Status") in ("exited", "dead") or health == "unhealthy":
            reason = f"it is {health or state.get('Status')} (exit code {state.get('ExitCode')})"
            raise ContainerStartError(image, reason, None)
        if time.monotonic() - started > timeout_s:
            raise ContainerStartError(image, f"not healthy within {timeout_s:.0f} s", None)
        if cancelled is not None and cancelled.wait(0.5):
            raise ContainerStartError(image, "the start was cancelled", None)
        if cancelled is None:
            time.sleep(0.5)


def stop_container(client: DockerClient, container: str, tokens: ContainerTokens | None) -> str:
    """Stop (SIGTERM, then SIGKILL after 10 s) and remove the container; its id."""
    found = workbench_container(client, container)
    found.stop(timeout=10)
    found.remove(force=True)
    if tokens is not None:
        tokens.forget(found.id)
    _remove_token_folder(found.attrs)
    return str(found.id)


def _remove_token_folder(attrs: dict[str, Any]) -> None:
    """The private folder of the token file the container mounted, when it is one of ours
    (`deploy start` in a terminal keeps no registry: it left the folder for the container)."""
    for mount in attrs.get("Mounts") or []:
        if mount.get("Destination") != TOKEN_IN_CONTAINER:
            continue
        folder = Path(str(mount.get("Source", ""))).parent
        ours = folder.parent == Path(tempfile.gettempdir()) and folder.name.startswith(
            TOKEN_FOLDER_PREFIX
        )
        if ours and folder.is_dir() and folder.stat().st_uid == os.geteuid():
            shutil.rmtree(folder, ignore_errors=True)


def remove_image(client: DockerClient, image: str) -> None:
    """Remove a workbench image, or one tag of it; refused while a container uses it."""
    attrs = workbench_image(client, image)
    image_id = attrs["Id"]
    users = [
        c for c in client.containers.list(all=True, filters=_OURS, ignore_removed=True)
        if c.attrs.get("Image") == image_id
    ]  # fmt: skip
    if users:
        names = ", ".join(str(c.name) for c in users)
        raise InvalidDeployOptionError(
            f"image {image!r}",
            f"the container(s) {names} use it; stop them first (mlworkbench deploy stop NAME)",
        )
    # An id removes the image with all its tags; a tag removes that tag (and the image with it
    # when it was the last one), as `docker rmi` does.
    client.images.remove(image, force=_names_id(image, image_id))


def _names_id(image: str, image_id: str) -> bool:
    """Whether `image` is (a prefix of) the image's id rather than one of its tags."""
    if re.fullmatch(r"(sha256:)?[0-9a-f]{12,64}", image) is None:
        return False
    return image_id.removeprefix("sha256:").startswith(image.removeprefix("sha256:"))


def container_logs(client: DockerClient, container: str, tail: int = DEFAULT_TAIL) -> str:
    found = workbench_container(client, container)
    raw: bytes = found.logs(stdout=True, stderr=True, tail=max(1, tail))
    return raw.decode("utf-8", errors="replace")


# --- calling a container ----------------------------------------------------------------------


def invoke(
    client: DockerClient,
    container: str,
    body: str,
    *,
    token: str | None = None,
    tokens: ContainerTokens | None = None,
    timeout_s: float = INVOKE_TIMEOUT_S,
) -> Invocation:
    """POST `body` to the container's /invocations as it is (the container checks it), with
    the bearer token we hold for it or `token`. An HTTP error answer is a result; a container
    that does not answer is `ContainerNotFoundError`."""
    import urllib.error
    import urllib.request

    found = workbench_container(client, container)
    url = published_url(found.attrs)
    if url is None or found.attrs.get("State", {}).get("Status") != "running":
        raise ContainerNotFoundError(container, "is not running with its port published")
    bearer = token or (tokens.token_of(found.id) if tokens is not None else None)
    headers = {"Content-Type": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only (published_url)
        f"{url}/invocations", data=body.encode("utf-8"), headers=headers, method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    started = time.perf_counter()
    try:
        with opener.open(request, timeout=timeout_s) as response:
            status, raw = response.status, response.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read(MAX_ANSWER_BYTES)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ContainerNotFoundError(container, f"did not answer at {url}: {reason}") from error
    elapsed = (time.perf_counter() - started) * 1000
    return Invocation(int(status), raw.decode("utf-8", errors="replace"), round(elapsed, 1))


def sample_request(
    client: DockerClient, container: str, workspace: Path, tracking_uri: str | None = None
) -> tuple[str, SampleSource]:
    """A body for /invocations to start from: the model's input example, else one row built
    from its signature, else an empty frame. Reads JSON and YAML only; loads no model code."""
    from mlworkbench.errors import MlWorkbenchError

    found = workbench_container(client, container)
    uri = str((found.attrs.get("Config", {}).get("Labels") or {}).get(MODEL_URI_LABEL, ""))
    try:
        from mlworkbench.deploy.build_context import resolve_model_folder

        folder, _ = resolve_model_folder(workspace, model=uri, tracking_uri=tracking_uri)
    except MlWorkbenchError:  # the model is not reachable from here: the user writes a body
        folder = None
    if folder is not None:
        sample = model_sample(folder)
        if sample is not None:
            return sample
    return json.dumps(EMPTY_SAMPLE, indent=2), "none"


def model_sample(folder: Path) -> tuple[str, SampleSource] | None:
    """The body from the model folder's `serving_input_example.json`, else from its MLmodel's
    signature; None when it has neither."""
    import yaml

    try:
        example = json.loads((folder / "serving_input_example.json").read_text(encoding="utf-8"))
        return json.dumps(example, indent=2), "example"
    except (OSError, ValueError):
        pass
    try:
        mlmodel = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    body = signature_sample(mlmodel if isinstance(mlmodel, dict) else {})
    return (json.dumps(body, indent=2), "signature") if body is not None else None


# A placeholder value per MLflow column type, for the one row of a signature's sample.
_PLACEHOLDERS: dict[str, object] = {
    "double": 0.0,
    "float": 0.0,
    "long": 0,
    "integer": 0,
    "boolean": False,
    "string": "",
    "datetime": "1970-01-01T00:00:00",
}


def signature_sample(mlmodel: dict[str, Any]) -> dict[str, Any] | None:
    """One row of placeholders for the named columns of the MLmodel's input signature."""
    inputs = (mlmodel.get("signature") or {}).get("inputs")
    try:
        columns = json.loads(inputs) if isinstance(inputs, str) else inputs
    except ValueError:
        return None
    if not isinstance(columns, list) or not columns:
        return None
    if not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in columns):
        return None  # a tensor signature: no column names to fill in
    names = [str(c["name"]) for c in columns]
    row = [_PLACEHOLDERS.get(str(c.get("type"))) for c in columns]
    return {"dataframe_split": {"columns": names, "data": [row]}}
