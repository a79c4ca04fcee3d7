"""`mlworkbench run SCRIPT [-- ARGS...]`: the editor's Run lens, in a shell or a CI job.

Streams the script's output (to stderr with --json, so stdout stays one JSON document), ends
with a one-line summary, and exits with the script's exit status: 130 when cancelled with
Ctrl+C, which interrupts the script's process group and marks the run KILLED.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from mlworkbench.commands import Subcommand

EXIT_CANCELLED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process SIGTERM ended
TERMINATED_GRACE_S = 0.5  # a caller that sends SIGTERM kills after its own grace (2 s)


def _add_options(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    default = None if defaults else argparse.SUPPRESS
    parser.add_argument(
        "--experiment", default=default, help="MLflow experiment name (default: Default)"
    )
    parser.add_argument(
        "--run-name", default=default, help="the run's name (default: MLflow picks one)"
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        default=default,
        help="workspace folder: the script's working directory, whose mlflow.db is the default "
        "tracking store (default: cwd)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if defaults else argparse.SUPPRESS,
        help="print the run's outcome as JSON on stdout",
    )
    parser.add_argument(
        "--target",
        default=default,
        metavar="TARGET",
        help="where the script runs: local (default), ray (the workbench's local Ray cluster, "
        "`mlworkbench compute start`) or a Ray dashboard address http://host:port",
    )
    parser.add_argument(
        "--tracking-uri",
        default=default,
        metavar="URI",
        help="the tracking store (default: MLFLOW_TRACKING_URI, else the workspace's "
        "mlflow.db); a Ray target needs a tracking server's http(s):// URI",
    )


def _configure(parser: argparse.ArgumentParser) -> None:
    _add_options(parser)
    parser.add_argument("script", type=Path, help="the Python training script to run")
    parser.add_argument(
        "rest",
        nargs=argparse.REMAINDER,
        metavar="-- ARGS",
        help="arguments for the script, after --",
    )


def split_rest(args: argparse.Namespace) -> list[str]:
    """Our options written after SCRIPT go to us, everything after `--` to the script.

    argparse stops at the first positional (SCRIPT) and hands the rest over unparsed, so the
    documented form `run SCRIPT [--json] [-- ARGS]` is parsed here. Words before `--` that are
    not our options also go to the script, in order.
    """
    rest = list(args.rest)
    cut = rest.index("--") if "--" in rest else len(rest)
    head, tail = rest[:cut], rest[cut + 1 :]
    ours = argparse.ArgumentParser(add_help=False)
    _add_options(ours, defaults=False)
    _, unknown = ours.parse_known_args(head, namespace=args)
    return [*unknown, *tail]


def _writer(stream: TextIO) -> Callable[[str], None]:
    """Write the script's output as it comes, whatever the terminal's encoding."""
    buffer = getattr(stream, "buffer", None)
    encoding = getattr(stream, "encoding", None) or "utf-8"

    def write(text: str) -> None:
        if buffer is not None:
            stream.flush()
            buffer.write(text.encode(encoding, errors="replace"))
            buffer.flush()
        else:
            stream.write(text)
            stream.flush()

    return write


def _run(args: argparse.Namespace) -> int:
    from mlworkbench.launch.launcher import start_run

    script_args = split_rest(args)
    workspace = (args.workspace or Path.cwd()).resolve()
    script = args.script if args.script.is_absolute() else Path.cwd() / args.script
    target = args.target or "local"
    if target != "local":
        return _run_on_ray(args, target, script, script_args, workspace)
    started = time.monotonic()
    handle = start_run(
        script,
        script_args,
        workspace=workspace,
        experiment=args.experiment,
        run_name=args.run_name,
        tracking_uri=args.tracking_uri,
    )
    on_output = _writer(sys.stderr if args.json else sys.stdout)
    cancelled, exit_code = False, EXIT_CANCELLED
    with _terminate_as_interrupt() as terminated:
        while True:
            try:
                result = handle.wait(on_output=on_output)
                break
            except KeyboardInterrupt:
                # First Ctrl+C: interrupt the script and let it clean up; second: kill it now.
                # SIGTERM (`kill`, a caller's cancel that escalated): the same, with the short
                # grace a process being terminated has left.
                if terminated():
                    handle.cancel(grace_s=TERMINATED_GRACE_S)
                    exit_code = EXIT_TERMINATED
                else:
                    handle.cancel(grace_s=0.0 if cancelled else 5.0)
                cancelled = True
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    print(
        f"run {result.run_id} {result.status.lower()} (exit code {result.exit_code}) in "
        f"{time.monotonic() - started:.1f} s; experiment {result.experiment_id}, "
        f"tracking {handle.tracking_uri}",
        file=sys.stderr,
    )
    return exit_code if cancelled else result.exit_code


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[Callable[[], bool]]:
    """While the run is waited for, SIGTERM interrupts the wait as Ctrl+C does; yields whether
    it came.

    Why: the script runs in a process group of its own (so Ctrl+C and cancel reach all it
    started), which a signal to this process does not reach. Terminated by default, this
    process died and left the run going: a report cancelled from the editor escalates to
    SIGTERM after its grace (cli_child.py), and a script that ignored the interrupt, or a
    process started with SIGINT ignored (a job a shell put in the background), ran on.
    """
    import signal

    came: list[int] = []

    def interrupt(signum: int, frame: object) -> None:
        came.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield lambda: bool(came)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_on_ray(
    args: argparse.Namespace, target: str, script: Path, script_args: list[str], workspace: Path
) -> int:
    """The same run on a Ray cluster: same output, summary line and exit status; Ctrl+C stops
    the job (the run ends KILLED). The target comes from the command line only, never from a
    workspace file: a repository must not choose where its code is sent."""
    import os

    from mlworkbench.compute.ray_cluster import resolve_target
    from mlworkbench.compute.ray_jobs import submit_run
    from mlworkbench.compute.ray_tracking import tracking_for_ray

    address = resolve_target(target)
    named = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    uri, env = tracking_for_ray(workspace, named, start=False)
    started = time.monotonic()
    handle = submit_run(
        address,
        script,
        script_args,
        workspace=workspace,
        tracking_uri=uri,
        experiment=args.experiment,
        run_name=args.run_name,
        env=env,  # the token for that server only
    )
    print(f"run {handle.run_id}: Ray job {handle.job_id} on {address}", file=sys.stderr)
    on_output = _writer(sys.stderr if args.json else sys.stdout)
    cancelled = False
    while True:
        try:
            # MLflow prints "View run … at" on stdout when it ends a run on a server: with --json,
            # stdout stays the one JSON document.
            with contextlib.redirect_stdout(sys.stderr):
                result = handle.wait(on_output=on_output)
            break
        except KeyboardInterrupt:
            handle.cancel()
            cancelled = True
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    if result.message and result.status != "FINISHED":
        print(result.message, file=sys.stderr)  # above the summary, which stays last
    print(
        f"run {result.run_id} {result.status.lower()} (exit code {result.exit_code}) in "
        f"{time.monotonic() - started:.1f} s; experiment {result.experiment_id}, "
        f"tracking {uri}; Ray job {result.job_id} {result.job_status.lower()}",
        file=sys.stderr,
    )
    return EXIT_CANCELLED if cancelled else (result.exit_code or 0)


COMMAND = Subcommand(
    name="run",
    help="run a training script inside a tracked MLflow run, with autologging",
    configure=_configure,
    run=_run,
)
