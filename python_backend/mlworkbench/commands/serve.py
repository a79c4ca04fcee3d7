"""`mlworkbench serve`: answer predictions for one model over HTTP, MLflow's scoring protocol.

Binds 127.0.0.1 by default and requires a per-server bearer token on everything but the health
probes; prints the URL and the token once, then serves until Ctrl+C (or SIGTERM). `--no-token`
is for a container whose port only its own network reaches. Thin over `mlworkbench.deploy`:
model resolution in `model_source`, the app in `serving_app`, the socket and uvicorn in
`serving_process`.
"""

from __future__ import annotations

import argparse
import errno
import logging
import shutil
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from mlworkbench.commands import Subcommand

if TYPE_CHECKING:
    from mlworkbench.deploy.model_source import ModelSource
    from mlworkbench.deploy.serving_app import GateSettings

DEFAULT_PORT = 5001  # MLflow's `models serve` default, so clients move over unchanged
DEFAULT_MAX_BODY_MB = 10.0
EXIT_USAGE = 2
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _megabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size in MiB, got {text!r}") from None
    if not 0 < value <= 4096:
        raise argparse.ArgumentTypeError(f"expected more than 0 and at most 4096, got {value}")
    return value


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        metavar="URI",
        default=None,
        help="the model: a folder, models:/…, runs:/… or any MLflow model URI; with --run, "
        "which of the run's models (its label) when it logged several",
    )
    parser.add_argument("--run", metavar="RUN", default=None, help="serve this run's model")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; anything else is reachable by others)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--max-body-mb",
        type=_megabytes,
        default=DEFAULT_MAX_BODY_MB,
        metavar="MB",
        help=f"largest request body in MiB (default {DEFAULT_MAX_BODY_MB:g}); larger gets 413",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help="worker processes, each with its own copy of the model (default 1)",
    )
    token = parser.add_mutually_exclusive_group()
    token.add_argument(
        "--token-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="read the bearer token from FILE (default: a new random token, printed once)",
    )
    token.add_argument(
        "--no-token",
        action="store_true",
        help="serve without a token: only where nobody else can reach the port (a container "
        "whose port is published to no one else)",
    )
    parser.add_argument(
        "--no-fast-path",
        action="store_true",
        help="predict every request through MLflow's pyfunc (to compare with the fast path)",
    )
    parser.add_argument(
        "--workspace", type=Path, default=None, help="workspace folder (default: cwd)"
    )


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    from mlworkbench.deploy import serving_access
    from mlworkbench.deploy.model_source import resolve_model_source
    from mlworkbench.deploy.serving_app import GateSettings
    from mlworkbench.deploy.serving_process import bind_socket
    from mlworkbench.tracking.private_dirs import private_temp_dir

    if not args.model and not args.run:
        return _usage_error("name the model to serve: --model URI or --run RUN")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    workspace = (args.workspace or Path.cwd()).resolve()

    token: str | None = None
    if args.token_file is not None:
        try:
            token, warning = serving_access.read_token_file(args.token_file)
        except serving_access.TokenFileError as error:
            return _usage_error(str(error))
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
    elif not args.no_token:
        token = serving_access.new_token()

    source = resolve_model_source(workspace, model=args.model, run_id=args.run)
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as error:
        return _usage_error(_bind_failure(args.host, args.port, error))
    # SIGTERM (kill, docker stop) and SIGHUP (the terminal closed) stop the server like Ctrl+C,
    # so the private folder with the token is removed whichever ends it. uvicorn takes these
    # signals over while it serves and raises them again here once it has shut down.
    previous = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
    for sig in _STOP_SIGNALS:
        signal.signal(sig, _interrupt)
    private = private_temp_dir("mlworkbench-serve-")
    try:
        token_file: Path | None = args.token_file
        if token is not None and token_file is None:
            token_file = serving_access.write_token_file(token, private)
        settings = GateSettings(
            token=token,
            hosts=serving_access.allowed_hosts(args.host, sock.getsockname()[1]),
            max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        )
        _serve(args, source, settings, sock, private, token_file)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        shutil.rmtree(private, ignore_errors=True)
        for sig, handler in previous.items():
            if handler is not None:  # None: set outside Python, cannot be put back
                signal.signal(sig, handler)
    print("model server stopped", file=sys.stderr)
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _serve(
    args: argparse.Namespace,
    source: ModelSource,
    settings: GateSettings,
    sock: socket.socket,
    private: Path,
    token_file: Path | None,
) -> None:
    from mlworkbench.deploy.serving_app import create_app
    from mlworkbench.deploy.serving_model import serve_model
    from mlworkbench.deploy.serving_process import (
        serve_in_process,
        serve_workers,
        start_listening,
    )

    fast_path = not args.no_fast_path
    # Loaded here even with --workers, so a model that cannot load fails once, with its
    # reason, instead of in every worker uvicorn would start.
    served = serve_model(source, fast_path=fast_path)
    start_listening(sock)  # before the URL is printed, so whoever reads it can connect
    _announce(args, served.source.uri, served.run_id, sock, settings, token_file)
    if args.workers > 1:
        del served
        serve_workers(source, settings, sock, args.workers, private, fast_path=fast_path)
    else:
        serve_in_process(create_app(served, settings), sock)


def _announce(
    args: argparse.Namespace,
    uri: str,
    run_id: str | None,
    sock: socket.socket,
    settings: GateSettings,
    token_file: Path | None,
) -> None:
    from mlworkbench.deploy.serving_access import is_loopback

    address, port = sock.getsockname()[:2]
    shown = f"[{address}]" if ":" in address else address
    url = f"http://{shown}:{port}"
    if not is_loopback(args.host):
        print(
            f"warning: listening on {address}: other machines can reach this server"
            + ("" if settings.token else ", and with --no-token use it without a token"),
            file=sys.stderr,
        )
    elif settings.token is None:
        print(
            "warning: with --no-token any local user can call this server",
            file=sys.stderr,
        )
    print(f"Serving {uri}" + (f" (run {run_id})" if run_id else "") + f" at {url}")
    print(f"  POST {url}/invocations   GET {url}/health   GET {url}/version")
    if settings.token is not None:
        if args.token_file is None:
            print(f"  token: {settings.token}")
            print(f"  (also in {token_file}, readable only by you; removed when the server stops)")
        else:
            print(f"  token: the one in {token_file}")
        print("  send it as the header 'Authorization: Bearer <token>'")
    print("Press Ctrl+C to stop.", flush=True)


def _bind_failure(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use; stop what listens there, pick another "
            "port with --port N, or use --port 0 for a free one"
        )
    if error.errno == errno.EACCES:
        return f"not allowed to listen on port {port} on {host}; use a port above 1023"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: it is not an address of this machine"
    return f"cannot listen on {host}:{port}: {error.strerror or error}"


COMMAND = Subcommand(
    name="serve",
    help="serve one model's predictions over HTTP (MLflow's scoring protocol)",
    configure=_configure,
    run=_run,
)
