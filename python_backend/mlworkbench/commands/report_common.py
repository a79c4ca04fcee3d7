"""What every `mlworkbench report …` and `privacy …` verb shares: the model and data options,
and the end of a report (log it under the run, copy it out, print it).

One place so the verbs take the same flags and print the same way, and the language server can
build any verb's argument list from one table (reports_requests.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlworkbench.reports.report_document import ReportDocument
    from mlworkbench.reports.report_publish import PublishedReport


def add_workspace_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace", type=Path, default=None, help="workspace folder (default: cwd)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the report document as JSON on stdout"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write <kind>.json and <kind>.html into DIR",
    )
    parser.add_argument(
        "--no-log",
        action="store_true",
        help="do not log the report as an artifact of the run",
    )
    parser.add_argument(
        "--progress",
        choices=("text", "json", "off"),
        default=None,
        help="how steps are announced on stderr (default: text)",
    )


def add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", default=None, metavar="RUN", help="the run whose model to use")
    parser.add_argument(
        "--model",
        default=None,
        metavar="URI_OR_LABEL",
        help="a model URI (models:/…, runs:/…) or folder; with --run, one of its models' labels",
    )


def add_data_args(parser: argparse.ArgumentParser, *, target: bool = True) -> None:
    parser.add_argument(
        "--data", required=True, type=Path, metavar="FILE", help="a CSV or Parquet file"
    )
    if target:
        parser.add_argument("--target", required=True, metavar="COL", help="the label column")
    parser.add_argument(
        "--max-data-mb",
        type=float,
        default=None,
        metavar="MB",
        help="refuse larger data files (default: 512)",
    )


def workspace_of(args: argparse.Namespace) -> Path:
    return (args.workspace or Path.cwd()).resolve()


def max_bytes(args: argparse.Namespace) -> int:
    from mlworkbench.reports.report_data import DEFAULT_MAX_BYTES

    limit = getattr(args, "max_data_mb", None)
    return DEFAULT_MAX_BYTES if limit is None else int(limit * 1024 * 1024)


def set_progress(args: argparse.Namespace) -> None:
    import os

    from mlworkbench.reports.report_progress import PROGRESS_ENV

    if args.progress:
        os.environ[PROGRESS_ENV] = args.progress
    elif args.json and PROGRESS_ENV not in os.environ:
        os.environ[PROGRESS_ENV] = "off"


def finish(args: argparse.Namespace, document: ReportDocument, run_id: str | None) -> int:
    """Publish `document` (under `run_id` unless --no-log; to --out) and print it."""
    from mlworkbench.reports import report_progress
    from mlworkbench.reports.report_publish import publish

    report_progress.step("Saving the report")
    published = publish(
        document,
        workspace=workspace_of(args),
        run_id=None if args.no_log else run_id,
        out_dir=args.out,
    )
    if args.json:
        payload = {
            "document": document,
            "artifactPath": published.artifact_path,
            "runId": None if args.no_log else run_id,
            "files": published.files,
        }
        json.dump(payload, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print_human(document, published, run_id)
    return 0


def print_human(document: ReportDocument, published: PublishedReport, run_id: str | None) -> None:
    print(document["title"])
    for figure in document["summary"]:
        value = figure["value"]
        shown = f"{value:.4g}" if isinstance(value, float) else ("—" if value is None else value)
        print(f"  {figure['label']}: {shown}")
    for warning in document["warnings"]:
        print(f"  warning: {warning}")
    if published.artifact_path and run_id:
        print(f"logged as {published.artifact_path} under run {run_id}")
    for file in published.files:
        print(f"wrote {file}")
