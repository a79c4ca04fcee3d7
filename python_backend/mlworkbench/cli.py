"""The `mlworkbench` command line: argument parsing and error reporting, nothing more.

Every subcommand lives in `mlworkbench.commands`; this module only wires them up and turns
`MlWorkbenchError` into `error: …` on stderr with exit status 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from mlworkbench import __version__
from mlworkbench.commands import (
    Subcommand,
    analyze,
    ci,
    compute,
    deploy,
    doctor,
    models,
    monitor,
    privacy,
    report,
    run,
    runs,
    serve,
    server,
    sweep,
    train_dp,
    train_ebm,
)
from mlworkbench.errors import MlWorkbenchError

# Listed in `mlworkbench --help` in this order.
SUBCOMMANDS: tuple[Subcommand, ...] = (
    analyze.COMMAND,
    run.COMMAND,
    sweep.COMMAND,
    compute.COMMAND,
    server.COMMAND,
    runs.COMMAND,
    models.COMMAND,
    report.COMMAND,
    train_ebm.COMMAND,
    train_dp.COMMAND,
    privacy.COMMAND,
    serve.COMMAND,
    deploy.COMMAND,
    ci.COMMAND,
    monitor.UI_COMMAND,
    monitor.TENSORBOARD_COMMAND,
    doctor.COMMAND,
)

HELP_COLUMN = 14
EXIT_USAGE = 2  # argparse's own status for bad arguments; user errors share it


def _help_formatter(prog: str) -> argparse.HelpFormatter:
    # The command list keeps its column where the short names put it: a long name
    # (`tensorboard`) wraps onto its own line instead of pushing every description right.
    return argparse.HelpFormatter(prog, max_help_position=HELP_COLUMN)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlworkbench",
        description="ML Workbench: train, track, explain and ship models from the command line.",
        formatter_class=_help_formatter,
    )
    parser.add_argument("--version", action="version", version=f"mlworkbench {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    for command in SUBCOMMANDS:
        subparser = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.configure(subparser)
        subparser.set_defaults(handler=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status (the console script passes it to sys.exit)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors exit inside argparse
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        status: int = args.handler(args)
        sys.stdout.flush()  # so a closed pipe shows up here, not at interpreter exit
    except MlWorkbenchError as exc:
        if os.environ.get("MLWORKBENCH_PROGRESS") == "json":
            # The language server started this CLI (a report, an image build): it re-raises
            # the typed error.
            from mlworkbench.cli_child import error_line

            print(error_line(exc), file=sys.stderr)
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`mlworkbench doctor --json | head`): not worth a traceback.
        # Point stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status
