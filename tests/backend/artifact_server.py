"""A remote artifact store without the network: MLflow's artifact HTTP API on 127.0.0.1.

`mlflow server --serve-artifacts` takes many seconds to start; MLflow's HTTP artifact client
needs only two calls (list a folder, get a file), served here from a plain folder in a thread.
An experiment whose artifact location is `location(name)` then has runs MLflow downloads from.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

API = "/api/2.0/mlflow-artifacts/artifacts"


@dataclass(frozen=True)
class ArtifactServer:
    base: str  # http://127.0.0.1:<port>
    folder: Path  # what it serves

    def location(self, name: str) -> str:
        """An experiment artifact location whose files live in `folder / name`."""
        return f"{self.base}{API}/{name}"


@contextmanager
def serve_artifacts(folder: Path) -> Iterator[ArtifactServer]:
    root = folder.resolve()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == API:  # list: ?path=<folder relative to the root>
                wanted = parse_qs(url.query).get("path", [""])[0]
                self._list(root / wanted)
            elif url.path.startswith(API + "/"):
                self._file(root / unquote(url.path[len(API) + 1 :]))
            else:
                self.send_error(404)

        def _list(self, path: Path) -> None:
            if path.is_file():
                files = [{"path": path.name, "is_dir": False, "file_size": path.stat().st_size}]
            elif path.is_dir():
                files = [
                    {"path": entry.name, "is_dir": entry.is_dir()}
                    | ({} if entry.is_dir() else {"file_size": entry.stat().st_size})
                    for entry in sorted(path.iterdir())
                ]
            else:
                files = []
            self._send(json.dumps({"files": files}).encode(), "application/json")

        def _file(self, path: Path) -> None:
            if not path.resolve().is_relative_to(root) or not path.is_file():
                self.send_error(404)
                return
            self._send(path.read_bytes(), "application/octet-stream")

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ArtifactServer(f"http://127.0.0.1:{server.server_address[1]}", root)
    finally:
        server.shutdown()
        server.server_close()
