"""Running the model server: its socket, uvicorn in this process or in N worker processes.

The socket is bound here, before the model loads, so a port in use fails in a moment with its
number (not after a 30 s load, not as a uvicorn traceback) and port 0 is known before anything
is printed. It listens only once the model is loaded (`start_listening`, just before the URL is
printed): while it loads, connections are refused rather than left waiting. No shell is involved
anywhere (MLflow's `models serve` builds a `bash -c` string, which once carried a model URI:
CVE-2026-0596); workers are uvicorn's own spawned processes, given the settings through a 0600
file in the server's private folder.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from mlworkbench.deploy.serving_app import SETTINGS_ENV, GateSettings

if TYPE_CHECKING:
    import uvicorn

    from mlworkbench.deploy.model_source import ModelSource
    from mlworkbench.deploy.serving_app import ASGIApp

WORKERS_APP = "mlworkbench.deploy.serving_app:app_from_settings_file"
BACKLOG = 2048  # uvicorn's own default


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port), not yet listening; OSError as the OS says
    (EADDRINUSE for a port in use, EADDRNOTAVAIL for an address not on this machine).

    IPPROTO_TCP is explicit because asyncio sets TCP_NODELAY only on sockets that say so, and
    without it each answer waits out Nagle's algorithm against the client's delayed ACK (40 ms).
    SO_REUSEADDR, as uvicorn sets it, lets a restart bind beside connections in TIME_WAIT; on
    Linux it never lets two listeners share a port.
    """
    address = "127.0.0.1" if host == "localhost" else host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)  # uvicorn's spawned workers receive it
    return sock


def start_listening(sock: socket.socket) -> None:
    """Accept connections from now on (they wait in the backlog until uvicorn takes them)."""
    sock.listen(BACKLOG)


def uvicorn_config(app: ASGIApp | str, *, workers: int = 1) -> uvicorn.Config:
    import uvicorn

    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        workers=workers,
        http="h11",
        loop="asyncio",
        lifespan="off",
        access_log=False,  # a log line per request costs more than the fast path's predict
        proxy_headers=False,  # no proxy is trusted to rewrite the client's address
        server_header=False,
        log_level="warning",
        backlog=BACKLOG,
    )


def serve_in_process(app: ASGIApp, sock: socket.socket) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn's handlers), then return."""
    import uvicorn

    uvicorn.Server(uvicorn_config(app)).run(sockets=[sock])


def serve_workers(
    source: ModelSource,
    settings: GateSettings,
    sock: socket.socket,
    workers: int,
    private_folder: Path,
    *,
    fast_path: bool = True,
) -> None:
    """Serve with `workers` uvicorn processes, each loading the model itself."""
    from uvicorn.supervisors import Multiprocess

    path = private_folder / "settings.json"
    document = {
        "source": asdict(source),
        "token": settings.token,
        "hosts": sorted(settings.hosts) if settings.hosts is not None else None,
        "max_body_bytes": settings.max_body_bytes,
        "fast_path": fast_path,
    }
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(path, flags, 0o600), "w", encoding="utf-8") as handle:
        json.dump(document, handle)
    os.environ[SETTINGS_ENV] = str(path)
    Multiprocess(uvicorn_config(WORKERS_APP, workers=workers), sockets=[sock]).run()
