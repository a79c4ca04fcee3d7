"""What of the workspace a Ray job uploads as its working directory, and whether it fits.

The job runs the script from a copy of the workspace (runtime_env `working_dir`). Stores,
environments, VCS metadata and whatever `.gitignore` leaves out stay home: they are big, and
a tracking store or `.venv` on the cluster is never what the user meant. The size is measured
here with gitignore semantics (pathspec, as Ray itself uses), so an oversized
workspace is refused with its biggest folders named before a byte is uploaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlworkbench.compute.ray_errors import WorkingDirTooLargeError

# Never uploaded, whatever .gitignore says (gitignore syntax, as Ray's `excludes` takes).
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git/",
    ".venv/",
    "venv/",
    "node_modules/",
    "mlruns/",
    "mlartifacts/",
    "mlflow.db*",
    ".mlworkbench/",
    "__pycache__/",
    "*.pyc",
)
BIGGEST_SHOWN = 3


@dataclass(frozen=True)
class WorkingDirPlan:
    """The folder to upload, the exclude patterns handed to Ray, and what is left to upload."""

    root: Path
    excludes: tuple[str, ...]
    files: int
    total_bytes: int
    top_level_bytes: dict[str, int]  # first-level entry -> bytes uploaded below it

    def biggest(self, count: int = BIGGEST_SHOWN) -> list[tuple[str, int]]:
        ranked = sorted(self.top_level_bytes.items(), key=lambda item: -item[1])
        return ranked[:count]


def gitignore_patterns(root: Path) -> list[str]:
    """The workspace's top-level `.gitignore` lines (Ray also reads nested ones itself)."""
    try:
        text = (root / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def plan_working_dir(root: Path, *, size_limit_mb: int) -> WorkingDirPlan:
    """Walk the workspace with the excludes applied; raise WorkingDirTooLargeError when what
    is left is over `size_limit_mb`. Symlinks are not followed (Ray uploads the link's target
    only for files, and a link to `/` must not make us walk the disk)."""
    import pathspec

    excludes = (*DEFAULT_EXCLUDES, *gitignore_patterns(root))
    spec = pathspec.GitIgnoreSpec.from_lines(excludes)
    files = 0
    total = 0
    top: dict[str, int] = {}
    for folder, dirs, names in os.walk(root):
        relative_folder = Path(folder).relative_to(root)
        kept = []
        for name in dirs:
            relative = (relative_folder / name).as_posix()
            if not spec.match_file(relative + "/") and not os.path.islink(Path(folder, name)):
                kept.append(name)
        dirs[:] = kept
        for name in names:
            relative = (relative_folder / name).as_posix()
            if spec.match_file(relative):
                continue
            try:
                size = os.stat(Path(folder, name)).st_size
            except OSError:
                continue  # a dangling link: Ray skips it too
            files += 1
            total += size
            first = relative.split("/", 1)[0]
            key = first + "/" if "/" in relative else first
            top[key] = top.get(key, 0) + size
    plan = WorkingDirPlan(root, excludes, files, total, top)
    if total > size_limit_mb * 1_000_000:
        raise WorkingDirTooLargeError(total / 1e6, size_limit_mb, plan.biggest())
    return plan
