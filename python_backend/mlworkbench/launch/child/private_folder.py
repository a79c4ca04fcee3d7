"""Whether a folder is really this user's: the one check behind every folder we write into
that another local user or a repository could have made first (the store lock's folder, the
download cache, `.mlworkbench/` in a workspace).

In the child package (stdlib only) because the store lock, taken inside the script's process,
needs it too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def folder_problem(folder: Path, *, private: bool = True) -> str | None:
    """Why `folder` is not a real folder owned by this user (nor, when `private`, closed to
    everyone else), or None when it is."""
    try:
        info = os.lstat(folder)
    except OSError as error:
        return error.strerror or str(error)
    if stat.S_ISLNK(info.st_mode):
        return "it is a symlink, so writes would land elsewhere"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a folder"
    if info.st_uid != os.getuid():
        return f"it belongs to user id {info.st_uid}, not you"
    if private and stat.S_IMODE(info.st_mode) & 0o077:
        return f"its mode is {stat.S_IMODE(info.st_mode):o}, open to other users"
    return None
