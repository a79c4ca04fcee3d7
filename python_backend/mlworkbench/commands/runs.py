"""`mlworkbench runs ACTION`: the Runs view in a shell: list, show and edit runs.

`list` is here (a table, newest first unless `--order-by` says otherwise; `--json` prints the
library's run summaries unchanged so scripts see what the language server sends). The one-run
actions live in `runs_show` and `runs_edit`; each action sets `runs_run`, its handler, so a
new action is one more `configure(actions)` call below.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlworkbench.commands import Subcommand, runs_compare, runs_edit, runs_show
from mlworkbench.commands.text_table import format_time, render_table


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(title="actions", metavar="ACTION", dest="runs_action")
    actions.required = True
    listing = actions.add_parser(
        "list",
        help="list the workspace's runs",
        description=(
            "List the workspace's runs. --filter takes MLflow's search syntax plus 'or', "
            "parentheses, 'in (...)' and ranges such as \"0.1 <= metrics.rmse < 0.5\"."
        ),
    )
    listing.add_argument(
        "--workspace", type=Path, default=None, help="workspace folder (default: cwd)"
    )
    listing.add_argument("--experiment", default=None, help="only this experiment (by name)")
    listing.add_argument("--filter", default=None, metavar="QUERY", help="which runs to list")
    listing.add_argument(
        "--order-by",
        default=None,
        metavar="KEY",
        help="MLflow order key such as 'metrics.rmse ASC' (default: newest first)",
    )
    listing.add_argument(
        "--max", type=_positive, default=200, metavar="N", help="at most N runs (default: 200)"
    )
    listing.add_argument("--json", action="store_true", help="print the runs as JSON")
    listing.set_defaults(runs_run=_list)
    runs_show.configure(actions)
    runs_compare.configure(actions)
    runs_edit.configure(actions)


def _run(args: argparse.Namespace) -> int:
    status: int = args.runs_run(args)
    return status


def _list(args: argparse.Namespace) -> int:
    from mlworkbench.explorer.run_listing import list_runs

    workspace = (args.workspace or Path.cwd()).resolve()
    runs = list_runs(
        workspace,
        max_results=args.max,
        filter=args.filter,
        order_by=args.order_by,
        experiment=args.experiment,
    )
    if args.json:
        print(json.dumps([run.to_dict() for run in runs], indent=2))
        return 0
    if not runs:
        print("no runs", file=sys.stderr)
        return 0
    rows = [["RUN", "NAME", "STATUS", "STARTED", "DURATION", "METRIC"]]
    for run in runs:
        metric = run.primary_metric
        rows.append(
            [
                run.run_id[:8],
                run.run_name,
                run.status,
                format_time(run.start_time),
                format_duration(run.start_time, run.end_time),
                f"{metric}={run.metrics[metric]:.4g}" if metric is not None else "-",
            ]
        )
    print("\n".join(render_table(rows)))
    return 0


def format_duration(start: int | None, end: int | None) -> str:
    """`4.2 s`, `3m 05s`, `2h 01m`; `-` while running or when a time is missing."""
    if start is None or end is None or end < start:
        return "-"
    seconds = (end - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


COMMAND = Subcommand(
    name="runs",
    help="list and filter the workspace's tracked runs",
    configure=_configure,
    run=_run,
)
