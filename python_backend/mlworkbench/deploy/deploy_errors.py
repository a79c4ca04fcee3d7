"""Typed errors of the container build, its smoke test and the generated manifests/workflows.

Each says what to do next; the server maps `code` like every `MlWorkbenchError`, and `data`
carries the paths (build log, container log) an editor can open.
"""

from __future__ import annotations

from pathlib import Path

from mlworkbench.errors import MlWorkbenchError


class InvalidImageReferenceError(MlWorkbenchError):
    """An image tag or base image that Docker would refuse: checked before anything runs."""

    code = "INVALID_IMAGE_REFERENCE"

    def __init__(self, what: str, value: str, reason: str) -> None:
        super().__init__(
            f"invalid {what} {value!r}: {reason}; use NAME[:TAG] in lower case, e.g. "
            "'credit-model:1.0' or 'registry.example.com/team/credit-model:1.0'"
        )
        self.what = what
        self.value = value
        self.reason = reason

    @property
    def data(self) -> dict[str, object]:
        return {"what": self.what, "value": self.value, "reason": self.reason}


class InvalidResourceNameError(MlWorkbenchError):
    """A Kubernetes object name that the API server would refuse (DNS-1035 label)."""

    code = "INVALID_RESOURCE_NAME"

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(
            f"invalid Kubernetes name {value!r}: {reason}; use at most 63 lower-case letters, "
            "digits and '-', starting with a letter and ending with a letter or digit"
        )
        self.value = value
        self.reason = reason

    @property
    def data(self) -> dict[str, object]:
        return {"value": self.value, "reason": self.reason}


class DeployModelError(MlWorkbenchError):
    """The model folder to package is not an MLflow model we can copy safely."""

    code = "DEPLOY_MODEL_INVALID"

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"cannot package the model at {path}: {reason}; point --model at a folder holding "
            "an MLmodel file (or use --run with a run that logged a model)"
        )
        self.path = path
        self.reason = reason

    @property
    def data(self) -> dict[str, object]:
        return {"path": str(self.path), "reason": self.reason}


class WheelhouseError(MlWorkbenchError):
    """pip could not download or build the wheels the image installs (offline, no wheel...)."""

    code = "WHEELHOUSE_FAILED"

    def __init__(self, reason: str, log_path: Path | None) -> None:
        where = f" (pip's output: {log_path})" if log_path else ""
        super().__init__(
            f"could not gather the wheels for the image: {reason}{where}; check the package "
            "index is reachable from this machine (pip config list) and that every requirement "
            "has a wheel for the image's Python"
        )
        self.reason = reason
        self.log_path = log_path

    @property
    def data(self) -> dict[str, object]:
        return {"reason": self.reason, "logPath": str(self.log_path) if self.log_path else None}


class OutputExistsError(MlWorkbenchError):
    """A file or folder we would write already exists and was not made by us."""

    code = "OUTPUT_EXISTS"

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(
            f"{what} {path} already exists and was left as it is; pass --force to overwrite it "
            "or choose another path"
        )
        self.path = path
        self.what = what

    @property
    def data(self) -> dict[str, object]:
        return {"path": str(self.path), "what": self.what}


class DockerUnavailableError(MlWorkbenchError):
    """No Docker engine answers where we looked (no socket, daemon stopped, refused)."""

    code = "DOCKER_UNAVAILABLE"

    def __init__(self, base_url: str, reason: str) -> None:
        super().__init__(
            f"no Docker engine at {base_url}: {reason}; start Docker (e.g. 'sudo systemctl "
            "start docker'), or set DOCKER_HOST to the engine's socket"
        )
        self.base_url = base_url
        self.reason = reason

    @property
    def data(self) -> dict[str, object]:
        return {"baseUrl": self.base_url, "reason": self.reason}


class DockerPermissionError(MlWorkbenchError):
    """The Docker socket exists but this user may not use it."""

    code = "DOCKER_PERMISSION_DENIED"

    def __init__(self, base_url: str) -> None:
        super().__init__(
            f"permission denied on the Docker socket {base_url}; add your user to the 'docker' "
            "group ('sudo usermod -aG docker $USER', then log in again) or use rootless Docker "
            "and point DOCKER_HOST at its socket"
        )
        self.base_url = base_url

    @property
    def data(self) -> dict[str, object]:
        return {"baseUrl": self.base_url}


class ImageBuildError(MlWorkbenchError):
    """`docker build` stopped at a step; the image was not tagged and the log was kept."""

    code = "IMAGE_BUILD_FAILED"

    def __init__(self, reason: str, log_path: Path) -> None:
        super().__init__(f"the image build failed: {reason}; the whole build log is in {log_path}")
        self.reason = reason
        self.log_path = log_path

    @property
    def data(self) -> dict[str, object]:
        return {"reason": self.reason, "logPath": str(self.log_path)}


class ContainerSmokeError(MlWorkbenchError):
    """The built image did not become healthy, or its predictions differ from in-process ones."""

    code = "CONTAINER_SMOKE_FAILED"

    def __init__(self, image: str, reason: str, log_path: Path | None) -> None:
        where = f"; the container's log is in {log_path}" if log_path else ""
        super().__init__(f"the smoke test of {image} failed: {reason}{where}")
        self.image = image
        self.reason = reason
        self.log_path = log_path

    @property
    def data(self) -> dict[str, object]:
        return {
            "image": self.image,
            "reason": self.reason,
            "logPath": str(self.log_path) if self.log_path else None,
        }


class InvalidDeployOptionError(MlWorkbenchError):
    """An option of `deploy k8s` or `ci github-actions` that cannot be turned into a file."""

    code = "INVALID_DEPLOY_OPTION"

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"invalid {option}: {reason}")
        self.option = option
        self.reason = reason

    @property
    def data(self) -> dict[str, object]:
        return {"option": self.option, "reason": self.reason}


class ContainerNotFoundError(MlWorkbenchError):
    """A container the request names is not there, is not one of the workbench's, or cannot
    be reached on its published port."""

    code = "CONTAINER_NOT_FOUND"

    def __init__(self, container: str, reason: str) -> None:
        super().__init__(
            f"container {container!r} {reason}; refresh the Deployments view, or list them "
            "with 'mlworkbench deploy list'"
        )
        self.container = container
        self.reason = reason

    @property
    def data(self) -> dict[str, object]:
        return {"container": self.container, "reason": self.reason}


class ContainerStartError(MlWorkbenchError):
    """A workbench image started but did not become healthy (or did not start at all); the
    container was removed and its log kept."""

    code = "CONTAINER_START_FAILED"

    def __init__(self, image: str, reason: str, log_path: Path | None) -> None:
        where = f"; the container's log is in {log_path}" if log_path else ""
        super().__init__(f"the container of {image} did not start serving: {reason}{where}")
        self.image = image
        self.reason = reason
        self.log_path = log_path

    @property
    def data(self) -> dict[str, object]:
        return {
            "image": self.image,
            "reason": self.reason,
            "logPath": str(self.log_path) if self.log_path else None,
        }
