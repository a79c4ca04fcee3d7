"""Typed errors the library raises for problems a user can fix.

Callers branch on the class or on `code` (the server maps it to a structured LSP error, the CLI to
`error: …` and exit status 2), never on the message text, which is written for people.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class MlWorkbenchError(Exception):
    """Base of every error the user can act on; anything else is a bug in ML Workbench."""

    code: str = "MLWORKBENCH_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def data(self) -> dict[str, object]:
        """JSON-able details for machine consumers (LSP `ResponseError.data`)."""
        return {}


class ScriptNotFoundError(MlWorkbenchError):
    """The script to analyse or run is not a file (missing, or a directory)."""

    code = "SCRIPT_NOT_FOUND"

    def __init__(self, path: Path, reason: str = "no such file") -> None:
        super().__init__(f"cannot open script {path}: {reason}; check the path")
        self.path = path

    @property
    def data(self) -> dict[str, object]:
        return {"path": str(self.path)}


class ScriptNotReadableError(MlWorkbenchError):
    """The script exists but the OS refused to read it (permissions, I/O error)."""

    code = "SCRIPT_NOT_READABLE"

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot read script {path}: {reason}; check its permissions")
        self.path = path

    @property
    def data(self) -> dict[str, object]:
        return {"path": str(self.path)}


class ScriptNotDecodableError(MlWorkbenchError):
    """The script's bytes do not decode with the encoding Python itself would use."""

    code = "SCRIPT_NOT_DECODABLE"

    def __init__(
        self, path: Path, encoding: str, byte_offset: int | None, detail: str | None = None
    ) -> None:
        where = f" at byte offset {byte_offset}" if byte_offset is not None else ""
        reason = detail or f"it is not valid {encoding}{where}"
        super().__init__(
            f"cannot decode script {path}: {reason}; save it as UTF-8 or declare its encoding "
            "with a coding cookie such as '# -*- coding: latin-1 -*-' on the first line"
        )
        self.path = path
        self.encoding = encoding
        self.byte_offset = byte_offset

    @property
    def data(self) -> dict[str, object]:
        return {"path": str(self.path), "encoding": self.encoding, "byte_offset": self.byte_offset}


class UnknownExtraError(MlWorkbenchError):
    """An extra name that `mlworkbench[...]` does not define was asked for."""

    code = "UNKNOWN_EXTRA"

    def __init__(self, unknown: Sequence[str], valid: Sequence[str]) -> None:
        super().__init__(
            f"unknown extra {', '.join(repr(u) for u in unknown)}; "
            f"valid extras are: {', '.join(valid)}"
        )
        self.unknown = list(unknown)
        self.valid = list(valid)

    @property
    def data(self) -> dict[str, object]:
        return {"unknown": self.unknown, "valid": self.valid}


class ScriptOutsideWorkspaceError(MlWorkbenchError):
    """The script to run does not lie inside the workspace (after resolving symlinks).

    Runs are tracked in the workspace's store with paths relative to it; a script elsewhere
    would make the run's provenance point outside what the user version-controls.
    """

    code = "SCRIPT_OUTSIDE_WORKSPACE"

    def __init__(self, script: Path, workspace: Path) -> None:
        super().__init__(
            f"script {script} is outside the workspace {workspace}; move it into the workspace "
            "or open its folder as the workspace"
        )
        self.script = script
        self.workspace = workspace

    @property
    def data(self) -> dict[str, object]:
        return {"path": str(self.script), "workspace": str(self.workspace)}


class TrackingUnavailableError(MlWorkbenchError):
    """The tracking URI names a server that does not answer (closed port, unknown host)."""

    code = "TRACKING_UNAVAILABLE"

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(
            f"cannot reach the MLflow tracking server at {uri}: {reason}; start the server or "
            "point MLFLOW_TRACKING_URI (or the mlWorkbench tracking setting) at one that runs"
        )
        self.uri = uri

    @property
    def data(self) -> dict[str, object]:
        return {"uri": self.uri}


class TrackingStoreReadOnlyError(MlWorkbenchError):
    """The tracking store or its artifact folder cannot be written to."""

    code = "TRACKING_STORE_READ_ONLY"

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"cannot write to the tracking store at {path}: {reason}; make the folder writable "
            "or set MLFLOW_TRACKING_URI to a writable location"
        )
        self.path = path

    @property
    def data(self) -> dict[str, object]:
        return {"path": str(self.path)}


class TrackingStoreCorruptError(MlWorkbenchError):
    """The SQLite tracking store is damaged, not SQLite, or not an MLflow database.

    ML Workbench never repairs, overwrites or migrates such a file: it may be the user's only
    copy of their runs, or another program's database that happens to have the same name.
    """

    code = "TRACKING_STORE_CORRUPT"

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"the tracking store {path} cannot be used: {reason}; it was left untouched. Move it "
            "away (or restore a backup) to start a new store, or set MLFLOW_TRACKING_URI to "
            "another store"
        )
        self.path = path
        self.reason = reason

    @property
    def data(self) -> dict[str, object]:
        return {"path": str(self.path), "reason": self.reason}


class MissingPackageError(MlWorkbenchError):
    """The interpreter that runs scripts lacks a package a feature needs (mlflow for runs)."""

    code = "MISSING_PACKAGE"

    def __init__(self, package: str, python: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed for {python}; install it with "
            f"'{python} -m pip install \"mlworkbench[{extra}]\"' or select another interpreter"
        )
        self.package = package
        self.python = python
        self.extra = extra

    @property
    def data(self) -> dict[str, object]:
        return {"package": self.package, "python": self.python, "extra": self.extra}


class RunStartError(MlWorkbenchError):
    """The run's process ended before its MLflow run existed, for a reason not covered above.

    `output` is what the process printed, so the user sees MLflow's own explanation.
    """

    code = "RUN_START_FAILED"

    def __init__(self, reason: str, output: str = "") -> None:
        detail = f"\n{output.rstrip()}" if output.strip() else ""
        super().__init__(f"the run could not start: {reason}{detail}")
        self.reason = reason
        self.output = output

    @property
    def data(self) -> dict[str, object]:
        return {"reason": self.reason, "output": self.output}


class InvalidFilterError(MlWorkbenchError):
    """A run filter or order-by key could not be parsed or cannot be expressed for MLflow.

    `position` is the 0-based character offset in `query` where the problem was found (None
    for problems of the whole filter, such as expanding into too many MLflow queries).
    """

    code = "INVALID_FILTER"

    def __init__(self, reason: str, query: str, position: int | None) -> None:
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"invalid filter: {reason}{where}")
        self.reason = reason
        self.query = query
        self.position = position

    @property
    def data(self) -> dict[str, object]:
        return {"reason": self.reason, "query": self.query, "position": self.position}


class UnknownExperimentError(MlWorkbenchError):
    """An experiment was asked for by a name the tracking store does not have (or has deleted)."""

    code = "UNKNOWN_EXPERIMENT"

    def __init__(self, name: str, known: Sequence[str]) -> None:
        names = ", ".join(repr(k) for k in known) or "none"
        super().__init__(f"no active experiment named {name!r}; known experiments: {names}")
        self.name = name
        self.known = list(known)

    @property
    def data(self) -> dict[str, object]:
        return {"name": self.name, "known": self.known}


class RunNotFoundError(MlWorkbenchError):
    """A run id the store does not have (mistyped, or from another tracking store)."""

    code = "RUN_NOT_FOUND"

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"no run {run_id!r} in this tracking store; check the id (`mlworkbench runs list`)"
        )
        self.run_id = run_id

    @property
    def data(self) -> dict[str, object]:
        return {"runId": self.run_id}


class ExperimentDeletedError(MlWorkbenchError):
    """The run belongs to an experiment that was deleted (its runs are hidden until restored)."""

    code = "EXPERIMENT_DELETED"

    def __init__(self, experiment_id: str, name: str) -> None:
        super().__init__(
            f"experiment {name!r} (id {experiment_id}) is deleted; restore it with "
            f"'mlflow experiments restore --experiment-id {experiment_id}' to open its runs"
        )
        self.experiment_id = experiment_id
        self.name = name

    @property
    def data(self) -> dict[str, object]:
        return {"experimentId": self.experiment_id, "name": self.name}


class ArtifactPathRefusedError(MlWorkbenchError):
    """An artifact path that could reach outside the run's artifact folder, so it is not read.

    MLflow itself had several path-traversal CVEs (`..`, percent-encoded dots, absolute paths):
    a path from a webview or a command line is checked before any file is opened.
    """

    code = "ARTIFACT_PATH_REFUSED"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            f"artifact path {path!r} refused: {reason}; use the path relative to the run's "
            "artifact root exactly as the artifact list shows it (e.g. 'model/MLmodel')"
        )
        self.path = path
        self.reason = reason

    @property
    def data(self) -> dict[str, object]:
        return {"path": self.path, "reason": self.reason}


class ArtifactNotFoundError(MlWorkbenchError):
    """The run has no artifact at the path asked for."""

    code = "ARTIFACT_NOT_FOUND"

    def __init__(self, run_id: str, path: str) -> None:
        super().__init__(
            f"run {run_id} has no artifact {path!r}; list its artifacts with "
            f"'mlworkbench runs show {run_id}'"
        )
        self.run_id = run_id
        self.path = path

    @property
    def data(self) -> dict[str, object]:
        return {"runId": self.run_id, "path": self.path}


class InvalidRunEditError(MlWorkbenchError):
    """A rename, note, tag, delete or restore that cannot be applied as asked; nothing changed."""

    code = "INVALID_RUN_EDIT"

    def __init__(self, run_id: str, reason: str) -> None:
        super().__init__(f"cannot edit run {run_id}: {reason}")
        self.run_id = run_id
        self.reason = reason

    @property
    def data(self) -> dict[str, object]:
        return {"runId": self.run_id, "reason": self.reason}


class TrackingStoreTooNewError(MlWorkbenchError):
    """The SQLite store's schema revision is unknown to this MLflow: a newer MLflow wrote it.

    Opening it anyway would make MLflow suggest `mlflow db upgrade`, which cannot help; the file
    is left untouched.
    """

    code = "TRACKING_STORE_TOO_NEW"

    def __init__(self, path: Path, revision: str) -> None:
        super().__init__(
            f"the tracking store {path} was written by a newer MLflow (schema revision "
            f"{revision} is unknown to this one); it was left untouched. Upgrade mlflow in the "
            "selected interpreter, or set MLFLOW_TRACKING_URI to another store"
        )
        self.path = path
        self.revision = revision

    @property
    def data(self) -> dict[str, object]:
        return {"path": str(self.path), "revision": self.revision}


class NetworkRefusedError(MlWorkbenchError):
    """A read in a workspace that is not trusted would reach a location off this machine.

    A repository can ship a store whose experiments, artifacts or models name any host (an
    attacker's, a cloud bucket read with the user's credentials): Restricted Mode reads only
    files on this machine, so such a location is refused before anything connects to it.
    """

    code = "NETWORK_REFUSED"

    def __init__(self, location: str, what: str) -> None:
        location = _without_credentials(location)
        super().__init__(
            f"{what} is at {location}, off this machine; ML Workbench contacts no network "
            "location in Restricted Mode. Trust the workspace (Manage Workspace Trust) if you "
            "trust where it points"
        )
        self.location = location
        self.what = what

    @property
    def data(self) -> dict[str, object]:
        return {"location": self.location, "what": self.what}


def _without_credentials(location: str) -> str:
    """The location with any `user:password@` removed: messages end up in logs and on screen."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(location)
    if "@" not in parts.netloc:
        return location
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class PrivateFolderRefusedError(MlWorkbenchError):
    """A folder ML Workbench would write in is a symlink, not a folder, or someone else's.

    A repository can ship such a path (e.g. `.mlworkbench/artifacts/<run>` linking to `.git`), and
    on a shared machine another user can create it first: writing there would overwrite files the
    link names or hand our files to that user, so nothing is written.
    """

    code = "PRIVATE_FOLDER_REFUSED"

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"refusing to write in {path}: {reason}; remove it (ML Workbench creates this folder "
            "itself) and try again"
        )
        self.path = path
        self.reason = reason

    @property
    def data(self) -> dict[str, object]:
        return {"path": str(self.path), "reason": self.reason}
