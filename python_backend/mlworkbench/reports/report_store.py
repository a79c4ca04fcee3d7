"""A run's reports, read back: which it has (`reports/*.json`) and one of them as a document.

Reports are artifacts, so they come through the explorer's artifact access: the same path
checks (no `..`, no symlink out of the run), the same private download cache for remote
stores, the same refusal of remote stores in Restricted Mode. A file that is not a report
(hand-edited, truncated) is reported as such, never half-shown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from mlworkbench.reports.report_errors import ReportDataError, ReportNotFoundError
from mlworkbench.reports.report_publish import ARTIFACT_DIR

if TYPE_CHECKING:
    from mlworkbench.reports.report_document import ReportDocument

_MAX_REPORT_BYTES = 64 * 1024 * 1024
_REQUIRED = ("kind", "version", "title", "summary", "warnings", "sections")


def list_reports(
    workspace: Path, run_id: str, *, tracking_uri: str | None = None
) -> list[dict[str, str]]:
    """`[{name, artifactPath}]` of the run's `reports/<name>.json`, by name."""
    from mlworkbench.errors import ArtifactNotFoundError
    from mlworkbench.explorer.run_details import list_artifacts

    try:
        entries = list_artifacts(workspace, run_id, ARTIFACT_DIR, tracking_uri=tracking_uri)
    except ArtifactNotFoundError:
        return []
    found = []
    for entry in entries:
        name = entry.path.rsplit("/", 1)[-1]
        if not entry.is_dir and name.endswith(".json"):
            found.append({"name": name[: -len(".json")], "artifactPath": entry.path})
    return sorted(found, key=lambda report: report["name"])


def read_report(
    workspace: Path, run_id: str, name: str, *, tracking_uri: str | None = None
) -> ReportDocument:
    """The run's `reports/<name>.json`, checked to be a report document."""
    from mlworkbench.errors import ArtifactNotFoundError
    from mlworkbench.explorer.artifact_access import resolve_artifact

    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ReportNotFoundError(run_id, name or "(empty)")
    path = f"{ARTIFACT_DIR}/{name}.json"
    try:
        resolved = resolve_artifact(workspace, run_id, path, tracking_uri=tracking_uri)
    except ArtifactNotFoundError as error:
        raise ReportNotFoundError(run_id, name) from error
    file = resolved.local_path
    if not file.is_file():
        raise ReportNotFoundError(run_id, name)
    if file.stat().st_size > _MAX_REPORT_BYTES:
        raise ReportDataError(path, "the report file is larger than 64 MiB; it was not opened")
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ReportDataError(path, f"it is not a readable report ({error})") from error
    if not isinstance(document, dict) or any(key not in document for key in _REQUIRED):
        raise ReportDataError(path, "it is not a report document (fields are missing)")
    document.setdefault("details", {})
    result: ReportDocument = document  # type: ignore[assignment]
    return result
