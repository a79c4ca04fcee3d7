"""`mlworkbench runs compare RUN RUN…`: the Compare panel's table in a shell.

Human output puts one run per column and shows only the params that differ (the rest are
counted), then every latest metric; `--json` prints the library's CompareData unchanged (the
same JSON-safe shape the language server sends) and `--csv` the table the panel exports.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mlworkbench.commands.text_table import render_table


def _max_points(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 8:
        raise argparse.ArgumentTypeError(f"expected at least 8, got {value}")
    return value


def configure(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `compare` to the `runs` subcommand's actions."""
    parser = actions.add_parser(
        "compare",
        help="compare runs: changed params and latest metrics",
        description=(
            "Compare runs side by side. RUN is a run id or a unique prefix of at least 6 "
            "characters; give 1 to 200 runs."
        ),
    )
    parser.add_argument("run_ids", nargs="+", metavar="RUN", help="run ids to compare")
    parser.add_argument(
        "--workspace", type=Path, default=None, help="workspace folder (default: cwd)"
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--json", action="store_true", help="print params, metrics and histories as JSON"
    )
    output.add_argument("--csv", action="store_true", help="print one CSV row per run")
    parser.add_argument(
        "--max-points",
        type=_max_points,
        default=2000,
        metavar="N",
        help="points per metric history in --json before downsampling (default: 2000)",
    )
    parser.set_defaults(runs_run=run)


def run(args: argparse.Namespace) -> int:
    from mlworkbench.explorer.run_compare import compare_runs, compare_table_csv
    from mlworkbench.explorer.run_lookup import resolve_run_id

    workspace = (args.workspace or Path.cwd()).resolve()
    run_ids = [resolve_run_id(workspace, text) for text in args.run_ids]
    data = compare_runs(
        workspace,
        run_ids,
        max_points=args.max_points,
        metric_keys=None if args.json else [],  # histories only where they are printed
    )
    if args.json:
        print(json.dumps(data.to_dict(), indent=2, allow_nan=False))
        return 0
    if args.csv:
        print(compare_table_csv(data), end="")
        return 0
    rows = [["", *(run.run_id[:8] for run in data.runs)]]
    rows.append(["name", *(run.run_name for run in data.runs)])
    rows.append(["status", *(run.status for run in data.runs)])
    for key in data.changed_param_keys:
        rows.append([f"params.{key}", *(run.params.get(key, "-") for run in data.runs)])
    for key in data.metric_keys:
        rows.append([f"metrics.{key}", *(_number(run.metrics, key) for run in data.runs)])
    print("\n".join(render_table(rows)))
    same = len(data.param_keys) - len(data.changed_param_keys)
    if same:
        print(f"({same} param{'s' if same != 1 else ''} with the same value in every run)")
    return 0


def _number(metrics: dict[str, float | None], key: str) -> str:
    if key not in metrics:
        return "-"
    value = metrics[key]
    return "nan" if value is None else f"{value:.6g}"
