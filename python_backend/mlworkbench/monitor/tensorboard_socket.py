"""TensorBoard served on a Unix socket: `python tensorboard_socket.py --logdir DIR --socket PATH`.

`tensorboard` itself only listens on TCP, where every local user can reach it; the monitor
gate (`monitor_gate.py`) must be the only way in. TensorBoard's documented hook for this is
`program.TensorBoard(server_class=...)`: the class below serves TensorBoard's own WSGI app with
werkzeug's threaded server bound to `unix://PATH` (werkzeug's `make_server` supports it), in a
folder only this user can enter. `--load_fast=false` keeps TensorBoard from starting its Rust
data server, which would listen on a TCP port of its own.

Started as a file, not as `mlworkbench.monitor.tensorboard_socket`, and importing nothing of
mlworkbench: the interpreter that runs it needs tensorboard, not this package.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path
from typing import Any

# Run as a file, this folder would come first on sys.path, and its modules (`errors`, `runs`)
# could shadow what TensorBoard imports.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    del sys.path[0]


def _server_class(socket_path: str) -> Any:
    """A `TensorBoardServer` factory (`(wsgi_app, flags)`) bound to `socket_path`."""
    from tensorboard import program  # type: ignore[import-untyped]
    from werkzeug import serving

    class UnixSocketServer(program.TensorBoardServer):  # type: ignore[misc]
        def __init__(self, wsgi_app: Any, flags: Any) -> None:
            self._server = serving.make_server(f"unix://{socket_path}", 0, wsgi_app, threaded=True)

        def serve_forever(self) -> None:
            self._server.serve_forever()

        def get_url(self) -> str:
            return f"unix://{socket_path}"

    return UnixSocketServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logdir", required=True)
    parser.add_argument("--socket", required=True)
    args = parser.parse_args(argv)

    from tensorboard import default, program

    # Request lines go to the monitor's log at WARNING and above only, as `tensorboard` does.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    board = program.TensorBoard(
        plugins=default.get_plugins(), server_class=_server_class(args.socket)
    )
    board.configure(logdir=args.logdir, load_fast="false", bind_all=False)
    # `launch` (the public API) serves on a daemon thread and writes no TensorBoardInfo file,
    # which would advertise a TCP port that does not exist.
    where = board.launch()
    print(f"TensorBoard on {where}", file=sys.stderr, flush=True)
    threading.Event().wait()  # until SIGTERM, whose default action ends the process
    return 0


if __name__ == "__main__":
    sys.exit(main())
