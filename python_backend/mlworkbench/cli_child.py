"""Run an `mlworkbench` verb in a process of its own and read its JSON answer, for the server.

Work that loads a model, holds a data set or drives a Docker build would take the editor's
language features down with it if it crashed or hung in the server's process. So the server
runs the very verb a person would, with `--json` and JSON progress, in its own session (a
cancel stops everything it started), and reads one JSON document from its stdout. On stderr a
child in JSON progress mode writes progress steps, its typed error as an `mlworkbench-error:`
line (cli.py), and plain lines (a build log) that the caller may stream.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlworkbench.errors import MlWorkbenchError

ERROR_PREFIX = "mlworkbench-error: "
PROGRESS_ENV = "MLWORKBENCH_PROGRESS"  # = reports.report_progress.PROGRESS_ENV
CANCEL_GRACE_S = 2.0
_TAIL_LINES = 20

# The package's parent folder: the child imports this very copy of mlworkbench (the one the
# server runs from, e.g. the .vsix's bundled copy), whatever else the interpreter has.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
_ENTRY = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from mlworkbench.cli import main; sys.exit(main(sys.argv[1:]))"
)

# (reason, the child's last lines) -> the error to raise when it ended without a typed one.
FailureFactory = Callable[[str, str], MlWorkbenchError]


class ChildError(MlWorkbenchError):
    """A typed error the child reported, carried over with its own code and data."""

    code = "REPORT_FAILED"  # replaced by the child's own code

    def __init__(self, code: str, message: str, data: Mapping[str, object]) -> None:
        super().__init__(message)
        self.code = code
        self._data = dict(data)

    @property
    def data(self) -> dict[str, object]:
        return self._data


def error_line(error: MlWorkbenchError) -> str:
    """The line the CLI writes on stderr in JSON progress mode so the parent can re-raise it."""
    payload = {"code": error.code, "message": error.message, "data": error.data}
    return ERROR_PREFIX + json.dumps(payload, default=str)


def command(python: str, argv: Sequence[str]) -> list[str]:
    return [python, "-c", _ENTRY, _PACKAGE_ROOT, *argv]


def run_cli(
    argv: Sequence[str],
    *,
    workspace: Path,
    env: Mapping[str, str],
    failure: FailureFactory,
    accept: Callable[[Any], bool] = lambda payload: isinstance(payload, dict),
    on_progress: Callable[[str], None] = lambda message: None,
    on_line: Callable[[str], None] | None = None,
    cancelled: threading.Event | None = None,
    cancel_grace_s: float = CANCEL_GRACE_S,
    python: str = sys.executable,
    after: Sequence[str] = (),
    exit_ok: Collection[int] = (0,),
) -> dict[str, Any]:
    """Run `mlworkbench <argv> --json --workspace W <after>` with JSON progress; its JSON
    payload.

    `after` comes behind the options this adds (a script's own arguments after `--`, which
    must stay last). `exit_ok` are the exit statuses whose stdout is still the answer (a sweep
    whose trials all failed exits 1 with its document). `on_line` gets each plain stderr line
    as it comes (progress and error lines aside); the last lines also go into the failure's
    output. `accept` checks the payload's shape. Raises
    the child's typed error (`ChildError` with its code), or `failure(reason, output)` when it
    ended without one: a crash, a kill, a cancel, or output that `accept` refuses.
    """
    from mlworkbench.launch.process_group import GroupStopper
    from mlworkbench.reports import report_progress

    child_env = {**env, PROGRESS_ENV: "json", "PYTHONUNBUFFERED": "1"}
    child_env.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    process = subprocess.Popen(
        command(python, [*argv, "--json", "--workspace", str(workspace), *after]),
        cwd=workspace,
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        close_fds=True,
    )
    stopper = GroupStopper(process.pid)
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    errors: list[dict[str, Any]] = []

    def read_stderr() -> None:
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            step = report_progress.parse(line)
            if step is not None:
                on_progress(step)
                continue
            if line.startswith(ERROR_PREFIX):
                try:
                    errors.append(json.loads(line[len(ERROR_PREFIX) :]))
                    continue
                except ValueError:
                    pass
            tail.append(line)
            if on_line is not None:
                on_line(line)

    def watch_cancel() -> None:
        if cancelled is not None:
            while process.poll() is None:
                if cancelled.wait(0.1):
                    stopper.cancel(cancel_grace_s)
                    return

    reader = threading.Thread(target=read_stderr, name="cli-child-stderr", daemon=True)
    watcher = threading.Thread(target=watch_cancel, name="cli-child-cancel", daemon=True)
    reader.start()
    watcher.start()
    assert process.stdout is not None
    stdout = process.stdout.read()
    status = process.wait()
    reader.join(5.0)
    if cancelled is not None and cancelled.is_set():
        stopper.join(cancel_grace_s * 2 + 5)  # what it started is gone before we answer
        raise failure("it was cancelled", "\n".join(tail))
    if errors:
        error = errors[-1]
        raise ChildError(str(error.get("code")), str(error.get("message")), error.get("data") or {})
    output = "\n".join(tail)
    if status not in exit_ok:
        reason = (
            f"its process was killed by signal {-status}"
            + (" (out of memory?)" if status == -9 else "")
            if status < 0
            else f"its process exited with status {status}"
        )
        raise failure(reason, output)
    try:
        payload = json.loads(stdout)
    except ValueError as error:
        raise failure("its output was not JSON", output) from error
    if not accept(payload):
        raise failure("its output was not what the command answers", output)
    return dict(payload)


def child_env(base: Mapping[str, str], tracking_uri: str) -> dict[str, str]:
    """The child's environment: the server's, pointed at the workspace's store, with the
    tracking token only when that store is the token's own server."""
    from mlworkbench.tracking.tracking_token import child_token_env

    env = child_token_env(dict(base), tracking_uri)
    env.pop("MLFLOW_RUN_ID", None)
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    return env
