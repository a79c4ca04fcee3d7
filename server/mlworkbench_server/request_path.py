"""The one path every custom request takes: its trust class, the workspace, the library's errors.

A handler is registered with `@request(server, REQUESTS[...], Trust.X)` and never with
`server.feature` directly, so no handler can forget the trust check again: a test enumerates
every request in the protocol and checks the class it was registered with. The classes:

- `READ_LOCAL`: reads files on this machine. The only class Restricted Mode allows; and there
  the call runs under `network_access.local_only()`, so a tracking URI, artifact location or
  model source that names another host is refused before anything connects to it.
- `NETWORK`: meant to contact a server (the class a read is raised to when its store is remote).
- `WRITE`: changes the user's store or files.
- `EXECUTE`: runs code (a script, the selected interpreter's MLflow or TensorBoard) or controls
  processes this server started.
"""

from __future__ import annotations

import contextlib
import enum
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.uris import to_fs_path

from mlworkbench.errors import MlWorkbenchError
from mlworkbench.tracking.network_access import local_only
from mlworkbench_server.errors import to_lsp_error
from mlworkbench_server.protocol import ERROR_CODES

if TYPE_CHECKING:
    from mlworkbench_server.server import WorkbenchServer

R = TypeVar("R")
Handler = Callable[["WorkbenchServer", Any], R]


class Trust(enum.Enum):
    READ_LOCAL = "read-local"
    NETWORK = "network"
    WRITE = "write"
    EXECUTE = "execute"


# What a refused request would have done, for the message the user sees.
_REFUSED_ACTIONS = {
    Trust.NETWORK: "contact network locations",
    Trust.WRITE: "change runs, models or files",
    Trust.EXECUTE: "run code or start processes",
}


def untrusted_error(trust: Trust, what: str | None = None) -> JsonRpcException:
    """The structured refusal of a request Restricted Mode does not allow."""
    action = what or _REFUSED_ACTIONS.get(trust, "do this")
    return JsonRpcException(
        code=ERROR_CODES["UNTRUSTED_WORKSPACE"],
        message=f"ML Workbench does not {action} in Restricted Mode: trust the workspace first.",
        data={"kind": "UNTRUSTED_WORKSPACE", "trust": trust.value},
    )


@contextlib.contextmanager
def trust_policy(ls: WorkbenchServer, trust: Trust, what: str | None = None) -> Iterator[None]:
    """Refuse `trust` in Restricted Mode; keep an allowed local read off the network there.

    Used by `request` for every handler and by start-up tasks, which are not requests.
    """
    if ls.trusted:
        yield
        return
    if trust is not Trust.READ_LOCAL:
        raise untrusted_error(trust, what)
    with local_only():
        yield


def request(
    server: WorkbenchServer,
    method: str,
    trust: Trust,
    *,
    thread: bool = True,
    refused: str | None = None,
) -> Callable[[Handler[R]], Handler[R]]:
    """Register `handler(ls, params)` for `method` behind the trust check and error mapping.

    `thread`: run it on a worker (anything that touches MLflow or the disk at length); handlers
    that answer from memory stay on the event loop. `refused`: what the user is told the
    request would have done ("register models"), when the class's wording is too vague.
    """

    def decorator(handler: Handler[R]) -> Handler[R]:
        @functools.wraps(handler)
        def checked(ls: WorkbenchServer, params: Any) -> R:
            with trust_policy(ls, trust, refused):
                try:
                    return handler(ls, params)
                except MlWorkbenchError as error:
                    raise to_lsp_error(error) from error

        server.request_trust[method] = trust
        registered = server.thread()(checked) if thread else checked
        server.feature(method)(registered)
        return handler

    return decorator


def workspace_of(params: Any) -> Path:
    """The request's `workspaceUri` as a folder path (InvalidParams when it is missing)."""
    uri = getattr(params, "workspaceUri", None)
    if not isinstance(uri, str) or not uri:
        raise JsonRpcException(
            code=types.ErrorCodes.InvalidParams, message="'workspaceUri' must be a string"
        )
    return Path(to_fs_path(uri) or uri)
