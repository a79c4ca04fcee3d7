"""Identity of a process that survives pid reuse: host, boot, pid and kernel start time.

Written as tags when a run starts, so that `reconcile_stale_runs` can later tell a run whose
process still works from one whose process died with the editor or the machine.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

_PROC = Path("/proc")


def host_name() -> str:
    return socket.gethostname()


def boot_id() -> str | None:
    """This boot's random id (Linux); None where the kernel does not offer one."""
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    return text[text.rfind(")") + 2 :].split()


def start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat: start time in clock ticks after boot; None if no such pid."""
    fields = _stat_fields(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def is_same_process(pid: int, started: str | None) -> bool:
    """True if `pid` is alive and, when `started` is known, is the process that started then."""
    if not _PROC.is_dir():  # no /proc (macOS): liveness only, pid reuse goes unnoticed
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    current = start_time(pid)
    if current is None:
        return False
    fields = _stat_fields(pid)
    if fields is not None and fields and fields[0] == "Z":  # a zombie has finished its work
        return False
    return started is None or current == started


def session_members(session_id: int) -> list[int]:
    """Live (non-zombie) pids whose session is `session_id`: a run's whole process tree,
    since the launcher starts the script with start_new_session=True."""
    members: list[int] = []
    sid = str(session_id)
    try:
        entries = list(_PROC.iterdir())
    except OSError:
        return members
    for entry in entries:
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        # fields[0] is the state, [3] the session id (fields 3 and 6 of stat).
        if fields is not None and len(fields) > 3 and fields[0] != "Z" and fields[3] == sid:
            members.append(int(entry.name))
    return members


def process_group(pid: int) -> int | None:
    """The process group id of `pid` (field 5 of stat); None if there is no such process."""
    fields = _stat_fields(pid)
    return int(fields[2]) if fields is not None and len(fields) > 2 else None
