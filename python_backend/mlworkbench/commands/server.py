"""`mlworkbench server start|stop|status`: the workspace's shared MLflow tracking server.

Runs on a cluster cannot write the workspace's `mlflow.db`; they track to this server instead
(URI + bearer token). Only the standard library at import, so `mlworkbench --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlworkbench.commands import Subcommand


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="server_action", required=True, metavar="ACTION")
    start = actions.add_parser("start", help="start the server (or show the running one)")
    start.add_argument(
        "--backend-store-uri",
        metavar="URI",
        help="e.g. postgresql+psycopg://user@host:5432/db (default: the workspace's mlflow.db)",
    )
    start.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; another one exposes the server, "
        "still behind its token)",
    )
    start.add_argument("--port", type=int, help="port (default: a free one)")
    actions.add_parser("stop", help="stop the server")
    status = actions.add_parser("status", help="is it running, where, on which store")
    for sub in (start, status):
        sub.add_argument("--json", action="store_true", help="print JSON on stdout")
    for sub in (start, actions.choices["stop"], status):
        sub.add_argument("--workspace", type=Path, help="workspace folder (default: cwd)")


def _run(args: argparse.Namespace) -> int:
    from mlworkbench.tracking import tracking_server

    workspace = (args.workspace or Path.cwd()).resolve()
    if args.server_action == "stop":
        stopped = tracking_server.stop_server(workspace)
        print("stopped" if stopped else "no server was running", file=sys.stderr)
        return 0
    if args.server_action == "start":
        info = tracking_server.start_server(
            workspace, backend_store_uri=args.backend_store_uri, host=args.host, port=args.port
        )
    else:
        found = tracking_server.server_status(workspace)
        if found is None:
            if args.json:
                print(json.dumps({"alive": False}))
            else:
                print("no tracking server runs for this workspace", file=sys.stderr)
            return 1
        info = found
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
    else:
        print(f"{info.uri}  store {info.backend}  pid {info.pid}  up {info.uptime_s:.0f} s")
        print(f"log: {info.log_path}")
    return 0


COMMAND = Subcommand(
    name="server",
    help="the workspace's shared MLflow tracking server (start, stop, status)",
    configure=_configure,
    run=_run,
)
