"""The loopback gate in front of the MLflow UI and TensorBoard: host check, secret, proxy.

The servers themselves listen on a Unix socket inside a private folder (mode 0700), which no
other local user can enter; the browser reaches them only through this gate, which this
process binds on 127.0.0.1:<port> itself. So a port that something else took fails at bind
(no squatter's page is ever opened as ours), a request whose Host header is not one the editor
named is refused (DNS rebinding), and a request without the per-server secret is refused (other
users on a shared machine). The secret comes once in the URL the editor opens
(`?mlwb-token=...`); the gate trades it for an HttpOnly cookie and redirects to the same page
without it, so it does not linger in the address bar, history or Referer headers.

Written on the standard library's threading HTTP server: the traffic is one user's browser, and
a proxy here needs no dependency the selected interpreter might lack.
"""

from __future__ import annotations

import contextlib
import hmac
import http.client
import secrets
import socket
import socketserver
import sys
import tempfile
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
TOKEN_PARAM = "mlwb-token"  # noqa: S105 (a parameter name, not a password)
COOKIE_PREFIX = "mlwb-gate-"
CHUNK = 64 * 1024
# Long enough for a slow MLflow search; an idle browser connection is closed after it.
BACKEND_TIMEOUT_S = 300.0
IDLE_TIMEOUT_S = 120.0
# Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never forwarded;
# Expect is answered by the gate itself before the body is read.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)


def private_socket(name: str) -> Path:
    """A path for a server's Unix socket, in a new folder only this user can enter.

    `mkdtemp` makes the folder with mode 0700 under a random name (O_EXCL semantics), so no
    other user can have made it first, connect to the socket in it, or swap it for another.
    """
    return Path(tempfile.mkdtemp(prefix=f"mlworkbench-{name}-")) / f"{name}.sock"


class _UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over the backend's Unix socket (the URL's host part is only a label)."""

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def socket_get(
    path: Path, target: str, host: str, timeout_s: float = 2.0
) -> tuple[int, bytes] | None:
    """GET `target` over a Unix socket: (status, body), or None while nothing answers there."""
    connection = _UnixHTTPConnection(path, timeout_s)
    try:
        connection.request("GET", target, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


class MonitorGate:
    """A reverse proxy on 127.0.0.1:`port` to the HTTP server on the Unix socket `backend`.

    The constructor binds the port (OSError when it is taken: EADDRINUSE); `start` serves it on
    a background thread, `close` stops serving and cuts the connections still open.
    """

    def __init__(self, backend: Path, *, port: int = 0, extra_hosts: Sequence[str] = ()) -> None:
        self.backend = backend
        self.secret = secrets.token_urlsafe(32)
        # HTTPServer asks for SO_REUSEADDR, which lets a listener bind beside a TIME_WAIT
        # socket but never beside another listener on Linux: a taken port fails right here.
        self._server = _GateServer((HOST, port), _GateHandler)
        self._server.gate = self
        self.port: int = self._server.server_address[1]
        # Host names are case-insensitive; the port must be exactly the one in the name.
        self.allowed_hosts: tuple[str, ...] = tuple(
            dict.fromkeys(
                host.lower()
                for host in (f"{HOST}:{self.port}", f"localhost:{self.port}", *extra_hosts)
            )
        )
        self.cookie_name = f"{COOKIE_PREFIX}{self.port}"  # browsers share cookies across ports
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The URL that logs a browser in: it carries the secret, so it is never logged."""
        return f"http://{HOST}:{self.port}/?{TOKEN_PARAM}={self.secret}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"monitor-gate-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        """Stop accepting, close the port, and end the keep-alive connections still open."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self._server.cut_connections()

    def host_allowed(self, host: str) -> bool:
        return host.strip().lower() in self.allowed_hosts

    def secret_matches(self, value: str) -> bool:
        return hmac.compare_digest(value.encode(), self.secret.encode())


class _GateServer(ThreadingHTTPServer):
    daemon_threads = True
    gate: MonitorGate

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer's own asks DNS for the host's full name (`getfqdn`), which can stall for
        # seconds on a machine with a slow resolver; the name is only used in CGI variables.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser that drops its connection is routine: only real failures are printed."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._open_lock:
            if open_:
                self._open.add(connection)
            else:
                self._open.discard(connection)

    def cut_connections(self) -> None:
        with self._open_lock:
            connections = list(self._open)
            self._open.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _GateHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a UI page loads dozens of assets
    timeout = IDLE_TIMEOUT_S
    server: _GateServer
    server_version = "mlworkbench-gate"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: object) -> None:
        """Silent: a request line can carry the secret, and stderr is the editor's log."""

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _handle(self) -> None:
        gate = self.server.gate
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or not gate.host_allowed(hosts[0]):
            self._refuse(403, "this server answers only at the address the editor opened\n")
            return
        if not self.path.startswith("/"):  # an absolute-form target: not a request for us
            self._refuse(400, "bad request target\n")
            return
        parts = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        tokens = [value for name, value in query if name == TOKEN_PARAM]
        if tokens:
            if len(tokens) == 1 and gate.secret_matches(tokens[0]):
                self._log_in(parts.path, [(n, v) for n, v in query if n != TOKEN_PARAM])
            else:
                self._refuse(
                    403,
                    "this link's token is not valid (any more): open it again from the editor\n",
                )
            return
        if not self._has_cookie(gate):
            self._refuse(403, "not logged in: open this server from the editor (ML Workbench)\n")
            return
        if _request_body_length(self) < 0 and not _chunked(self):
            self._refuse(400, "bad Content-Length\n")
            return
        self._forward(gate)

    def _has_cookie(self, gate: MonitorGate) -> bool:
        for name, value in _cookies(self.headers.get_all("Cookie") or []):
            if name == gate.cookie_name and gate.secret_matches(value):
                return True
        return False

    def _log_in(self, path: str, query: list[tuple[str, str]]) -> None:
        """Trade the secret for a cookie, then send the browser to the same page without it.

        The Location is relative to the page ('./name?query'): behind code-server's
        `/proxy/<port>/` the browser's path has a prefix this gate never sees.
        """
        gate = self.server.gate
        location = "./" + path.rsplit("/", 1)[-1]
        if query:
            location += "?" + urllib.parse.urlencode(query)
        cookie = f"{gate.cookie_name}={gate.secret}; Path=/; HttpOnly; SameSite=Strict"
        self._send_own(302, b"", [("Location", location), ("Set-Cookie", cookie)], close=False)

    def _refuse(self, status: int, reason: str) -> None:
        # Closed afterwards: a refused request's body is never read, so the connection's
        # framing is lost.
        self._send_own(status, reason.encode(), [("Content-Type", "text/plain; charset=utf-8")])

    def _send_own(
        self, status: int, body: bytes, headers: list[tuple[str, str]], *, close: bool = True
    ) -> None:
        if not close and _request_body_length(self) != 0:
            close = True
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self, gate: MonitorGate) -> None:
        upstream = _UnixHTTPConnection(gate.backend, BACKEND_TIMEOUT_S)
        try:
            try:
                response = self._send_upstream(upstream, gate)
            except (OSError, http.client.HTTPException):
                self._refuse(
                    502,
                    "the server behind this page is not running; open it again from the editor\n",
                )
                return
            self._relay(response)
        except (OSError, http.client.HTTPException):
            # The browser went away, or the backend did, mid-answer: the status line is out
            # already, so all that is left is to drop the connection.
            self.close_connection = True
        finally:
            upstream.close()

    def _send_upstream(
        self, upstream: _UnixHTTPConnection, gate: MonitorGate
    ) -> http.client.HTTPResponse:
        connection_named = {
            name.strip().lower()
            for value in self.headers.get_all("Connection") or []
            for name in value.split(",")
        }
        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            lowered = name.lower()
            if lowered in _HOP_BY_HOP or lowered in connection_named or lowered == "content-length":
                continue
            if lowered == "cookie":
                # The backend never sees the secret: only the browser and this gate hold it.
                value = "; ".join(f"{n}={v}" for n, v in _cookies([value]) if n != gate.cookie_name)
                if not value:
                    continue
            upstream.putheader(name, value)
        chunked = _chunked(self)
        length = _request_body_length(self)
        if chunked:
            upstream.putheader("Transfer-Encoding", "chunked")
        elif self.headers.get("Content-Length") is not None:  # 0 too: a POST says it
            upstream.putheader("Content-Length", str(length))
        upstream.endheaders()
        if chunked:
            for piece in _read_chunked(self):
                upstream.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            upstream.send(b"0\r\n\r\n")
        else:
            remaining = length
            while remaining > 0:
                piece = self.rfile.read(min(CHUNK, remaining))
                if not piece:
                    raise ConnectionAbortedError("the request body ended early")
                upstream.send(piece)
                remaining -= len(piece)
        return upstream.getresponse()

    def _relay(self, response: http.client.HTTPResponse) -> None:
        """Pass the answer on as it arrives: a large artifact is never held whole in memory."""
        connection_named = {
            name.strip().lower()
            for value in response.headers.get_all("Connection") or []
            for name in value.split(",")
        }
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            lowered = name.lower()
            if lowered in _HOP_BY_HOP or lowered in connection_named:
                continue
            self.send_header(name, value)
        bodiless = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        has_length = response.getheader("Content-Length") is not None
        rechunk = not bodiless and not has_length and self.request_version == "HTTP/1.1"
        if rechunk:
            self.send_header("Transfer-Encoding", "chunked")
        elif not bodiless and not has_length:  # an HTTP/1.0 client: the end of data is the close
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if bodiless:
            return
        while piece := response.read1(CHUNK):
            if rechunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                self.wfile.write(piece)
        if rechunk:
            self.wfile.write(b"0\r\n\r\n")
        if not response.isclosed() and has_length:
            # The backend's body ended before its Content-Length: the browser's connection
            # is out of step now.
            self.close_connection = True


def _chunked(handler: BaseHTTPRequestHandler) -> bool:
    return "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower()


def _request_body_length(handler: BaseHTTPRequestHandler) -> int:
    """The Content-Length of the request's body; -1 when chunked or unreadable."""
    if _chunked(handler):
        return -1
    try:
        return max(0, int(handler.headers.get("Content-Length") or 0))
    except ValueError:
        return -1


def _read_chunked(handler: BaseHTTPRequestHandler) -> Iterator[bytes]:
    """The pieces of a chunked request body, as they arrive (trailers are dropped)."""
    while True:
        line = handler.rfile.readline(1024)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ConnectionAbortedError("a malformed chunked request body") from None
        if size == 0:
            while handler.rfile.readline(1024).strip():
                pass
            return
        remaining = size
        while remaining > 0:
            piece = handler.rfile.read(min(CHUNK, remaining))
            if not piece:
                raise ConnectionAbortedError("the request body ended early")
            yield piece
            remaining -= len(piece)
        handler.rfile.readline(1024)  # the CRLF after each chunk


def _cookies(headers: Iterable[str]) -> Iterator[tuple[str, str]]:
    """`name=value` pairs of Cookie headers, parsed leniently: other sites' cookies on the same
    host (code-server's) may not follow the grammar that `http.cookies` insists on."""
    for header in headers:
        for pair in header.split(";"):
            name, sep, value = pair.strip().partition("=")
            if sep and name:
                yield name.strip(), value.strip()
