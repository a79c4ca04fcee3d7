"""Keeps a sweep trial's bootstrap, and what its script started, from outliving the trial.

`python -S ray_trial_guard.py ACTOR_PID FOLDER BOOTSTRAP_COMMAND...`, started by
`ray_tune_entry.run_trial` in the trial's Ray actor, in a session of its own. The bootstrap runs
in a process group of its own too, so that the script's children can be found and ended with it.
When the actor is gone (a stopped job's actors may be killed with SIGKILL, which no handler of
theirs sees: this process is then re-parented, which it checks every `POLL_S`) or this process
gets SIGTERM, it sends SIGTERM to the bootstrap's group, so the bootstrap records its run KILLED
as it does in a run's stopped job, and SIGKILL to whatever is left of the group once the
bootstrap has exited (or after `GRACE_S`); then it removes the trial's FOLDER (the bootstrap's
files), which the actor would have removed. It exits with the bootstrap's status.

Standard library only, run by path: the cluster's interpreter need not have mlworkbench.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from types import FrameType

GRACE_S = 10.0  # the bootstrap records KILLED: a few MLflow calls and the log's upload
POLL_S = 0.1
PR_SET_PDEATHSIG = 1


def _term_with_parent() -> None:
    """In the bootstrap before it starts: SIGTERM should this guard itself be killed outright
    (Linux; elsewhere nothing)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _kill_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print("usage: ray_trial_guard.py PARENT_PID FOLDER COMMAND...", file=sys.stderr)
        return 2
    parent, folder, command = int(argv[1]), argv[2], argv[3:]
    stopping: list[float] = []  # when the actor went away, or SIGTERM came

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if not stopping:
            stopping.append(time.monotonic())

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if os.getppid() != parent:  # the actor died before the bootstrap started
        shutil.rmtree(folder, ignore_errors=True)
        return 128 + signal.SIGTERM
    child = subprocess.Popen(command, start_new_session=True, preexec_fn=_term_with_parent)
    signalled = False
    while child.poll() is None:
        if not stopping and os.getppid() != parent:
            stopping.append(time.monotonic())
        if stopping and not signalled:
            _kill_group(child.pid, signal.SIGTERM)
            signalled = True
        elif stopping and time.monotonic() - stopping[0] > GRACE_S:
            break
        time.sleep(POLL_S)
    if stopping:
        _kill_group(child.pid, signal.SIGKILL)  # the script's children, or a stuck bootstrap
        shutil.rmtree(folder, ignore_errors=True)
    code = child.wait()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
