"""`mlworkbench ui` and `mlworkbench tensorboard RUN`: the editor's monitor buttons in a shell.

Each starts its server through `mlworkbench.monitor.monitor_servers` (a private Unix socket
behind a loopback gate, as the editor's), prints the URL to open and stays in the foreground
until Ctrl+C (or SIGTERM / SIGHUP), then stops the server's whole process group; a Ctrl+C while
it is still starting stops it as soon as it is up. The URL carries the gate's one-time secret:
the first browser to open it gets the cookie.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from mlworkbench.commands import Subcommand

if TYPE_CHECKING:
    from mlworkbench.monitor.monitor_servers import MonitorInfo, MonitorManager

_POLL_S = 0.5
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
EXIT_CANCELLED = 130


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {value}")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=_port,
        default=None,
        metavar="N",
        help="listen on 127.0.0.1:N (default: a free port)",
    )
    parser.add_argument(
        "--workspace", type=Path, default=None, help="workspace folder (default: cwd)"
    )


def _configure_ui(parser: argparse.ArgumentParser) -> None:
    _common(parser)


def _configure_tensorboard(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="run id, or a unique prefix of 6+ characters")
    _common(parser)


def _ui(args: argparse.Namespace) -> int:
    workspace = (args.workspace or Path.cwd()).resolve()
    return _serve(
        "the MLflow UI",
        workspace,
        lambda manager: manager.ensure_mlflow_ui(workspace, port=args.port),
    )


def _tensorboard(args: argparse.Namespace) -> int:
    from mlworkbench.explorer.run_lookup import resolve_run_id

    workspace = (args.workspace or Path.cwd()).resolve()
    run_id = resolve_run_id(workspace, args.run)
    return _serve(
        f"TensorBoard for run {run_id}",
        workspace,
        lambda manager: manager.ensure_tensorboard(workspace, run_id, port=args.port),
    )


def _serve(what: str, workspace: Path, start: Callable[[MonitorManager], MonitorInfo]) -> int:
    from mlworkbench.monitor.monitor_servers import MonitorManager

    interrupted = False

    def defer(signum: int, frame: FrameType | None) -> None:
        # While the server starts, a KeyboardInterrupt would leave its process behind (the
        # manager only learns of it once it answers): note the signal, stop right after.
        nonlocal interrupted
        if not interrupted:
            print(f"stopping {what} as soon as it has started", file=sys.stderr, flush=True)
        interrupted = True

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # SIGTERM (kill, systemd) and SIGHUP (the terminal closed) stop the server like Ctrl+C:
    # it runs in its own session, so nothing else would.
    previous = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
    manager = MonitorManager()
    try:
        _handle(defer)
        info = start(manager)
        if interrupted:
            return EXIT_CANCELLED
        _handle(interrupt)
        print(f"{what}: open {info.url}", flush=True)
        if info.pid is None:  # the store is a tracking server: its own UI, nothing to keep
            return 0
        print(
            "(the link logs in one browser, once; press Ctrl+C to stop the server)",
            file=sys.stderr,
            flush=True,
        )
        while manager.running():
            time.sleep(_POLL_S)
        print(
            f"error: {what} exited; its log is under {workspace / '.mlworkbench' / 'monitors'}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"stopping {what}", file=sys.stderr, flush=True)
        return 0
    finally:
        _handle(signal.SIG_IGN)  # a second Ctrl+C must not cut the stop short
        try:
            manager.stop_all()
        finally:
            for sig, handler in previous.items():
                if handler is not None:  # None: set outside Python, cannot be put back
                    signal.signal(sig, handler)


def _handle(handler: Callable[[int, FrameType | None], None] | signal.Handlers) -> None:
    for sig in _STOP_SIGNALS:
        signal.signal(sig, handler)


UI_COMMAND = Subcommand(
    name="ui",
    help="open the MLflow UI on the workspace's runs (until Ctrl+C)",
    configure=_configure_ui,
    run=_ui,
)

TENSORBOARD_COMMAND = Subcommand(
    name="tensorboard",
    help="open TensorBoard on a run's event files (until Ctrl+C)",
    configure=_configure_tensorboard,
    run=_tensorboard,
)
