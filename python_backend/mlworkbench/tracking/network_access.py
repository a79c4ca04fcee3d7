"""Whether this call may reach locations off this machine, and the check every remote access
makes first.

The editor's language server answers reads from untrusted workspaces (Restricted Mode) too, but
the store they read came with the workspace: its tracking URI, artifact locations and model
sources may name any host. The server runs such reads inside `local_only()`; the library calls
`require_local` before it hands a location to MLflow, so nothing connects. The CLI, run by the
user on purpose, keeps the default (network allowed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from urllib.parse import urlparse

from mlworkbench.errors import NetworkRefusedError

# A ContextVar, not a global: the server answers trusted and untrusted-policy requests on
# worker threads at once, and each handler sets it for its own call only.
_network_allowed: ContextVar[bool] = ContextVar("mlworkbench_network_allowed", default=True)

# Schemes whose locations are files on this machine (a Windows drive letter parses as a
# one-letter scheme).
_LOCAL_SCHEMES = frozenset({"", "file", "sqlite"})


@contextlib.contextmanager
def local_only() -> Iterator[None]:
    """Within this block (this thread or task only), `require_local` refuses remote locations."""
    token = _network_allowed.set(False)
    try:
        yield
    finally:
        _network_allowed.reset(token)


def network_allowed() -> bool:
    return _network_allowed.get()


def is_local(location: str) -> bool:
    """True for a plain path, a `file:` URI without a host, or a `sqlite:` store URI."""
    parsed = urlparse(location)
    scheme = parsed.scheme.lower()
    if len(scheme) == 1 and location[1:2] == ":":
        return True  # C:\... or C:/...
    if scheme not in _LOCAL_SCHEMES:
        return False
    return scheme == "sqlite" or parsed.netloc in ("", "localhost")


def require_local(location: str, what: str) -> None:
    """Raise `NetworkRefusedError` when `location` is remote and this call may not reach it."""
    if not _network_allowed.get() and not is_local(location):
        raise NetworkRefusedError(location, what)
