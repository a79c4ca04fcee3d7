"""Where a finished report goes: `reports/<kind>.json` and `.html` under the run, and a copy on
disk when asked.

The files are written in a private temporary folder and logged with MLflow (so a remote store
gets them through its own artifact repository); nothing is written before the report is
complete, so a failed report leaves the run's earlier report of that kind as it was.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlworkbench.reports.report_document import ReportDocument
from mlworkbench.reports.report_html import render_html

ARTIFACT_DIR = "reports"


@dataclass(frozen=True)
class PublishedReport:
    artifact_path: str | None  # "reports/fairness.json" under the run, when logged
    files: list[str]  # copies written to --out


def report_files(document: ReportDocument, folder: Path, name: str) -> list[Path]:
    """Write `<name>.json` and `<name>.html` into `folder`; their paths."""
    json_path = folder / f"{name}.json"
    html_path = folder / f"{name}.html"
    json_path.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    html_path.write_text(render_html(document), encoding="utf-8")
    return [json_path, html_path]


def publish(
    document: ReportDocument,
    *,
    workspace: Path,
    run_id: str | None,
    tracking_uri: str | None = None,
    out_dir: Path | None = None,
    name: str | None = None,
) -> PublishedReport:
    """Log the report to `run_id` (when given) and copy it to `out_dir` (when given)."""
    stem = name or document["kind"]
    artifact_path = None
    copies: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mlworkbench-report-") as tmp:
        files = report_files(document, Path(tmp), stem)
        if run_id:
            from mlworkbench.tracking.tracking_client import open_client

            client = open_client(workspace, tracking_uri)
            if client is not None:
                for file in files:
                    client.log_artifact(run_id, str(file), ARTIFACT_DIR)
                artifact_path = f"{ARTIFACT_DIR}/{stem}.json"
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            for file in files:
                shutil.copyfile(file, out_dir / file.name)
                copies.append(str(out_dir / file.name))
    return PublishedReport(artifact_path, copies)
