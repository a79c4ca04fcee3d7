"""Where a run came from, as `mlworkbench.*` tags: script, hash, command line, interpreter, git.

Kept in MLflow's run tags because the design keeps no second database: the explorer, the
stale-run check and a user reproducing a run all read them from the run itself.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

GIT_TIMEOUT_S = 5.0
TAG = "mlworkbench."


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _git(workspace: Path, *args: str) -> str | None:
    """Output of a git command in the workspace, or None (no git, not a repo, no commit)."""
    try:
        completed = subprocess.run(
            ["git", "-C", str(workspace), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout if completed.returncode == 0 else None


def git_tags(workspace: Path) -> dict[str, str]:
    """Commit and dirty flag when the workspace is a git checkout with a commit.

    Untracked files do not make it dirty: `mlflow.db` and `mlruns/` appear in the workspace
    with the first run, and would otherwise mark every later run dirty.
    """
    commit = _git(workspace, "rev-parse", "HEAD")
    if commit is None or not commit.strip():
        return {}
    status = _git(workspace, "status", "--porcelain", "--untracked-files=no")
    tags = {TAG + "git_commit": commit.strip()}
    if status is not None:
        tags[TAG + "git_dirty"] = "true" if status.strip() else "false"
    return tags


def provenance_tags(
    script: Path,
    args: Sequence[str],
    *,
    workspace: Path,
    python: str,
    frameworks: Sequence[str],
    log_path: Path,
) -> dict[str, str]:
    """Tags known before the script starts (the child adds pid, host and process start time).

    `command` is what reproduces the run by hand (`python script args`), `argv` is the
    script's own `sys.argv`.
    """
    tags = {
        TAG + "script": str(script),
        TAG + "script_sha256": sha256_of(script),
        TAG + "workspace": str(workspace),
        TAG + "python": python,
        TAG + "command": json.dumps([python, str(script), *args]),
        TAG + "argv": json.dumps([str(script), *args]),
        TAG + "log_path": str(log_path),
    }
    if frameworks:
        tags[TAG + "frameworks"] = ",".join(frameworks)
    tags.update(git_tags(workspace))
    return tags
