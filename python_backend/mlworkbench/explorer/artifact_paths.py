"""Check an artifact path from outside (a webview, a command line) before any file is touched.

MLflow's own artifact handlers had path-traversal CVEs (`..`, `%2e%2e`, absolute paths,
fragments and query strings smuggled into URIs). A path here is a plain, relative, posix path
inside the run's artifact folder, or it is refused with the reason.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from mlworkbench.errors import ArtifactPathRefusedError

SERVED_ARTIFACTS_DIR = "mlartifacts"  # tracking_server.start_server's --artifacts-destination

# Characters that mean something else in a URI or to another OS, and so never appear in a path
# MLflow itself lists: refused outright rather than interpreted.
_REFUSED_CHARS = {
    "%": "it contains '%' (percent-encoding is not decoded; write the characters themselves)",
    "\\": "it contains a backslash (artifact paths use '/')",
    "#": "it contains '#' (a URI fragment would cut the path short)",
    "?": "it contains '?' (a URI query would cut the path short)",
}


def check_artifact_path(path: str) -> str:
    """The path, normalised ('./' and doubled or trailing '/' dropped), or a refusal."""
    if not path or not path.strip():
        raise ArtifactPathRefusedError(path, "it is empty")
    if "\x00" in path:
        raise ArtifactPathRefusedError(path, "it contains a NUL character")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        raise ArtifactPathRefusedError(path, "it contains a control character")
    for char, reason in _REFUSED_CHARS.items():
        if char in path:
            raise ArtifactPathRefusedError(path, reason)
    if path.startswith("/") or (len(path) > 1 and path[1] == ":" and path[0].isalpha()):
        raise ArtifactPathRefusedError(path, "it is absolute")
    if "://" in path:
        raise ArtifactPathRefusedError(path, "it is a URI, not a path inside the run")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArtifactPathRefusedError(path, "it contains a '..' segment")
    if not parts:
        raise ArtifactPathRefusedError(path, "it names the artifact root itself")
    return "/".join(parts)


def local_artifact_root(artifact_uri: str, store_uri: str | None = None) -> Path | None:
    """The folder of a run's artifacts when the store keeps them on this machine, else None.

    Pass the tracking store's URI (`MlflowClient.tracking_uri`) so that an `mlflow-artifacts:/`
    location logged through the workspace's own tracking server maps to the folder that server
    keeps it in (`served_artifact_root`).
    """
    parsed = urlparse(artifact_uri)
    if parsed.scheme == "mlflow-artifacts":
        return served_artifact_root(artifact_uri, store_uri) if store_uri else None
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            return None
        return Path(url2pathname(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and artifact_uri[1:2] == ":"):
        return Path(artifact_uri)  # a plain path (a Windows drive looks like a scheme)
    return None


def served_artifact_root(artifact_uri: str, store_uri: str) -> Path | None:
    """Where `mlworkbench server` stored an `mlflow-artifacts:/<path>` location, or None.

    Runs tracked through the workspace's tracking server (Ray jobs, several processes) get such
    a location, which MLflow resolves only through an http tracking URI: a client on the
    workspace's SQLite file, which the Runs view reads whether the server is up or not, could
    neither list nor open them. The server proxies them into `mlartifacts` beside its SQLite
    store (`tracking_server.start_server`), so that is where they are read, in place. Only a
    location without a host maps, only for a SQLite store, and only into a real `mlartifacts`
    folder (not a symlink a repository could ship); a location whose path would leave that
    folder is refused rather than followed.
    """
    from mlworkbench.launch.child.store_open import sqlite_path

    parsed = urlparse(artifact_uri)
    database = sqlite_path(store_uri)
    if parsed.scheme != "mlflow-artifacts" or parsed.netloc or database is None:
        return None
    base = database.parent / SERVED_ARTIFACTS_DIR
    if base.is_symlink() or not base.is_dir():
        return None
    relative = check_artifact_path(parsed.path.lstrip("/"))
    target = inside(base, relative)
    if target is None:
        raise ArtifactPathRefusedError(
            artifact_uri, f"it resolves outside {base} (through a symlink)"
        )
    return target


def inside(root: Path, relative: str) -> Path | None:
    """`root/relative` with symlinks followed, or None when that lands outside `root`.

    `root` itself is resolved first, so a link *at* `root` is trusted: pass the outermost
    folder the files must stay in (a run's artifact root), not a subfolder a store listed,
    which could itself be a link out (see `run_models.resolve_model_file`).
    """
    base = root.resolve()
    target = (base / relative).resolve()
    return target if target == base or target.is_relative_to(base) else None
