"""A sweep run by the CLI in a process of its own, for the language server.

A sweep holds a pool of trial processes and a parent run for minutes; in the server's process
a crash or hang would take the editor's language features with it, and a cancel could not
reach everything it started. So the server runs the same `mlworkbench sweep` a person would
(`cli_child`, its own session): a cancel is the SIGINT a Ctrl+C would be, which the sweep turns
into the launcher's cancel of every trial in flight (`commands/sweep.py`).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlworkbench.compute.sweep_errors import SweepProcessError

# The sweep gives each trial 5 s after SIGINT and 5 s more after SIGTERM, then records the
# parent run; only after this long does the server's SIGTERM drop the trials' grace, and a
# SIGKILL of the sweep itself comes as long again after that.
SWEEP_CANCEL_GRACE_S = 15.0
# 0: some trial finished; 1: every trial failed, still with its document (`commands/sweep.py`).
_EXIT_WITH_DOCUMENT = (0, 1)


def _is_sweep(payload: Any) -> bool:
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("parent_run_id"), str)
        and isinstance(payload.get("trials"), list)
    )


def run_sweep(
    argv: Sequence[str],
    *,
    script_args: Sequence[str] = (),
    workspace: Path,
    env: Mapping[str, str],
    on_progress: Callable[[str], None] = lambda message: None,
    cancelled: threading.Event | None = None,
    python: str = sys.executable,
) -> dict[str, Any]:
    """Run `mlworkbench sweep <argv> --json [-- script_args]` and return its JSON document
    (`SweepResult.to_dict()`).

    Raises the child's typed error (UNKNOWN_SWEEP_PARAMETER, INVALID_SWEEP, …, with its code),
    or SweepProcessError when it ended without a document (`cancelled` set when it was a
    cancel).
    """

    def failure(reason: str, output: str) -> SweepProcessError:
        if cancelled is not None and cancelled.is_set():
            return SweepProcessError("it was cancelled", output, cancelled=True)
        if reason.startswith("its output was not"):
            reason = "its output was not a sweep's outcome"
        return SweepProcessError(reason, output)

    from mlworkbench.cli_child import run_cli

    return run_cli(
        ["sweep", *argv],
        workspace=workspace,
        env=env,
        failure=failure,
        accept=_is_sweep,
        on_progress=on_progress,
        cancelled=cancelled,
        cancel_grace_s=SWEEP_CANCEL_GRACE_S,
        python=python,
        # The script's own words go last, after `--`: our --json/--workspace stay ours.
        after=["--", *script_args] if script_args else (),
        exit_ok=_EXIT_WITH_DOCUMENT,
    )
