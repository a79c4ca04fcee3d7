"""The monitor gate in front of a real HTTP server on a Unix socket: host, secret, proxying.

The backend is werkzeug's threaded server bound to `unix://` in the gate's private folder, as
TensorBoard's is; the client is `http.client` over real loopback TCP, so the Host header and
cookies are exactly what the test sends.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import stat
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlworkbench.monitor.monitor_gate import TOKEN_PARAM, MonitorGate, private_socket

BIG = 48 * 1024 * 1024  # larger than any buffer a proxy should hold


def _pattern(size: int) -> Iterator[bytes]:
    block = bytes(range(256)) * 256  # 64 KiB
    sent = 0
    while sent < size:
        piece = block[: min(len(block), size - sent)]
        sent += len(piece)
        yield piece


class Backend:
    """The server behind the gate: echoes requests, serves large and slow bodies."""

    def __init__(self, socket_path: Path) -> None:
        from werkzeug import serving

        self.release = threading.Event()
        self._server = serving.make_server(f"unix://{socket_path}", 0, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join()

    def app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path == "/big":  # with Content-Length
            start_response("200 OK", [("Content-Length", str(BIG))])
            return _pattern(BIG)
        if path == "/slow":  # no length: chunked, and the rest only once the test says so
            start_response("200 OK", [("Content-Type", "text/plain")])
            return self._slow()
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        echo = {
            "method": environ["REQUEST_METHOD"],
            "path": path,
            "query": environ.get("QUERY_STRING", ""),
            "host": environ.get("HTTP_HOST"),
            "cookie": environ.get("HTTP_COOKIE"),
            "body": hashlib.sha256(body).hexdigest(),
        }
        start_response(
            "201 Created", [("Content-Type", "application/json"), ("Set-Cookie", "app=1")]
        )
        return [json.dumps(echo).encode()]

    def _slow(self) -> Iterator[bytes]:
        yield b"first part;"
        if not self.release.wait(20):
            raise TimeoutError("the test never saw the first part")
        yield b"second part"


@pytest.fixture
def gate() -> Iterator[tuple[MonitorGate, Backend]]:
    socket_path = private_socket("test")
    backend = Backend(socket_path)
    gate = MonitorGate(socket_path, extra_hosts=["Code.Example.org:8443"])
    gate.start()
    yield gate, backend
    gate.close()
    backend.close()


def _request(
    gate: MonitorGate,
    path: str,
    *,
    host: str | None = None,
    cookie: str | None = None,
    method: str = "GET",
    body: bytes | None = None,
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", gate.port, timeout=30)
    headers = {"Host": host or f"127.0.0.1:{gate.port}"}
    if cookie:
        headers["Cookie"] = cookie
    connection.request(method, path, body=body, headers=headers)
    return connection.getresponse()


def _login(gate: MonitorGate) -> str:
    response = _request(gate, f"/?{TOKEN_PARAM}={gate.secret}")
    assert response.status == 302
    return response.getheader("Set-Cookie", "").split(";", 1)[0]


@pytest.mark.parametrize(
    "host",
    ["evil.example", "127.0.0.1:1", "localhost", "127.0.0.1:{port}0", "code.example.org:8444"],
)
def test_a_host_not_named_is_refused_even_with_the_secret(
    gate: tuple[MonitorGate, Backend], host: str
) -> None:
    server, _ = gate
    response = _request(
        server, f"/?{TOKEN_PARAM}={server.secret}", host=host.format(port=server.port)
    )

    assert response.status == 403
    assert response.getheader("Set-Cookie") is None
    assert b"address" in response.read()


def test_without_secret_or_cookie_nothing_reaches_the_backend(
    gate: tuple[MonitorGate, Backend],
) -> None:
    server, _ = gate
    for path, cookie in [
        ("/", None),
        ("/api/2.0/mlflow/experiments/search", None),
        (f"/?{TOKEN_PARAM}=wrong", None),
        ("/", f"{server.cookie_name}=wrong"),
        ("/", f"mlwb-gate-1={server.secret}"),  # another port's cookie name
    ]:
        response = _request(server, path, cookie=cookie)
        body = response.read()
        assert response.status == 403, (path, cookie)
        assert response.getheader("Content-Type", "").startswith("text/plain")
        assert server.secret.encode() not in body and b"created" not in body.lower()


def test_the_secret_buys_a_cookie_and_a_redirect_without_it(
    gate: tuple[MonitorGate, Backend],
) -> None:
    server, _ = gate
    response = _request(
        server, f"/a/page?x=1&{TOKEN_PARAM}={server.secret}", host="CODE.example.org:8443"
    )

    assert response.status == 302
    # Relative: behind code-server's /proxy/<port>/ the browser's path has a prefix.
    assert response.getheader("Location") == "./page?x=1"
    cookie = response.getheader("Set-Cookie", "")
    assert cookie.startswith(f"mlwb-gate-{server.port}={server.secret};")
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= {p.strip() for p in cookie.split(";")}
    home = _request(server, f"/?{TOKEN_PARAM}={server.secret}")
    assert (home.status, home.getheader("Location")) == (302, "./")


def test_with_the_cookie_requests_are_proxied_as_sent(gate: tuple[MonitorGate, Backend]) -> None:
    server, _ = gate
    cookie = _login(server)
    payload = os.urandom(300_000)

    response = _request(
        server,
        "/api/echo?q=a%20b",
        cookie=f"other=1; {cookie}",
        method="POST",
        body=payload,
        host=f"localhost:{server.port}",
    )

    assert response.status == 201
    assert response.getheader("Set-Cookie") == "app=1"
    echo = json.loads(response.read())
    assert echo["method"] == "POST" and echo["path"] == "/api/echo" and echo["query"] == "q=a%20b"
    assert echo["host"] == f"localhost:{server.port}"
    # The backend never sees the secret; the browser's other cookies pass.
    assert echo["cookie"] == "other=1"
    assert echo["body"] == hashlib.sha256(payload).hexdigest()


def test_large_and_slow_bodies_are_streamed(gate: tuple[MonitorGate, Backend]) -> None:
    server, backend = gate
    cookie = _login(server)

    response = _request(server, "/big", cookie=cookie)
    assert response.status == 200 and response.getheader("Content-Length") == str(BIG)
    digest = hashlib.sha256()
    while piece := response.read(1 << 20):
        digest.update(piece)
    assert digest.hexdigest() == hashlib.sha256(b"".join(_pattern(BIG))).hexdigest()

    # The backend holds back its second part until the client has the first: a gate that
    # buffered whole answers would wait forever here.
    slow = _request(server, "/slow", cookie=cookie)
    assert slow.status == 200 and slow.getheader("Transfer-Encoding") == "chunked"
    assert slow.read1(64) == b"first part;"
    backend.release.set()
    assert slow.read() == b"second part"


def test_the_backend_socket_folder_is_private(gate: tuple[MonitorGate, Backend]) -> None:
    server, _ = gate
    folder = server.backend.parent.stat()

    assert stat.S_IMODE(folder.st_mode) == 0o700
    assert (folder.st_uid, folder.st_gid) == (os.getuid(), os.getgid())
    assert stat.S_ISSOCK(server.backend.stat().st_mode)


def test_a_taken_port_fails_at_bind_and_close_frees_it(gate: tuple[MonitorGate, Backend]) -> None:
    server, _ = gate
    with pytest.raises(OSError, match="in use"):
        MonitorGate(server.backend, port=server.port)
    cookie = _login(server)
    kept = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    kept.request("GET", "/x", headers={"Host": f"127.0.0.1:{server.port}", "Cookie": cookie})
    assert kept.getresponse().read()

    server.close()

    # The keep-alive connection is cut and the port can be bound again.
    with pytest.raises((http.client.HTTPException, OSError)):
        kept.request("GET", "/x", headers={"Host": f"127.0.0.1:{server.port}"})
        kept.getresponse()
    again = MonitorGate(server.backend, port=server.port)
    again.close()


def test_a_dead_backend_is_a_502(tmp_path: Path) -> None:
    server = MonitorGate(private_socket("none"))
    server.start()
    try:
        response = _request(server, "/", cookie=_login(server))
        assert response.status == 502
    finally:
        server.close()
