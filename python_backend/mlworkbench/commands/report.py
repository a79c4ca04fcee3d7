"""`mlworkbench report KIND`: fairness, mitigation, explanations and the model card of a run's
model, plus `list` / `show` for the reports a run already has.

Each kind lives in its own module (report_fairness, report_explain); this one gathers them under
one verb and holds the small ones (card, list, show). The language server makes reports by
running these very verbs (reports_requests.py), so the editor and a terminal agree.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlworkbench.commands import Subcommand, report_common
from mlworkbench.commands.report_explain import EXPLAIN
from mlworkbench.commands.report_fairness import FAIRNESS, MITIGATE
from mlworkbench.commands.text_table import render_table


def _configure_card(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, metavar="RUN", help="the run to describe")
    parser.add_argument(
        "--intended-use",
        default=None,
        metavar="TEXT",
        help="what the model is for and where it must not be used (kept in the run's tags)",
    )
    report_common.add_workspace_args(parser)


def _card(args: argparse.Namespace) -> int:
    from mlworkbench.explorer.run_lookup import resolve_run_id
    from mlworkbench.reports.model_card import card_markdown, model_card

    report_common.set_progress(args)
    workspace = report_common.workspace_of(args)
    run_id = resolve_run_id(workspace, args.run)
    document = model_card(workspace, run_id, intended_use=args.intended_use)
    status = report_common.finish(args, document, run_id)
    markdown = card_markdown(document)
    if args.out is not None:
        (args.out / "card.md").write_text(markdown, encoding="utf-8")
        if not args.json:
            print(f"wrote {args.out / 'card.md'}")
    if not args.no_log:
        _log_text(workspace, run_id, markdown, "card.md")
    return status


def _log_text(workspace: Path, run_id: str, text: str, name: str) -> None:
    from mlworkbench.reports.report_publish import ARTIFACT_DIR
    from mlworkbench.tracking.tracking_client import open_client

    client = open_client(workspace)
    if client is not None:
        client.log_text(run_id, text, f"{ARTIFACT_DIR}/{name}")


def _configure_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="run id, or a unique prefix")
    parser.add_argument(
        "--workspace", type=Path, default=None, help="workspace folder (default: cwd)"
    )
    parser.add_argument("--json", action="store_true", help="print the list as JSON")


def _list(args: argparse.Namespace) -> int:
    from mlworkbench.explorer.run_lookup import resolve_run_id
    from mlworkbench.reports.report_store import list_reports

    workspace = report_common.workspace_of(args)
    run_id = resolve_run_id(workspace, args.run)
    reports = list_reports(workspace, run_id)
    if args.json:
        json.dump(reports, sys.stdout)
        sys.stdout.write("\n")
    elif not reports:
        print(
            f"run {run_id} has no reports; make one with `mlworkbench report fairness|explain|card`"
        )
    else:
        rows = [["REPORT", "ARTIFACT"], *([r["name"], r["artifactPath"]] for r in reports)]
        print("\n".join(render_table(rows)))
    return 0


def _configure_show(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="run id, or a unique prefix")
    parser.add_argument("name", metavar="NAME", help="the report's name (fairness, explain, …)")
    parser.add_argument(
        "--workspace", type=Path, default=None, help="workspace folder (default: cwd)"
    )
    parser.add_argument("--json", action="store_true", help="print the report document as JSON")


def _show(args: argparse.Namespace) -> int:
    from mlworkbench.explorer.run_lookup import resolve_run_id
    from mlworkbench.reports.report_publish import PublishedReport
    from mlworkbench.reports.report_store import read_report

    workspace = report_common.workspace_of(args)
    run_id = resolve_run_id(workspace, args.run)
    document = read_report(workspace, run_id, args.name)
    if args.json:
        json.dump(document, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        report_common.print_human(document, PublishedReport(None, []), run_id)
    return 0


CARD = Subcommand(
    "card",
    "the run's model card (params, metrics, data, fairness, explanations, privacy, intended use)",
    _configure_card,
    _card,
)
LIST = Subcommand("list", "list the reports a run has", _configure_list, _list)
SHOW = Subcommand("show", "print one of a run's reports", _configure_show, _show)
KINDS: tuple[Subcommand, ...] = (FAIRNESS, MITIGATE, EXPLAIN, CARD, LIST, SHOW)


def _configure(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(title="reports", metavar="KIND", dest="report_kind")
    kinds.required = True
    for kind in KINDS:
        sub = kinds.add_parser(kind.name, help=kind.help, description=kind.help)
        kind.configure(sub)
        sub.set_defaults(report_run=kind.run)


def _run(args: argparse.Namespace) -> int:
    status: int = args.report_run(args)
    return status


COMMAND = Subcommand(
    "report",
    "fairness, explanation and model-card reports of a run's model",
    _configure,
    _run,
)
