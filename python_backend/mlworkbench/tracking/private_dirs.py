"""Folders that only this user can write to, for files fetched from elsewhere.

A repository controls everything below the workspace: it can ship `.mlworkbench/artifacts/<run>`
as a symlink to `.git`, or a real folder holding a symlink named like an artifact, and a download
into it then overwrites the file the link names. So downloads go into a per-process cache made
with `mkdtemp` (0700, under a name nobody could have created first) and removed at exit; it lives
as long as the editor's server, which is as long as the editor needs the files it opens. A folder
that must live in the workspace is created and checked, component by component, before anything
is written in it (`checked_cache_dir`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from pathlib import Path

from mlworkbench.errors import PrivateFolderRefusedError
from mlworkbench.launch.child.private_folder import folder_problem

CACHE_PREFIX = "mlworkbench-cache-"
_cache_root: Path | None = None
_cache_lock = threading.Lock()


def private_temp_dir(prefix: str) -> Path:
    """A new folder in the temp folder that only this user can enter (mode 0700).

    `mkdtemp` creates it under a random name with O_EXCL semantics, so another local user can
    neither have created it first nor point it elsewhere: no check is needed afterwards.
    """
    return Path(tempfile.mkdtemp(prefix=prefix))


def download_dir(*parts: str) -> Path:
    """`<this process's private cache>/<parts...>`, created with mode 0700.

    The parts come from a tracking store (run ids, model keys), which a repository or a server
    chooses: each must be one plain name, so none can climb out of the cache.
    """
    folder = _process_cache_root()
    for part in parts:
        _check_part(folder, part)
        folder = folder / part
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def checked_cache_dir(workspace: Path, *parts: str) -> Path:
    """`<workspace>/<parts...>`, each folder created if missing and checked before it is used.

    Below the workspace, every component must be a real folder (not a symlink) owned by this
    user; the last one is made private (0700). `PrivateFolderRefusedError` says which component
    is wrong and how to fix it. Files written in the result should still not follow symlinks
    (`os.O_NOFOLLOW`): the folder's own contents may come from the repository.
    """
    folder = workspace.resolve()
    for part in parts:
        _check_part(folder, part)
        folder = folder / part
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
        except OSError as error:
            raise PrivateFolderRefusedError(folder, error.strerror or str(error)) from error
        _check_owned_folder(folder)
    os.chmod(folder, 0o700)
    return folder


def _process_cache_root() -> Path:
    """The process's cache folder, made on first use; made again if something removed it."""
    global _cache_root
    with _cache_lock:
        if _cache_root is None or folder_problem(_cache_root) is not None:
            _cache_root = private_temp_dir(CACHE_PREFIX)
            atexit.register(shutil.rmtree, _cache_root, ignore_errors=True)
        return _cache_root


def _check_part(parent: Path, part: str) -> None:
    if part in ("", ".", "..") or "/" in part or "\\" in part or "\x00" in part:
        raise PrivateFolderRefusedError(
            parent / part, f"{part!r} is not a plain folder name (a store gave it)"
        )


def _check_owned_folder(folder: Path) -> None:
    problem = folder_problem(folder, private=False)  # made private by the caller
    if problem is not None:
        raise PrivateFolderRefusedError(folder, problem)
