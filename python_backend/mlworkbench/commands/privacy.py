"""`mlworkbench privacy ACTION`: differentially private releases of a data set, each charged to
the data set's privacy ledger before any noise is drawn.

- `synth`: a synthetic copy (MST on OpenDP) and its utility report;
- `query`: one SQL aggregate query answered with calibrated noise;
- `ledger`: what has been spent, per data set.

Every input is checked before the ledger is charged, so a refused release spends nothing; the
report goes under the ledger's run for the spend. Only the standard library is imported here:
pandas, OpenDP and MLflow load inside the actions.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlworkbench.commands import Subcommand, report_common

if TYPE_CHECKING:
    from mlworkbench.reports.report_document import ReportDocument

SYNTHESIZERS = ("mst", "aim", "mwem")


def _bounds(text: str) -> dict[str, tuple[float, float]]:
    """`COL=LOW:HIGH[,COL=LOW:HIGH]…` as {column: (low, high)}."""
    bounds: dict[str, tuple[float, float]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, equals, span = item.rpartition("=")
        low, colon, high = span.partition(":")
        try:
            if not (equals and colon and name.strip()):
                raise ValueError
            lo, hi = float(low), float(high)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected COL=LOW:HIGH (e.g. age=0:100), got {item!r}"
            ) from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise argparse.ArgumentTypeError(f"{name}: LOW must be a number below HIGH")
        bounds[name.strip()] = (lo, hi)
    return bounds


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _spend_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--epsilon",
        type=float,
        required=True,
        metavar="E",
        help="the privacy loss to spend (> 0; smaller is more private and noisier)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        metavar="B",
        help="the data set's total epsilon budget (default: 10)",
    )
    parser.add_argument(
        "--bounds",
        type=_bounds,
        action="append",
        default=None,
        metavar="COL=LO:HI[,…]",
        help="public ranges of numeric columns; values outside are clamped",
    )


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(title="actions", metavar="ACTION", dest="privacy_action")
    actions.required = True

    synth = actions.add_parser(
        "synth",
        help="a differentially private synthetic copy of a data set (MST), with a utility report",
        description=(
            "Make a synthetic copy of FILE with MST: noisy 1-way marginals, a spanning tree of "
            "column pairs chosen with the exponential mechanism, noisy 2-way marginals on it, "
            "rows sampled from the tree (all noise from OpenDP). Numeric columns are binned: "
            "declare their public ranges with --bounds, or 10%% of epsilon estimates them. "
            "Each categorical column's values are treated as public."
        ),
    )
    report_common.add_data_args(synth, target=False)
    _spend_args(synth)
    synth.add_argument(
        "--synthesizer",
        choices=SYNTHESIZERS,
        default="mst",
        help="mst (default; the only one implemented so far)",
    )
    synth.add_argument(
        "--out-data",
        type=Path,
        default=None,
        metavar="FILE",
        help="where the synthetic CSV goes (default: <data>.synthetic.csv beside the data)",
    )
    synth.add_argument("--force", action="store_true", help="overwrite --out-data when it exists")
    synth.add_argument(
        "--rows",
        type=_positive_int,
        default=None,
        metavar="N",
        help="synthetic rows (default: the noisy row count of the data)",
    )
    synth.add_argument(
        "--categorical",
        type=_names,
        default=[],
        metavar="COL[,COL]",
        help="numeric columns to treat as categories (their values become public)",
    )
    synth.add_argument(
        "--bins", type=_positive_int, default=10, metavar="N", help="bins per numeric column"
    )
    synth.add_argument(
        "--max-categories",
        type=_positive_int,
        default=100,
        metavar="N",
        help="refuse categorical columns with more values (default: 100)",
    )
    synth.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the sampling from the noisy marginals (the noise itself is never seeded)",
    )
    report_common.add_workspace_args(synth)
    synth.set_defaults(privacy_run=_synth)

    query = actions.add_parser(
        "query",
        help="answer one SQL query (COUNT, SUM, AVG, WHERE, GROUP BY) with differential privacy",
        description=(
            "Answer SQL over the table `data` (FILE) with OpenDP noise: "
            "SELECT [cols,] COUNT(*)|COUNT(col)|SUM(col)|AVG(col) … FROM data "
            "[WHERE col = value [AND …]] [GROUP BY cols]. Epsilon is split evenly over the "
            "aggregates; SUM and AVG need --bounds for their columns. The values of GROUP BY "
            "columns in the file are treated as public."
        ),
    )
    report_common.add_data_args(query, target=False)
    query.add_argument("--sql", required=True, help="the query, e.g. 'SELECT COUNT(*) FROM data'")
    _spend_args(query)
    query.add_argument(
        "--max-groups",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="refuse GROUP BY with more groups (default: 1000)",
    )
    report_common.add_workspace_args(query)
    query.set_defaults(privacy_run=_query)

    ledger = actions.add_parser(
        "ledger",
        help="the epsilon spent on each data set, release by release",
        description=(
            "List the privacy ledger (the `privacy` experiment's runs): every release, its "
            "mechanism and epsilon. With --data, only that data set, with its total against "
            "the budget (sequential composition: the epsilons add up)."
        ),
    )
    ledger.add_argument(
        "--data", type=Path, default=None, metavar="FILE", help="only this data set"
    )
    ledger.add_argument(
        "--budget", type=float, default=None, metavar="B", help="budget to compare with (10)"
    )
    ledger.add_argument(
        "--workspace", type=Path, default=None, help="workspace folder (default: cwd)"
    )
    ledger.add_argument("--json", action="store_true", help="print the ledger as JSON")
    ledger.set_defaults(privacy_run=_ledger)


def _run(args: argparse.Namespace) -> int:
    status: int = args.privacy_run(args)
    return status


def _merged_bounds(args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    merged: dict[str, tuple[float, float]] = {}
    for bounds in args.bounds or []:
        merged.update(bounds)
    return merged


def _synth(args: argparse.Namespace) -> int:
    from mlworkbench.privacy import privacy_ledger
    from mlworkbench.privacy.dp_synth import plan_synthesis, synthesize_mst
    from mlworkbench.privacy.synth_report import synth_document
    from mlworkbench.reports import report_progress
    from mlworkbench.reports.report_data import load_table
    from mlworkbench.reports.report_errors import InvalidReportInputError

    report_common.set_progress(args)
    workspace = report_common.workspace_of(args)
    epsilon = privacy_ledger.check_epsilon(args.epsilon)
    budget = privacy_ledger.check_budget(args.budget)
    if args.synthesizer != "mst":
        raise InvalidReportInputError(
            f"the {args.synthesizer} synthesizer is not implemented yet; use --synthesizer mst "
            "(MST: noisy marginals on a spanning tree of the columns)",
            "synthesizer",
        )
    report_progress.step("Reading the data set")
    loaded = load_table(args.data, workspace=workspace, max_bytes=report_common.max_bytes(args))
    target = _synthetic_path(args, workspace)
    plan = plan_synthesis(
        loaded.frame,
        bounds=_merged_bounds(args),
        categorical=args.categorical,
        bins=args.bins,
        max_categories=args.max_categories,
    )
    report_progress.step("Charging the privacy ledger")
    name = Path(loaded.source["path"]).name
    charge = privacy_ledger.charge(
        workspace,
        loaded.source,
        epsilon,
        mechanism="synth mst",
        budget=budget,
        run_name=f"synth mst ε={epsilon:g} {name}",
        params={"synthesizer": "mst", "bins": args.bins, "rows": args.rows or "noisy count"},
    )
    run_id = charge.entry.run_id
    try:
        report_progress.step("Measuring marginals")
        result = synthesize_mst(loaded.frame, plan, epsilon, rows=args.rows, seed=args.seed)
        report_progress.step("Writing the synthetic data")
        _write_csv(result.frame, target, force=args.force)
        entries = privacy_ledger.ledger(workspace, loaded.source["sha256"])
        document = synth_document(loaded.frame, result, charge, entries, loaded.source, str(target))
        if not args.no_log:
            distances = list(document["details"]["totalVariation"].values())
            _log_synthetic(workspace, run_id, target, distances, len(result.frame))
    except BaseException as error:
        privacy_ledger.mark_failed(workspace, run_id, f"{type(error).__name__}: {error}")
        raise
    return _finish(args, document, run_id, [str(target)])


def _synthetic_path(args: argparse.Namespace, workspace: Path) -> Path:
    """Where the synthetic CSV goes, refused (before anything is spent) when it exists and
    --force was not given, or when it is the data file itself."""
    from mlworkbench.reports.report_errors import InvalidReportInputError

    data = _in_workspace(args.data, workspace)
    if args.out_data is None:
        stem = data.name[: -len(data.suffix)] if data.suffix else data.name
        target = data.with_name(f"{stem}.synthetic.csv")
    else:
        target = _in_workspace(args.out_data, workspace)
    if target.resolve() == data.resolve():
        raise InvalidReportInputError(
            f"--out-data {target} is the data file itself; choose another path", "out-data"
        )
    if (target.exists() or target.is_symlink()) and not args.force:
        raise InvalidReportInputError(
            f"{target} already exists; choose another --out-data, or pass --force to replace it",
            "out-data",
        )
    if not target.parent.is_dir():
        raise InvalidReportInputError(
            f"the folder of --out-data {target} does not exist", "out-data"
        )
    return target


def _in_workspace(path: Path, workspace: Path) -> Path:
    """`path` as given when absolute, else below the workspace (as load_table reads it)."""
    expanded = Path(path).expanduser()
    return expanded if expanded.is_absolute() else workspace / expanded


def _write_csv(frame: Any, target: Path, *, force: bool) -> None:
    """Write without ever replacing a file unless `force`: an exclusive create fails on a file
    that appeared since the check; with `force`, a temporary file is renamed over it."""
    import os
    import tempfile

    if not force:
        with target.open("x", encoding="utf-8", newline="") as handle:
            frame.to_csv(handle, index=False)
        return
    fd, temporary = tempfile.mkstemp(prefix=".synthetic-", suffix=".csv", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            frame.to_csv(handle, index=False)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _log_synthetic(
    workspace: Path, run_id: str, target: Path, distances: list[float], rows: int
) -> None:
    """The synthetic CSV under `synthetic/` of the ledger's run, with its utility figures."""
    from mlworkbench.tracking.tracking_client import open_client

    client = open_client(workspace)
    if client is None:
        return
    client.log_artifact(run_id, str(target), "synthetic")
    client.log_metric(run_id, "tvd_mean", math.fsum(distances) / len(distances))
    client.log_metric(run_id, "tvd_max", max(distances))
    client.log_metric(run_id, "synthetic_rows", float(rows))


def _query(args: argparse.Namespace) -> int:
    from mlworkbench.privacy import privacy_ledger
    from mlworkbench.privacy.dp_query import answer_query, plan_query
    from mlworkbench.privacy.query_report import query_document
    from mlworkbench.privacy.sql_subset import parse_query
    from mlworkbench.reports import report_progress
    from mlworkbench.reports.report_data import load_table

    report_common.set_progress(args)
    workspace = report_common.workspace_of(args)
    epsilon = privacy_ledger.check_epsilon(args.epsilon)
    budget = privacy_ledger.check_budget(args.budget)
    query = parse_query(args.sql)
    report_progress.step("Reading the data set")
    loaded = load_table(args.data, workspace=workspace, max_bytes=report_common.max_bytes(args))
    plan = plan_query(loaded.frame, query, _merged_bounds(args), max_groups=args.max_groups)
    report_progress.step("Charging the privacy ledger")
    name = Path(loaded.source["path"]).name
    charge = privacy_ledger.charge(
        workspace,
        loaded.source,
        epsilon,
        mechanism="query",
        budget=budget,
        run_name=f"query ε={epsilon:g} {name}",
        params={"sql": query.text},
    )
    run_id = charge.entry.run_id
    try:
        report_progress.step("Answering with noise")
        answer = answer_query(loaded.frame, plan, epsilon)
        entries = privacy_ledger.ledger(workspace, loaded.source["sha256"])
        document = query_document(answer, plan, charge, entries, loaded.source)
    except BaseException as error:
        privacy_ledger.mark_failed(workspace, run_id, f"{type(error).__name__}: {error}")
        raise
    return _finish(args, document, run_id, [])


def _finish(
    args: argparse.Namespace, document: ReportDocument, run_id: str, written: list[str]
) -> int:
    """report_common.finish, plus the files the release itself wrote (the synthetic CSV). The
    run id is always given: the ledger's entry exists even when the report is not logged."""
    from mlworkbench.reports import report_progress
    from mlworkbench.reports.report_publish import publish

    report_progress.step("Saving the report")
    published = publish(
        document,
        workspace=report_common.workspace_of(args),
        run_id=None if args.no_log else run_id,
        out_dir=args.out,
    )
    if args.json:
        payload = {
            "document": document,
            "artifactPath": published.artifact_path,
            "runId": run_id,
            "files": [*written, *published.files],
        }
        json.dump(payload, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        report_common.print_human(document, published, run_id)
        for line in _answer_lines(document):
            print(line)
        for file in written:
            print(f"wrote {file}")
    return 0


def _answer_lines(document: ReportDocument) -> list[str]:
    """A query's noisy answer as a text table: at a terminal it is the point of the query."""
    from mlworkbench.commands.text_table import render_table

    for section in document["sections"]:
        if section["id"] == "answer" and "table" in section:
            columns = section["table"]["columns"]
            rows = [[column["label"] for column in columns]]
            for row in section["table"]["rows"]:
                rows.append([_cell(row.get(column["key"])) for column in columns])
            return render_table(rows, indent="  ")
    return []


def _cell(value: object) -> str:
    if value is None:
        return "—"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _ledger(args: argparse.Namespace) -> int:
    from mlworkbench.commands.text_table import format_time, render_table
    from mlworkbench.privacy import privacy_ledger
    from mlworkbench.reports.report_data import file_sha256
    from mlworkbench.reports.report_errors import ReportDataError

    workspace = report_common.workspace_of(args)
    budget = privacy_ledger.check_budget(args.budget)
    sha256 = None
    if args.data is not None:
        data = _in_workspace(args.data, workspace)
        if not data.is_file():
            raise ReportDataError(args.data, "no such file; check the path")
        sha256 = file_sha256(data)
    entries = privacy_ledger.ledger(workspace, sha256)
    totals: dict[str, float] = {}
    paths: dict[str, str] = {}
    for entry in entries:
        totals[entry.dataset] = totals.get(entry.dataset, 0.0) + entry.epsilon
        paths.setdefault(entry.dataset, entry.dataset_path)
    if args.json:
        payload = {
            "dataset": sha256,
            "budget": budget,
            "composition": "sequential",
            "datasets": [
                {
                    "dataset": key,
                    "path": paths[key],
                    "spent": _json_number(total),
                    "left": max(budget - total, 0.0),
                }
                for key, total in totals.items()
            ],
            "entries": [
                {
                    "runId": e.run_id,
                    "runName": e.run_name,
                    "dataset": e.dataset,
                    "path": e.dataset_path,
                    "mechanism": e.mechanism,
                    "epsilon": _json_number(e.epsilon),
                    "delta": e.delta,
                    "startTime": e.start_time,
                    "outcome": e.outcome,
                }
                for e in entries
            ],
        }
        json.dump(payload, sys.stdout, allow_nan=False, default=str)
        sys.stdout.write("\n")
        return 0
    if not entries:
        print("no epsilon spent" + (f" on {args.data}" if sha256 else " in this workspace"))
        return 0
    rows = [["WHEN", "DATA SET", "MECHANISM", "EPSILON", "OUTCOME", "RUN"]]
    rows += [
        [
            format_time(e.start_time),
            e.dataset_path,
            e.mechanism,
            f"{e.epsilon:g}",
            e.outcome,
            e.run_id,
        ]
        for e in entries
    ]
    print("\n".join(render_table(rows)))
    for key, total in totals.items():
        print(f"{paths[key]}: spent {total:g} of {budget:g}, {max(budget - total, 0.0):g} left")
    return 0


def _json_number(value: float) -> float | None:
    """A damaged ledger entry counts as infinite epsilon; JSON has no infinity, so it is null."""
    return value if math.isfinite(value) else None


COMMAND = Subcommand(
    "privacy",
    "differentially private synthetic data and queries, with a per-data-set epsilon ledger",
    _configure,
    _run,
)
