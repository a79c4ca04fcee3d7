"""Turns the library's typed errors into structured LSP errors the extension can act on."""

from __future__ import annotations

from pygls.exceptions import JsonRpcException

from mlworkbench.errors import MlWorkbenchError
from mlworkbench_server.protocol import ERROR_CODES

# Library error code -> protocol error code; unknown library errors keep a generic code.
_GENERIC_CODE = 1000


def to_lsp_error(error: MlWorkbenchError) -> JsonRpcException:
    code = ERROR_CODES.get(error.code.upper(), _GENERIC_CODE)
    # `data` carries the error's details (e.g. a filter error's position) for the extension.
    return JsonRpcException(code=code, message=str(error), data={**error.data, "kind": error.code})
