"""`mlworkbench sweep SCRIPT --param NAME=V1,V2 ... [-- ARGS]`: a hyper-parameter search of the
script's own parameters, each trial a tracked run nested under one parent run.

A line per trial start and end on stderr (progress steps as JSON lines when the language server
runs it, MLWORKBENCH_PROGRESS=json), the best trial at the end, `--json` for one document on
stdout. Ctrl+C or SIGTERM cancels the whole sweep (a second Ctrl+C kills the trials at once).
Exit status: 0 when some trial finished, 1 when every trial failed, 130 when cancelled.
`--target` takes the same values as `mlworkbench run --target`: each trial is then a Ray job
(`compute/ray_sweep.py`) tracking to a tracking server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from mlworkbench.commands import Subcommand

if TYPE_CHECKING:
    from mlworkbench.compute.ray_sweep import RayTrials
    from mlworkbench.compute.sweep_runner import Sweep, SweepResult, TrialOutcome

EXIT_ALL_FAILED = 1
EXIT_CANCELLED = 130


def _add_options(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--param",
        action="append",
        metavar="NAME=V1,V2",
        default=default([]),
        help="a script parameter and the values to try (repeat for each parameter)",
    )
    parser.add_argument(
        "--random",
        type=int,
        metavar="N",
        default=default(None),
        help="run N combinations drawn at random instead of the whole grid",
    )
    parser.add_argument(
        "--seed", type=int, default=default(None), help="seed of --random (default: drawn)"
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        metavar="N",
        default=default(1),
        help="trials running at once (default: 1)",
    )
    parser.add_argument(
        "--metric", default=default(None), help="the metric that picks the best trial"
    )
    parser.add_argument(
        "--mode",
        choices=("min", "max"),
        default=default("max"),
        help="whether the best trial has the lowest or highest --metric (default: max)",
    )
    parser.add_argument("--experiment", default=default(None), help="MLflow experiment name")
    parser.add_argument(
        "--run-name", default=default(None), help="the parent run's name; trials get NAME-<n>"
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        default=default(None),
        help="workspace folder, as for `mlworkbench run` (default: cwd)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print the sweep's outcome as JSON on stdout",
    )
    parser.add_argument(
        "--target",
        default=default(None),
        metavar="TARGET",
        help="where the trials run: local (default), ray (the workbench's local Ray cluster, "
        "`mlworkbench compute start`) or a Ray dashboard address http://host:port",
    )
    parser.add_argument(
        "--tracking-uri",
        default=default(None),
        metavar="URI",
        help="the tracking store (default: MLFLOW_TRACKING_URI, else the workspace's "
        "mlflow.db); a Ray target needs a tracking server's http(s):// URI",
    )


def _configure(parser: argparse.ArgumentParser) -> None:
    _add_options(parser)
    parser.add_argument("script", type=Path, help="the Python training script to sweep")
    parser.add_argument(
        "rest",
        nargs=argparse.REMAINDER,
        metavar="-- ARGS",
        help="arguments every trial passes to the script, after --",
    )


def split_rest(args: argparse.Namespace) -> list[str]:
    """Our options may follow SCRIPT (argparse hands everything after it over unparsed);
    only words after `--` go to the script, so a mistyped option is not silently passed on."""
    rest = list(args.rest)
    cut = rest.index("--") if "--" in rest else len(rest)
    ours = argparse.ArgumentParser(prog="mlworkbench sweep", add_help=False)
    _add_options(ours, defaults=False)
    ours.parse_args(rest[:cut], namespace=args)  # exits with usage on an unknown word
    return rest[cut + 1 :]


def _run(args: argparse.Namespace) -> int:
    from mlworkbench.compute.sweep_plan import plan_sweep
    from mlworkbench.compute.sweep_runner import Sweep
    from mlworkbench.reports.report_progress import step

    fixed_args = split_rest(args)
    workspace = (args.workspace or Path.cwd()).resolve()
    script = args.script if args.script.is_absolute() else Path.cwd() / args.script
    launcher, tracking_uri = _target(args.target or "local", args.tracking_uri)
    started = time.monotonic()
    plan = plan_sweep(
        script,
        args.param,
        workspace=workspace,
        random_trials=args.random,
        seed=args.seed,
        max_concurrent=args.max_concurrent,
        metric=args.metric,
        mode=args.mode,
        fixed_args=fixed_args,
        experiment=args.experiment,
        run_name=args.run_name,
        tracking_uri=tracking_uri,
    )
    seed = f" (seed {plan.seed})" if plan.seed is not None else ""
    where = f" with Ray Tune on {launcher.address}" if launcher is not None else ""
    step(
        f"Sweeping {len(plan.trials)} trials{seed}, {plan.max_concurrent} at a time{where}: "
        f"{plan.strategy} over {', '.join(p.name for p in plan.space.parameters)}"
    )
    sweep = Sweep(plan, launcher=launcher)
    # MLflow's client prints "View run … at: …" on stdout when it ends a run on a tracking
    # server (the parent, a job's run it ends for Ray): stdout stays the one JSON document.
    with _cancel_on_signals(sweep), contextlib.redirect_stdout(sys.stderr):
        result = sweep.run(on_event=_progress_printer(plan.metric))
    _print_summary(result, time.monotonic() - started)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    if result.status == "KILLED":
        return EXIT_CANCELLED
    return EXIT_ALL_FAILED if result.status == "FAILED" else 0


def _target(target: str, tracking_uri: str | None) -> tuple[RayTrials | None, str | None]:
    """The trials' launcher (None: this machine) and tracking URI for `--target`, by the rules
    of `mlworkbench run --target`: the target comes from the command line only (a repository
    must not choose where its code is sent), and a Ray target needs a tracking server."""
    if target == "local":
        return None, tracking_uri
    from mlworkbench.compute.ray_cluster import resolve_target
    from mlworkbench.compute.ray_jobs import require_tracking_server
    from mlworkbench.compute.ray_sweep import RayTrials

    address = resolve_target(target)
    uri = require_tracking_server(tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"))
    return RayTrials(address), uri


def _progress_printer(metric: str | None) -> Callable[[TrialOutcome, int], None]:
    from mlworkbench.reports.report_progress import PROGRESS_ENV, step

    def on_event(trial: TrialOutcome, total: int) -> None:
        line = f"trial {trial.index}/{total} {_describe(trial.values)}: {trial.status}"
        if trial.status == "RUNNING":
            line = f"trial {trial.index}/{total} {_describe(trial.values)}: started"
            line += f" (run {trial.run_id})"
        elif metric is not None and trial.metric is not None:
            line += f" {metric}={trial.metric:.6g}"
        elif trial.status != "FINISHED" and trial.error:
            line += f" ({_last_line(trial.error)})"
        if os.environ.get(PROGRESS_ENV) == "json":
            step(line)  # the language server turns each into a progress report
        else:
            print(line, file=sys.stderr, flush=True)

    return on_event


def _print_summary(result: SweepResult, elapsed_s: float) -> None:
    counts = ", ".join(
        f"{result.count(status)} {status.lower().replace('_', ' ')}"
        for status in ("FINISHED", "FAILED", "KILLED", "NOT_RUN")
        if result.count(status) or status == "FINISHED"
    )
    best = result.best
    if best is not None:
        print(
            f"best: trial {best.index} {_describe(best.values)} {result.metric}={best.metric:.6g} "
            f"(run {best.run_id})",
            file=sys.stderr,
        )
    elif result.metric is not None:
        print(f"best: no finished trial logged {result.metric}", file=sys.stderr)
    print(
        f"sweep {result.parent_run_id} {result.status.lower()}: {counts} in {elapsed_s:.1f} s; "
        f"experiment {result.experiment_id}, tracking {result.tracking_uri}",
        file=sys.stderr,
    )


def _describe(values: dict[str, Any]) -> str:
    return " ".join(f"{name}={value}" for name, value in values.items())


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else ""


@contextmanager
def _cancel_on_signals(sweep: Sweep) -> Iterator[None]:
    """Ctrl+C and SIGTERM cancel the whole sweep instead of stopping this process mid-way:
    every trial in flight ends KILLED and the parent run records it. A second Ctrl+C drops
    the trials' grace period."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        first = not sweep.cancelled.is_set()
        if first:
            print("cancelling the sweep…", file=sys.stderr, flush=True)
        sweep.cancel(grace_s=None if first else 0.0)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


COMMAND = Subcommand(
    name="sweep",
    help="run a grid or random search of a script's parameters as nested tracked runs",
    configure=_configure,
    run=_run,
)
