"""Start the script's process group and stop it: SIGINT, then SIGTERM, then SIGKILL.

The script gets its own session (start_new_session=True), so one signal reaches everything it
started (subprocesses, multiprocessing workers, DataLoader workers), and a Ctrl+C meant for
the launcher's terminal does not reach it uninvited.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from mlworkbench.launch.child.proc_info import process_group, session_members

POLL_S = 0.05


def spawn(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """Start `command` with stdout and stderr going straight into `log_path`."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )


def group_alive(pgid: int) -> bool:
    """True while any non-zombie process of the script's session remains."""
    if Path("/proc").is_dir():
        return bool(session_members(pgid))
    try:  # no /proc: ask the kernel about the process group instead
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def signal_group(pgid: int, signum: int) -> None:
    """Signal the process group, and every session member that moved to a group of its own."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
    for pid in session_members(pgid):
        if process_group(pid) != pgid:  # the group signal has reached the others already
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)


class GroupStopper:
    """Escalates signals to a process group on a background thread; cancel() never blocks."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.requested = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._grace_s: float | None = None

    def cancel(self, grace_s: float) -> None:
        """SIGINT now; SIGTERM after `grace_s` and SIGKILL `grace_s` later, for as long as
        anything in the group is still alive. A second call can only shorten the grace."""
        with self._lock:
            first = not self.requested.is_set()
            self.requested.set()
            if first:
                signal_group(self.pgid, signal.SIGINT)
            if self._grace_s is None or grace_s < self._grace_s:
                self._grace_s = max(0.0, grace_s)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._escalate, name=f"stop-{self.pgid}", daemon=True
                )
                self._thread.start()

    def _grace(self) -> float:
        with self._lock:
            return self._grace_s if self._grace_s is not None else 0.0

    def _escalate(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGKILL):
            started = time.monotonic()
            while group_alive(self.pgid) and time.monotonic() - started < self._grace():
                time.sleep(POLL_S)
            if not group_alive(self.pgid):
                return
            signal_group(self.pgid, signum)
        deadline = time.monotonic() + 5.0  # SIGKILL cannot be refused; give the kernel a moment
        while group_alive(self.pgid) and time.monotonic() < deadline:
            time.sleep(POLL_S)

    def join(self, timeout_s: float | None = None) -> None:
        """Wait until the escalation has finished (the group is gone or was SIGKILLed)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
