"""Typed errors of a hyper-parameter sweep: a search space the script cannot take.

Raised before the parent run exists, so a mistyped `--param` costs nothing. The server maps
their `code` like every `MlWorkbenchError`.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlworkbench.errors import MlWorkbenchError


class InvalidSweepError(MlWorkbenchError):
    """A `--param` or sweep option that cannot make a search: no values, a duplicate, a value
    of the wrong type, more random trials than combinations."""

    code = "INVALID_SWEEP"

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter

    @property
    def data(self) -> dict[str, object]:
        return {"parameter": self.parameter}


class UnknownSweepParameterError(MlWorkbenchError):
    """A swept name the script does not declare (argparse or click, read by `ast`)."""

    code = "UNKNOWN_SWEEP_PARAMETER"

    def __init__(self, name: str, known: Sequence[str], closest: str | None) -> None:
        hint = f"did you mean '{closest}'?" if closest else "check the spelling"
        listing = ", ".join(known) if known else "none"
        super().__init__(
            f"the script has no parameter '{name}'; {hint} (its parameters: {listing})"
        )
        self.name = name
        self.known = list(known)
        self.closest = closest

    @property
    def data(self) -> dict[str, object]:
        return {"name": self.name, "known": self.known, "closest": self.closest}


class SweepProcessError(MlWorkbenchError):
    """The editor's sweep process ended without its document: cancelled, crashed or killed.
    The end of its output says why; `cancelled` tells a cancel from a failure."""

    code = "SWEEP_FAILED"

    def __init__(self, reason: str, output: str = "", *, cancelled: bool = False) -> None:
        detail = f"\n{output.rstrip()}" if output.strip() and not cancelled else ""
        super().__init__(f"the sweep did not finish: {reason}{detail}")
        self.reason = reason
        self.output = output
        self.cancelled = cancelled

    @property
    def data(self) -> dict[str, object]:
        return {"reason": self.reason, "output": self.output, "cancelled": self.cancelled}
