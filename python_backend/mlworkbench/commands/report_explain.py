"""`mlworkbench report explain`: what drives a run's model overall, and why it predicted what it
did for chosen rows (InterpretML).

report.py gathers it under `mlworkbench report`; the language server runs this same verb
(reports_requests.py passes `--rows` and `--sample`). Only the standard library is imported
here: pandas, InterpretML and MLflow load inside the action, so `mlworkbench --help` stays fast.
"""

from __future__ import annotations

import argparse

from mlworkbench.commands import Subcommand, report_common

# Mirrors explain_report's constants, which this module must not import at start-up.
_MAX_ROWS = 20
_DEFAULT_SAMPLE = 10_000
_MIN_SAMPLE = 10


def _rows(text: str) -> list[int]:
    """ "3, 17,42" -> [3, 17, 42]: row numbers in the data set, 0 being the first data row."""
    rows = []
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        if not part.isdigit():
            raise argparse.ArgumentTypeError(
                f"{part!r} is not a row number (0 is the first data row)"
            )
        rows.append(int(part))
    if not rows:
        raise argparse.ArgumentTypeError("name at least one row, e.g. 0 or 3,17")
    return rows


def _sample(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < _MIN_SAMPLE:
        raise argparse.ArgumentTypeError(f"expected at least {_MIN_SAMPLE}, got {value}")
    return value


def _configure(parser: argparse.ArgumentParser) -> None:
    report_common.add_model_args(parser)
    report_common.add_data_args(parser)
    parser.add_argument(
        "--rows",
        type=_rows,
        default=None,
        metavar="N[,N]",
        help=f"data rows to explain one by one, 0 being the first (default: the first 10; at "
        f"most {_MAX_ROWS})",
    )
    parser.add_argument(
        "--sample",
        type=_sample,
        default=_DEFAULT_SAMPLE,
        metavar="N",
        help="rows a black-box explainer predicts on; larger data sets are sampled with a fixed "
        f"seed (default: {_DEFAULT_SAMPLE:,}; an EBM explains itself and needs none)",
    )
    report_common.add_workspace_args(parser)


def _run(args: argparse.Namespace) -> int:
    from mlworkbench.reports import report_progress
    from mlworkbench.reports.explain_report import explain_report
    from mlworkbench.reports.report_data import load_table
    from mlworkbench.reports.report_model import load_report_model

    report_common.set_progress(args)
    workspace = report_common.workspace_of(args)
    report_progress.step("Loading the model")
    model = load_report_model(workspace, run_id=args.run, model=args.model)
    report_progress.step("Reading the data set")
    data = load_table(args.data, workspace=workspace, max_bytes=report_common.max_bytes(args))
    document = explain_report(
        data,
        model,
        args.target,
        rows=args.rows,
        max_rows_explained=_MAX_ROWS,
        sample=args.sample,
    )
    return report_common.finish(args, document, model.run_id)


EXPLAIN = Subcommand(
    "explain",
    "global and local explanations of a run's model (InterpretML: an EBM's own, or partial "
    "dependence for any other model)",
    _configure,
    _run,
)
