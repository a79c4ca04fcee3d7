"""`mlworkbench train-ebm`: an Explainable Boosting Machine as a new tracked run, the glass-box
model whose `report explain` is the model's own explanation.

The training lives in reports/ebm_training.py; this module parses the flags and prints the run.
Only the standard library is imported here, so `mlworkbench --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from mlworkbench.commands import Subcommand, report_common


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {minimum} or more, got {value}")
        return value

    return parse


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {value}")
    return value


def _configure(parser: argparse.ArgumentParser) -> None:
    report_common.add_data_args(parser)
    parser.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="default: auto (text, booleans and whole numbers with at most 20 values are classes)",
    )
    parser.add_argument(
        "--features", default=None, metavar="COL[,COL]", help="default: every column but the target"
    )
    parser.add_argument(
        "--interactions",
        type=_at_least(0),
        default=3,
        metavar="N",
        help="pairs of features the model may learn together (default: 3; 0 for none; "
        "multiclass models learn none)",
    )
    parser.add_argument(
        "--outer-bags",
        type=_at_least(1),
        default=4,
        metavar="N",
        help="models averaged, which gives the shape functions their error bands (default: 4; "
        "InterpretML's own default is 14, slower and smoother)",
    )
    parser.add_argument(
        "--test-size",
        type=_share,
        default=0.2,
        metavar="FRACTION",
        help="share of rows held out for the logged metrics (default: 0.2)",
    )
    parser.add_argument("--experiment", default="ebm", help="default: ebm")
    parser.add_argument(
        "--workspace", type=Path, default=None, help="workspace folder (default: cwd)"
    )
    parser.add_argument("--json", action="store_true", help="print the run as JSON")
    parser.add_argument(
        "--progress",
        choices=("text", "json", "off"),
        default=None,
        help="how steps are announced on stderr (default: text)",
    )


def _run(args: argparse.Namespace) -> int:
    from mlworkbench.reports.ebm_training import EbmSettings, train_ebm
    from mlworkbench.reports.report_data import load_table

    report_common.set_progress(args)
    workspace = report_common.workspace_of(args)
    data = load_table(args.data, workspace=workspace, max_bytes=report_common.max_bytes(args))
    features = [f.strip() for f in args.features.split(",") if f.strip()] if args.features else None
    result = train_ebm(
        data,
        args.target,
        workspace=workspace,
        task=args.task,
        features=features,
        experiment=args.experiment,
        test_size=args.test_size,
        settings=EbmSettings(interactions=args.interactions, outer_bags=args.outer_bags),
    )
    if args.json:
        json.dump(result.to_json(), sys.stdout)
        sys.stdout.write("\n")
    else:
        scores = ", ".join(f"{name} {value:.4g}" for name, value in result.metrics.items())
        print(
            f"run {result.run_id}: EBM {result.task} of {result.target!r} on "
            f"{result.train_rows:,} rows; held out {result.test_rows:,}: {scores}"
        )
        print(f"model {result.model_uri}")
        print(
            f"explain it: mlworkbench report explain --run {result.run_id} "
            f"--data {data.source['path']} --target {result.target}"
        )
    return 0


COMMAND = Subcommand(
    "train-ebm",
    "train an Explainable Boosting Machine (InterpretML's glass-box model) as a new run",
    _configure,
    _run,
)
