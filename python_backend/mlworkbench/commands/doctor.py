"""`mlworkbench doctor`: is this Python ready for ML Workbench, and what to install if not.

Exit status 0 means ready and 1 means something is missing, so scripts and CI can gate on it.
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from mlworkbench.commands import Subcommand
from mlworkbench.commands.text_table import render_table
from mlworkbench.setup.doctor import DEFAULT_EXTRAS, EXTRAS, MIN_PYTHON, DoctorReport, run_doctor


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--extras",
        action="append",
        metavar="EXTRA[,EXTRA…]",
        help=f"features to check, comma-separated (default: {','.join(DEFAULT_EXTRAS)}; "
        f"one of {', '.join(EXTRAS)})",
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="workspace folder whose mlflow.db is the default tracking store (default: cwd)",
    )
    parser.add_argument(
        "--exclude-path",
        action="append",
        default=[],
        metavar="PATH",
        help="a sys.path entry whose packages do not count (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _run(args: argparse.Namespace) -> int:
    extras = (
        [e.strip() for value in args.extras for e in value.split(",") if e.strip()]
        if args.extras
        else list(DEFAULT_EXTRAS)
    )
    report = run_doctor(extras, exclude_paths=args.exclude_path, workspace=args.workspace)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print("\n".join(format_report(report)))
    return 0 if report.ok else 1


def _install_hint(extras: list[str]) -> str:
    requirement = "mlworkbench[" + ",".join(extras) + "]"
    return f"pip install {shlex.quote(requirement)}"


def format_report(report: DoctorReport) -> list[str]:
    """The human-readable report: one row per component, then tracking and the verdict."""
    needed = ".".join(map(str, MIN_PYTHON))
    python_note = report.python_executable
    if not report.python_ok:
        python_note += f" (too old: ML Workbench needs Python {needed} or newer)"
    rows = [
        ["COMPONENT", "VERSION", "NOTE"],
        ["Python", report.python, python_note],
        [
            "mlworkbench",
            report.mlworkbench_installed or "missing",
            "" if report.mlworkbench_installed else f"({_install_hint(report.missing_extras())})",
        ],
    ]
    for package in report.packages:
        if package.installed:
            rows.append([package.name, package.installed, f"for {package.required_by}"])
        else:
            rows.append([package.name, "missing", f"({_install_hint([package.required_by])})"])
    lines = render_table(rows)
    lines.append(f"Tracking URI: {report.tracking_uri} (from {report.tracking_uri_source})")
    if report.ok:
        lines.append("Status: ok")
        return lines
    problems = [] if report.python_ok else [f"Python older than {needed}"]
    if report.missing:
        problems.append(f"missing {', '.join(report.missing)}")
    lines.append(f"Status: not ok: {'; '.join(problems)}")
    if report.missing:
        executable = shlex.quote(report.python_executable)
        lines.append(f"Fix: {executable} -m {_install_hint(report.missing_extras())}")
    return lines


COMMAND = Subcommand(
    name="doctor",
    help="check that this Python has ML Workbench and the packages its features need",
    configure=_configure,
    run=_run,
)
