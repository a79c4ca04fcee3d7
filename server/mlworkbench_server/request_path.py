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

Once trust allows it, the path structures the raw params into the request's envelope (its row
in `protocol.REQUEST_TYPES`), so a handler reads `params["runId"]` from a checked TypedDict and
a field of the wrong type is InvalidParams naming the field, before the handler runs.

A handler's answer is a plain dict of JSON values (its `to_dict()`); the path hands it to pygls
as a `PlainResult`, which the server's converter (`response_converter`) passes through as it is.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import threading
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, cast

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.uris import to_fs_path

from mlworkbench.errors import MlWorkbenchError
from mlworkbench.tracking.network_access import local_only
from mlworkbench_server.errors import to_lsp_error
from mlworkbench_server.protocol import ERROR_CODES, REQUEST_TYPES, REQUESTS

if TYPE_CHECKING:
    from cattrs import Converter

    from mlworkbench_server.server import WorkbenchServer

P = TypeVar("P")
R = TypeVar("R")
Handler = Callable[["WorkbenchServer", P], R]

_PARAMS_BY_METHOD = {REQUESTS[name]: row.params for name, row in REQUEST_TYPES.items()}


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
    imports_mlflow: bool = True,
) -> Callable[[Handler[P, R]], Handler[P, R]]:
    """Register `handler(ls, params)` for `method` behind the trust check and error mapping.

    `params` is the method's envelope (protocol.REQUEST_TYPES), structured from what the client
    sent. `thread`: run it on a worker (anything that touches MLflow or the disk at length);
    handlers that answer from memory stay on the event loop. `refused`: what the user is told
    the request would have done ("register models"), when the class's wording is too vague.
    `imports_mlflow` False: the worker does not import MLflow first (`WorkbenchServer.thread`);
    the handler must call `ensure_mlflow_imported()` before it touches MLflow.
    """
    envelope = _PARAMS_BY_METHOD[method]  # a request without a row in the table: no server

    def decorator(handler: Handler[P, R]) -> Handler[P, R]:
        @functools.wraps(handler)
        def checked(ls: WorkbenchServer, raw: object) -> R:
            with trust_policy(ls, trust, refused):
                params = cast(P, structure_params(raw, envelope, method))
                try:
                    result = handler(ls, params)
                except MlWorkbenchError as error:
                    raise to_lsp_error(error) from error
                if type(result) is dict:
                    return cast(R, PlainResult(cast(dict[str, Any], result)))
                return result

        server.request_trust[method] = trust
        registered = server.thread(imports_mlflow)(checked) if thread else checked
        server.feature(method)(registered)
        return handler

    return decorator


class PlainResult(dict[str, Any]):
    """A handler's answer that is JSON already: `json.dumps` writes it as it is.

    Why: pygls unstructures a response through cattrs before `json.dumps`, and cattrs walks a
    plain dict value by value: 40 ms for a comparison's 30,000 points, as long as writing the
    JSON itself. Anything in it that is not JSON still reaches pygls's `default` (attrs classes
    through the converter), as before.
    """


def response_converter() -> Converter:
    """pygls's converter, which passes a `PlainResult` through unwalked."""
    from pygls.protocol import default_converter

    converter: Converter = default_converter()  # type: ignore[no-untyped-call]
    converter.register_unstructure_hook(PlainResult, _as_it_is)
    return converter


def _as_it_is(result: PlainResult) -> PlainResult:
    return result


class _WorkspaceParams(TypedDict):
    workspaceUri: str


def workspace_of(params: _WorkspaceParams) -> Path:
    """The request's `workspaceUri` as a folder path (InvalidParams when it is empty)."""
    uri = params["workspaceUri"]
    if not uri:
        raise _invalid_params("'workspaceUri' must not be empty")
    return Path(to_fs_path(uri) or uri)


# --- params: pygls's namedtuples -> the envelope's TypedDict -----------------------------------


def structure_params(raw: object, envelope: type, method: str) -> dict[str, object]:
    """`raw` (pygls hands custom methods' params as nested namedtuples) as a checked `envelope`.

    A `null` value counts as absent, as it did for the handlers; keys the envelope does not
    name are dropped. Strict: "8080" is not a port, "abc" is not a list of run ids.
    """
    from cattrs.errors import BaseValidationError

    data = _plain(raw)
    if data is None and not envelope.__required_keys__:  # type: ignore[attr-defined]
        data = {}
    if not isinstance(data, dict):
        raise _invalid_params(f"the params of {method} must be an object")
    known = envelope.__required_keys__ | envelope.__optional_keys__  # type: ignore[attr-defined]
    data = {key: value for key, value in data.items() if key in known}
    try:
        return cast(dict[str, object], _structure_hook(envelope)(data, envelope))
    except BaseValidationError as error:
        raise _invalid_params(_describe_problems(error, envelope)) from None


def _plain(value: object) -> object:
    """JSON again: namedtuples (JSON objects) as dicts without their null keys, arrays as lists."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        value = value._asdict()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


_hooks: dict[type, Callable[[object, type], object]] = {}
_hooks_lock = threading.Lock()


def _structure_hook(envelope: type) -> Callable[[object, type], object]:
    """The envelope's structuring function, generated once (under a lock: requests run on
    several worker threads) by a converter built on first use, off the start-up path."""
    with _hooks_lock:
        hook = _hooks.get(envelope)
        if hook is None:
            hook = _hooks[envelope] = _strict_converter().get_structure_hook(envelope)
        return hook


@functools.cache
def _strict_converter() -> Converter:
    """cattrs, minus its coercions: it would take "8080" as an int and "abc" as a list."""
    from cattrs import Converter
    from cattrs.cols import is_sequence, list_structure_factory

    converter = Converter()

    def exactly(kind: type) -> Callable[[object, type], object]:
        def check(value: object, _: type) -> object:
            # bool is an int in Python, never in JSON; an int is a fine float.
            ok = isinstance(value, (int, float) if kind is float else kind)
            if not ok or (kind is not bool and isinstance(value, bool)):
                raise TypeError(f"expected {kind.__name__}")
            return value

        return check

    for kind in (str, int, float, bool):
        converter.register_structure_hook(kind, exactly(kind))

    def lists(hint: Any) -> Callable[[object, type], object]:
        items = list_structure_factory(hint, converter)

        def check(value: object, kind: type) -> object:
            if not isinstance(value, list):
                raise TypeError("expected a list")
            return items(value, kind)

        return check

    converter.register_structure_hook_factory(is_sequence, lists)

    # A union of JSON scalars (`str | float | bool`, a report option's value): any one of them,
    # as itself; cattrs has no default for unions of primitives.
    scalars = (str, int, float, bool, type(None))

    def is_scalar_union(hint: Any) -> bool:
        args = typing.get_args(hint)
        return typing.get_origin(hint) in (typing.Union, UnionType) and all(
            arg in scalars for arg in args
        )

    def scalar_union(hint: Any) -> Callable[[object, type], object]:
        allowed = tuple(arg for arg in typing.get_args(hint) if arg is not int)
        if float in allowed:
            allowed = (*allowed, int)

        def check(value: object, _: type) -> object:
            if value is None and type(None) in allowed:
                return value
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                names = " or ".join(a.__name__ for a in typing.get_args(hint))
                raise TypeError(f"expected {names}")
            return value

        return check

    converter.register_structure_hook_factory(is_scalar_union, scalar_union)
    return converter


def _describe_problems(error: Exception, envelope: type) -> str:
    """One clause per bad field, in the envelope's order: "'runIds' must be a list of strings"."""
    from cattrs.errors import AttributeValidationNote

    order = list(typing.get_type_hints(envelope))
    problems: list[tuple[int, str]] = []
    for problem in getattr(error, "exceptions", [error]):
        notes = getattr(problem, "__notes__", [])
        note = next((n for n in notes if isinstance(n, AttributeValidationNote)), None)
        if note is None:
            problems.append((len(order), str(problem)))
            continue
        where = order.index(note.name) if note.name in order else len(order)
        if isinstance(problem, KeyError):
            problems.append((where, f"'{note.name}' is required"))
        else:
            problems.append((where, f"'{note.name}' must be {_describe(note.type)}"))
    return "; ".join(text for _, text in sorted(problems))


_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
_PLURALS = {str: "strings", int: "integers", float: "numbers", bool: "booleans"}


def _describe(hint: object) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list and args:
        return f"a list of {_PLURALS.get(args[0], 'items')}"
    if origin is dict and len(args) == 2:
        return f"an object of {_PLURALS.get(args[1], 'items')}"
    if isinstance(hint, type) and hint in _NAMES:
        return _NAMES[hint]
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(arg) for arg in args)
    if origin in (typing.Union, UnionType):
        return " or ".join(_describe(arg) for arg in args)
    return "an object" if typing.is_typeddict(hint) else f"a {hint}"


def _invalid_params(message: str) -> JsonRpcException:
    return JsonRpcException(code=types.ErrorCodes.InvalidParams, message=message)
