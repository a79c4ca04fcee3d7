"""One artifact of a run as a local file the editor can open, and what kind of file it is.

The path is checked (`artifact_paths.check_artifact_path`) before the store is even opened.
Artifacts on this machine are read in place, never copied; other stores are downloaded with
MLflow into this process's private cache (`private_dirs.download_dir`), never into the
workspace, whose `.mlworkbench/` a repository could ship as a symlink to `.git`. The result
must still lie in the run's folder after symlinks are followed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from mlworkbench.errors import ArtifactNotFoundError, ArtifactPathRefusedError
from mlworkbench.explorer.artifact_paths import check_artifact_path, inside, local_artifact_root
from mlworkbench.tracking.network_access import require_local
from mlworkbench.tracking.private_dirs import download_dir

MODEL_FILE = "MLmodel"
SNIFF_BYTES = 8192

_SUFFIX_KINDS = {
    "image": {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp"},
    "csv": {".csv", ".tsv"},
    "text": {
        ".txt", ".log", ".json", ".yaml", ".yml", ".md", ".py", ".toml", ".ini", ".cfg",
        ".html", ".xml", ".jsonl", ".rst",
    },
}  # fmt: skip


@dataclass(frozen=True)
class ResolvedArtifact:
    local_path: Path
    kind: str  # "text" | "image" | "csv" | "model" | "binary" | "directory"

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "local_path": str(self.local_path)}


def resolve_artifact(
    workspace: Path, run_id: str, path: str, *, tracking_uri: str | None = None
) -> ResolvedArtifact:
    """The artifact at `path` (relative to the run's artifact root) as a local file or folder.

    `ArtifactPathRefusedError` for a path that is or could lead outside the run's artifacts,
    `ArtifactNotFoundError` when the run has nothing there.
    """
    from mlworkbench.explorer.run_lookup import open_run

    relative = check_artifact_path(path)
    client, run, _ = open_run(workspace, run_id, tracking_uri)
    root = local_artifact_root(run.info.artifact_uri, str(client.tracking_uri))
    if root is None:
        require_local(run.info.artifact_uri, f"the artifacts of run {run.info.run_id}")
        root = download_dir("artifacts", run.info.run_id)
        _download(workspace, run.info.run_id, relative, root, tracking_uri)
    target = _checked_target(root, relative, run.info.run_id, path)
    return ResolvedArtifact(*_classify(target))


def _checked_target(root: Path, relative: str, run_id: str, original: str) -> Path:
    candidate = root / relative
    if not candidate.exists() and not candidate.is_symlink():
        raise ArtifactNotFoundError(run_id, relative)
    target = inside(root, relative)
    if target is None:
        raise ArtifactPathRefusedError(
            original, "it resolves outside the run's artifact folder (through a symlink)"
        )
    if not target.exists():  # a dangling symlink inside the folder
        raise ArtifactNotFoundError(run_id, relative)
    return target


def _download(
    workspace: Path, run_id: str, relative: str, cache: Path, tracking_uri: str | None
) -> None:
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

    # MLflow puts `a/b/c` at `<dst>/c`: downloading into `<cache>/a/b` keeps the run's layout.
    destination = cache.joinpath(*relative.split("/")[:-1])
    destination.mkdir(parents=True, exist_ok=True)
    try:
        mlflow.artifacts.download_artifacts(
            run_id=run_id,
            artifact_path=relative,
            dst_path=str(destination),
            tracking_uri=resolve_tracking_uri(workspace, tracking_uri),
        )
    except (MlflowException, OSError) as error:
        raise ArtifactNotFoundError(run_id, relative) from error


def _classify(target: Path) -> tuple[Path, str]:
    if target.is_dir():
        model = target / MODEL_FILE
        return (model, "model") if model.is_file() else (target, "directory")
    if target.name == MODEL_FILE:
        return target, "model"
    suffix = target.suffix.lower()
    for kind, suffixes in _SUFFIX_KINDS.items():
        if suffix in suffixes:
            return target, kind
    return target, "text" if _looks_like_text(target) else "binary"


def _looks_like_text(path: Path) -> bool:
    """UTF-8 without NUL bytes in the first few KiB: what an editor tab can show."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(head) - 3  # a character cut at the sniff boundary
    return True
