"""The model server's ASGI app: MLflow's scoring protocol for one model, behind a small gate.

Routes are MLflow's (`POST /invocations`, `GET /ping`, `GET /health`, `GET /version`) and so are
the request formats, the `{"predictions": [...]}` body and the error shape
(`{"error_code", "message"}`, plus `field` when one input is to blame). In front of them a plain
ASGI gate (one pass over the headers, no per-request middleware objects) refuses a Host header
the server was not started for (421) and a missing or wrong bearer token (401). The body is
read with a cap (413), checked against the signature (`serving_inputs`), and predicted through
`serving_model`. Every refusal is an answer, never a crash: the next request is served as usual.

Starlette and uvicorn come with MLflow (and are what a serving image installs beside
mlflow-skinny), so the app needs nothing MLflow does not.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlworkbench.deploy.serving_access import bearer_matches
from mlworkbench.deploy.serving_inputs import (
    RequestRejected,
    bad_request,
    check_csv,
    check_json,
    parse_json,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from mlworkbench.deploy.serving_model import ServedModel

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOG = logging.getLogger("mlworkbench.serve")
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
OPEN_PATHS = frozenset({"/ping", "/health"})  # probes; everything else needs the token
# Bodies up to this size are parsed and predicted on the event loop (the fast path takes well
# under a millisecond for them); larger ones, and every pyfunc call, on a worker thread.
INLINE_BODY_BYTES = 64 * 1024
SUPPORTED_TYPES = ("application/json", "text/csv")
SETTINGS_ENV = "MLWORKBENCH_SERVE_SETTINGS"


@dataclass(frozen=True)
class GateSettings:
    token: str | None  # None: --no-token
    hosts: frozenset[str] | None  # None: any Host header (a non-loopback bind)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


def create_app(served: ServedModel, settings: GateSettings) -> ASGIApp:
    """The app for one loaded model, behind the gate."""
    return _Gate(_routes(served, settings.max_body_bytes), settings)


def _routes(served: ServedModel, max_body: int) -> Starlette:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response
    from starlette.routing import Route

    version_body = json.dumps(_version_info(served)).encode()

    async def ping(request: Request) -> Response:
        # The model is loaded before the port accepts connections: answering means healthy.
        return Response(b"\n", media_type="application/json")

    async def version(request: Request) -> Response:
        return Response(version_body, media_type="application/json")

    async def invocations(request: Request) -> Response:
        try:
            mime = _content_type(request.headers.get("content-type"))
            body = await _read_body(request, max_body)
            if len(body) <= INLINE_BODY_BYTES and served.fast is not None:
                answer = _predict(served, mime, body, inline=True)
                if answer is None:
                    answer = await run_in_threadpool(_predict, served, mime, body, False)
            else:
                answer = await run_in_threadpool(_predict, served, mime, body, False)
        except RequestRejected as refusal:
            return Response(refusal.body(), refusal.status, media_type="application/json")
        return Response(answer, media_type="application/json")

    return Starlette(
        routes=[
            Route("/invocations", invocations, methods=["POST"]),
            Route("/ping", ping, methods=["GET"]),
            Route("/health", ping, methods=["GET"]),
            Route("/version", version, methods=["GET"]),
        ]
    )


def _predict(served: ServedModel, mime: str, body: bytes, inline: bool) -> bytes | None:
    """The response body; with `inline`, None when the request needs the pyfunc path (which
    runs on a worker thread, not on the event loop)."""
    if mime == "text/csv":
        if inline:
            return None
        return served.predict_csv(check_csv(body, served.rules))
    payload = parse_json(body)
    rows = check_json(payload, served.rules)
    if inline and (rows is None or "params" in payload):
        return None
    return served.predict_json(payload, rows)


def _content_type(header: str | None) -> str:
    """The MIME type, refusing what MLflow's server refuses (charset other than UTF-8, unknown
    parameters) and Parquet, whose readers have run code from the file (CVE-2023-47248)."""
    if header is None:
        raise RequestRejected(
            415, "BAD_REQUEST", f"send a Content-Type header: one of {', '.join(SUPPORTED_TYPES)}"
        )
    mime, *parameters = (part.strip() for part in header.split(";"))
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() != "charset":
            raise RequestRejected(
                415, "BAD_REQUEST", f"unrecognized content type parameter {key.strip()!r}"
            )
        if value.strip().strip('"').lower() != "utf-8":
            raise RequestRejected(415, "BAD_REQUEST", "the scoring server only supports UTF-8")
    mime = mime.lower()
    if mime not in SUPPORTED_TYPES:
        raise RequestRejected(
            415,
            "BAD_REQUEST",
            f"this server takes {' or '.join(SUPPORTED_TYPES)}; got {header[:60]!r}",
        )
    return mime


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to pass `limit` (by its declared
    length before anything is read, else while it streams in)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise bad_request("bad Content-Length header")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> RequestRejected:
    return RequestRejected(
        413,
        "RESOURCE_EXHAUSTED",
        f"the body is larger than this server's limit of {limit} bytes; send fewer rows per "
        "request or start the server with a larger --max-body-mb",
    )


def _version_info(served: ServedModel) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    from mlworkbench import __version__

    try:
        mlflow_version = version("mlflow")
    except PackageNotFoundError:  # a serving image holds mlflow-skinny
        mlflow_version = version("mlflow-skinny")
    return {
        "mlworkbench": __version__,
        "mlflow": mlflow_version,
        "model_uri": served.source.uri,
        "run_id": served.run_id,
        "model_id": served.model_id,
        "signature": served.has_signature,
    }


class _Gate:
    """Host check and bearer token before anything else sees the request."""

    def __init__(self, app: ASGIApp, settings: GateSettings) -> None:
        self.app = app
        self.token = settings.token
        self.hosts = (
            frozenset(host.encode() for host in settings.hosts)
            if settings.hosts is not None
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = authorization = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name == b"authorization":
                authorization = value
        if self.hosts is not None and (host is None or host.lower() not in self.hosts):
            shown = ", ".join(sorted(host.decode() for host in self.hosts))
            await _refuse(send, 421, "MISDIRECTED_REQUEST", f"this server answers only at {shown}")
            return
        needs_token = self.token is not None and scope["path"] not in OPEN_PATHS
        if needs_token and not bearer_matches(authorization, self.token or ""):
            await _refuse(
                send,
                401,
                "UNAUTHENTICATED",
                "send the server's token as 'Authorization: Bearer <token>' (printed when it "
                "started, and kept in its token file)",
                [(b"www-authenticate", b'Bearer realm="mlworkbench"')],
            )
            return
        await self.app(scope, receive, send)


async def _refuse(
    send: Send,
    status: int,
    error_code: str,
    message: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps({"error_code": error_code, "message": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra_headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def app_from_settings_file() -> ASGIApp:
    """The app of one uvicorn worker process (`--workers N`): the settings the CLI wrote to its
    private folder, named by $MLWORKBENCH_SERVE_SETTINGS; the model is loaded here."""
    from pathlib import Path

    from mlworkbench.deploy.model_source import ModelSource
    from mlworkbench.deploy.serving_model import serve_model

    settings = json.loads(Path(os.environ[SETTINGS_ENV]).read_text(encoding="utf-8"))
    source = ModelSource(**settings["source"])
    gate = GateSettings(
        token=settings["token"],
        hosts=frozenset(settings["hosts"]) if settings["hosts"] is not None else None,
        max_body_bytes=settings["max_body_bytes"],
    )
    return create_app(serve_model(source, fast_path=settings["fast_path"]), gate)
