"""One JSON object per line over a Unix socket, and who is at the other end.

The warm pool (warm_server.py), its model-requirements helper (capture_zygote.py) and their
clients (warm_pool.py, child/model_requirements.py) all speak this. Stdlib only: the pool and
the helper run as files in the user's interpreter and load it by path.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
from typing import Any

SEND_TIMEOUT_S = 5.0


def peer_uid(conn: socket.socket) -> int | None:
    """The uid of the process at the other end (SO_PEERCRED), or None where the platform has
    no such option: then the caller must not trust the peer."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None or not sys.platform.startswith("linux"):
        return None
    raw = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


def read_line(conn: socket.socket) -> str:
    """Everything up to the first newline (or the peer's end), under the socket's timeout."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode()


def send(conn: socket.socket, message: dict[str, Any]) -> bool:
    """Write `message` as one line; False when the peer has gone (never raises)."""
    try:
        conn.settimeout(SEND_TIMEOUT_S)
        conn.sendall(json.dumps(message).encode() + b"\n")
    except OSError:
        return False
    return True
