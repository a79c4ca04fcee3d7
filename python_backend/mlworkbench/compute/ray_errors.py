"""Typed errors of Ray compute targets: the cluster, the job's working directory, tracking.

Each has a `code` the language server maps to a protocol error code (1093-1098) and a message
that says what to do, so the editor offers the fix without reading the text.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlworkbench.errors import MlWorkbenchError


class ComputeTargetUnreachableError(MlWorkbenchError):
    """A Ray dashboard address did not answer (in time), or refused our credentials."""

    code = "COMPUTE_TARGET_UNREACHABLE"

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(
            f"the Ray cluster at {address} is not reachable: {reason}; check the address and "
            f"that the cluster runs (`mlworkbench compute status --address {address}`)"
        )
        self.address = address
        self.reason = reason

    @property
    def data(self) -> dict[str, object]:
        return {"address": self.address, "reason": self.reason}


class WorkingDirTooLargeError(MlWorkbenchError):
    """The workspace to upload is over the limit after the excludes: nothing was uploaded."""

    code = "WORKING_DIR_TOO_LARGE"

    def __init__(self, size_mb: float, limit_mb: int, biggest: Sequence[tuple[str, int]]) -> None:
        folders = ", ".join(f"{name} ({size / 1e6:.1f} MB)" for name, size in biggest)
        super().__init__(
            f"the workspace to upload is {size_mb:.1f} MB after excludes, over the "
            f"{limit_mb} MB limit; biggest: {folders or 'none'}. Add the data folders to "
            ".gitignore (they are then left out) or raise the limit"
        )
        self.size_mb = size_mb
        self.limit_mb = limit_mb
        self.biggest = list(biggest)

    @property
    def data(self) -> dict[str, object]:
        return {
            "sizeMb": round(self.size_mb, 1),
            "limitMb": self.limit_mb,
            "biggest": [{"path": name, "bytes": size} for name, size in self.biggest],
        }


class TrackingServerRequiredError(MlWorkbenchError):
    """A Ray job cannot write to this machine's file or SQLite store: it needs a server."""

    code = "TRACKING_SERVER_REQUIRED"

    def __init__(self, tracking_uri: str | None) -> None:
        shown = tracking_uri or "the workspace's local store"
        super().__init__(
            f"a run on a Ray cluster must track to an MLflow tracking server, not {shown}; "
            "start one with `mlworkbench server start`, or pass --tracking-uri / set "
            "MLFLOW_TRACKING_URI to a tracking server's http(s):// URI"
        )
        self.tracking_uri = tracking_uri

    @property
    def data(self) -> dict[str, object]:
        return {"trackingUri": self.tracking_uri}


class RayNotInstalledError(MlWorkbenchError):
    """The interpreter running ML Workbench has no `ray` (the optional extra)."""

    code = "RAY_NOT_INSTALLED"

    def __init__(self, detail: str = "") -> None:
        suffix = f" ({detail})" if detail else ""
        super().__init__(
            f"Ray is not installed in this interpreter{suffix}; install it with "
            "`pip install 'mlworkbench[ray]'`"
        )

    @property
    def data(self) -> dict[str, object]:
        return {"install": "pip install 'mlworkbench[ray]'"}


class RayClusterStartFailedError(MlWorkbenchError):
    """`ray start --head` failed or its dashboard never answered."""

    code = "RAY_CLUSTER_START_FAILED"

    def __init__(self, reason: str, log_tail: str) -> None:
        super().__init__(f"the local Ray cluster did not start: {reason}\n{log_tail}".rstrip())
        self.reason = reason
        self.log_tail = log_tail

    @property
    def data(self) -> dict[str, object]:
        return {"reason": self.reason, "logTail": self.log_tail}


class InvalidComputeTargetError(MlWorkbenchError):
    """A target that is neither `local`, `ray` nor an http(s)://host:port address, or `ray`
    with no local cluster running."""

    code = "INVALID_COMPUTE_TARGET"

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"invalid compute target {target!r}: {reason}")
        self.target = target
        self.reason = reason

    @property
    def data(self) -> dict[str, object]:
        return {"target": self.target}
