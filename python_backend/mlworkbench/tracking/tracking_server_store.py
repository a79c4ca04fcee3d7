"""The tracking server's backend store URI: validation, and keeping its password out of sight.

A PostgreSQL password in the URI must never reach argv (`ps`), logs, tags, the state file or
`status`: `redact_uri` is what is shown, `split_password` gives the URI MLflow gets plus the
password that travels as `PGPASSWORD`.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from mlworkbench.errors import MlWorkbenchError

_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")


class InvalidBackendStoreError(MlWorkbenchError):
    """The backend store URI is malformed, its driver is missing, or its database unreachable."""

    code = "INVALID_BACKEND_STORE"

    def __init__(self, uri: str, reason: str) -> None:
        self.uri = redact_uri(uri)
        super().__init__(f"backend store {self.uri}: {reason}")


def redact_uri(uri: str) -> str:
    """`uri` with any password (userinfo or `password=` query parameter) replaced by `***`."""
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError:
        return "<unparseable URI>"
    if parts.password is None and "password=" not in parts.query.lower():
        return uri  # unchanged: urlunsplit would drop sqlite:///'s empty authority
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if any(name.lower() == "password" for name, _ in query):
        shown = [(n, "***" if n.lower() == "password" else v) for n, v in query]
        query_text = urllib.parse.urlencode(shown, safe="/*")
    else:
        query_text = parts.query
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query_text, parts.fragment))


def split_password(uri: str) -> tuple[str, str | None]:
    """(`uri` without its password, the password or None): the password goes to PGPASSWORD."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None and "password=" not in parts.query.lower():
        return uri, None  # unchanged: urlunsplit would drop sqlite:///'s empty authority
    password = parts.password
    netloc = parts.netloc
    if password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}@{hostport}"
        password = urllib.parse.unquote(password)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    for name, value in query:
        if name.lower() == "password":
            password = value
    query_text = urllib.parse.urlencode(
        [(n, v) for n, v in query if n.lower() != "password"], safe="/"
    )
    stripped = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query_text, ""))
    return stripped, password


def backend_kind(uri: str) -> str:
    """'sqlite' or 'postgresql' (the scheme without its driver)."""
    return uri.split(":", 1)[0].split("+", 1)[0]


def check_backend_store(uri: str, timeout_s: float = 5.0) -> None:
    """Refuse a URI MLflow could not use, before a detached server fails on it in a log."""
    try:
        parts = urllib.parse.urlsplit(uri)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as error:
        raise InvalidBackendStoreError(uri, f"not a valid URI ({error})") from None
    if parts.scheme not in _SCHEMES:
        raise InvalidBackendStoreError(
            uri, "use sqlite:///path/mlflow.db or postgresql+psycopg://user@host:port/db"
        )
    if parts.scheme == "sqlite":
        if not parts.path or not Path(parts.path).parent.is_dir():
            raise InvalidBackendStoreError(uri, "its folder does not exist")
        return
    if not parts.path.strip("/"):
        raise InvalidBackendStoreError(uri, "name the database: postgresql+psycopg://user@host/db")
    try:
        import psycopg
    except ImportError:
        raise InvalidBackendStoreError(
            uri, "the PostgreSQL driver is missing: pip install 'mlworkbench[server]'"
        ) from None
    stripped, password = split_password(uri)
    query = dict(urllib.parse.parse_qsl(parts.query))
    host = query.get("host") or parts.hostname or "localhost"
    port = parts.port or 5432
    try:
        psycopg.connect(
            host=host,
            port=port,
            user=urllib.parse.unquote(parts.username or ""),
            password=password,
            dbname=parts.path.strip("/"),
            connect_timeout=max(1, int(timeout_s)),
        ).close()
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if password:
            reason = reason.replace(password, "***")
        raise InvalidBackendStoreError(
            stripped, f"PostgreSQL at {host}:{port} is unreachable: {reason}"
        ) from None
