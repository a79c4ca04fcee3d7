"""A report made by the CLI in a process of its own, for the language server.

Loading a model runs its code and a report holds a data set in memory: in the server's process
a bad pickle or a 2 GB CSV would take the editor's language features down with it. So the
server runs the same `mlworkbench report …` verb a person would (`cli_child`), and reads the
document from its stdout. A typed error in the child comes back as the same typed error here.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlworkbench.cli_child import (
    CANCEL_GRACE_S,
    ERROR_PREFIX,
    ChildError,
    child_env,
    command,
    run_cli,
)
from mlworkbench.cli_child import error_line as report_error_line
from mlworkbench.reports.report_errors import ReportProcessError

__all__ = [
    "CANCEL_GRACE_S",
    "ERROR_PREFIX",
    "ChildError",
    "child_env",
    "command",
    "report_error_line",
    "run_report",
]


def _is_report(payload: Any) -> bool:
    return isinstance(payload, dict) and "document" in payload


def _failure(reason: str, output: str) -> ReportProcessError:
    if reason.startswith("its output was not"):
        reason = "its output was not a report"
    return ReportProcessError(reason, output)


def run_report(
    argv: Sequence[str],
    *,
    workspace: Path,
    env: Mapping[str, str],
    on_progress: Callable[[str], None] = lambda message: None,
    cancelled: threading.Event | None = None,
    python: str = sys.executable,
) -> dict[str, Any]:
    """Run `mlworkbench <argv> --json --progress json` and return its JSON payload.

    Raises the child's typed error (`ChildError` with its code), or `ReportProcessError` when
    it ended without one (a crash, a kill, a cancel).
    """
    return run_cli(
        argv,
        workspace=workspace,
        env=env,
        failure=_failure,
        accept=_is_report,
        on_progress=on_progress,
        cancelled=cancelled,
        python=python,
    )
