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
