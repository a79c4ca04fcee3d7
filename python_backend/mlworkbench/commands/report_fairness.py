"""`mlworkbench report fairness` and `mlworkbench report mitigate`: a model's metrics by
sensitive group, and a mitigated model as a new run.

report.py gathers them under `mlworkbench report`; the language server runs these same verbs
(reports_requests.py). Only the standard library is imported here: pandas, Fairlearn and MLflow
load inside the actions, so `mlworkbench --help` stays fast.
"""

from __future__ import annotations

import argparse

from mlworkbench.commands import Subcommand, report_common


def _sensitive(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("name at least one column")
    return names


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {value}")
    return value


def _add_common(parser: argparse.ArgumentParser) -> None:
    report_common.add_model_args(parser)
    report_common.add_data_args(parser)
    parser.add_argument(
        "--sensitive",
        required=True,
        type=_sensitive,
        metavar="COL[,COL]",
        help="the sensitive feature column(s), comma-separated",
    )
    parser.add_argument(
        "--pos-label",
        default=None,
        metavar="VALUE",
        help="the positive class of the target (needed unless its labels are 0/1); with a "
        "multiclass target, that class against the rest",
    )
    report_common.add_workspace_args(parser)


def _configure_fairness(parser: argparse.ArgumentParser) -> None:
    _add_common(parser)
    parser.add_argument(
        "--min-group-size",
        type=_positive_int,
        default=30,
        metavar="N",
        help="flag groups with fewer rows (default: 30)",
    )
    parser.add_argument(
        "--max-groups",
        type=_positive_int,
        default=100,
        metavar="N",
        help="refuse sensitive features with more distinct values (default: 100)",
    )
    parser.add_argument(
        "--task",
        choices=("auto", "binary", "regression"),
        default="auto",
        help="binary classification or regression metrics (default: from the model)",
    )


def _fairness(args: argparse.Namespace) -> int:
    from mlworkbench.reports import report_progress
    from mlworkbench.reports.fairness_report import fairness_report
    from mlworkbench.reports.report_data import load_table
    from mlworkbench.reports.report_model import load_report_model

    report_common.set_progress(args)
    workspace = report_common.workspace_of(args)
    report_progress.step("Loading the model")
    model = load_report_model(workspace, run_id=args.run, model=args.model)
    report_progress.step("Reading the data set")
    data = load_table(args.data, workspace=workspace, max_bytes=report_common.max_bytes(args))
    document = fairness_report(
        data,
        model,
        args.target,
        args.sensitive,
        pos_label=args.pos_label,
        min_group_size=args.min_group_size,
        max_groups=args.max_groups,
        task=args.task,
    )
    return report_common.finish(args, document, model.run_id)


def _configure_mitigate(parser: argparse.ArgumentParser) -> None:
    _add_common(parser)
    parser.add_argument(
        "--method",
        choices=("threshold", "expgrad"),
        default="threshold",
        help="threshold: Fairlearn's ThresholdOptimizer on the fitted model; expgrad: "
        "ExponentiatedGradient, refitting a copy of it (default: threshold)",
    )
    parser.add_argument(
        "--constraint",
        choices=("demographic_parity", "equalized_odds"),
        default="demographic_parity",
        help="what the groups should share: selection rate, or error rates (default: "
        "demographic_parity)",
    )
    parser.add_argument(
        "--holdout",
        type=_fraction,
        default=0.3,
        metavar="FRACTION",
        help="rows kept out of fitting to compare before and after (default: 0.3; 0 uses all)",
    )


def _mitigate(args: argparse.Namespace) -> int:
    from mlworkbench.reports import report_progress
    from mlworkbench.reports.fairness_mitigation import mitigate
    from mlworkbench.reports.report_data import load_table
    from mlworkbench.reports.report_errors import InvalidReportInputError
    from mlworkbench.reports.report_model import load_report_model

    report_common.set_progress(args)
    if not args.run:
        raise InvalidReportInputError(
            "mitigation makes a new run beside the model's run: name the run (--run)",
            field="run",
        )
    workspace = report_common.workspace_of(args)
    report_progress.step("Loading the model")
    model = load_report_model(workspace, run_id=args.run, model=args.model)
    report_progress.step("Reading the data set")
    data = load_table(args.data, workspace=workspace, max_bytes=report_common.max_bytes(args))
    result = mitigate(
        data,
        model,
        args.target,
        args.sensitive,
        workspace=workspace,
        method=args.method,
        constraint=args.constraint,
        pos_label=args.pos_label,
        holdout=args.holdout,
    )
    if not args.json:
        print(f"mitigated model logged as {result.model_uri} in new run {result.run_id}")
    return report_common.finish(args, result.document, result.run_id)


FAIRNESS = Subcommand(
    "fairness",
    "a model's metrics by sensitive group and the disparities between groups (Fairlearn)",
    _configure_fairness,
    _fairness,
)
MITIGATE = Subcommand(
    "mitigate",
    "a fairer model as a new run: Fairlearn's ThresholdOptimizer or ExponentiatedGradient",
    _configure_mitigate,
    _mitigate,
)
