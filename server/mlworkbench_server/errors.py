"""Turns the library's typed errors into structured LSP errors the extension can act on."""

from __future__ import annotations

import logging

from pygls.exceptions import JsonRpcException

from mlworkbench.errors import MlWorkbenchError
from mlworkbench_server.protocol import ERROR_CODES

# Library error code -> protocol error code; unknown library errors keep a generic code.
_GENERIC_CODE = 1000


def to_lsp_error(error: MlWorkbenchError) -> JsonRpcException:
    code = ERROR_CODES.get(error.code.upper(), _GENERIC_CODE)
    # `data` carries the error's details (e.g. a filter error's position) for the extension.
    return JsonRpcException(code=code, message=str(error), data={**error.data, "kind": error.code})


_EXPECTED = frozenset(ERROR_CODES.values()) | {_GENERIC_CODE}


class ExpectedErrorLog(logging.Filter):
    """Log a request answered with one of our own error codes as one INFO line, not a traceback.

    pygls logs every error a handler raises at ERROR level with its traceback. For ours (an
    invalid filter as the user types, a run deleted meanwhile) the answer already carries the
    message and what to do; a traceback in the editor's output channel reads as a crash.
    Anything else (a bug) keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, JsonRpcException) or error.code not in _EXPECTED:
            return True
        record.msg, record.args = "answered with error %s: %s", (error.code, error.message)
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info, record.exc_text = None, None
        return logging.getLogger(record.name).isEnabledFor(logging.INFO)


def quiet_expected_errors() -> None:
    """Install `ExpectedErrorLog` where pygls logs handler errors (once per process)."""
    logger = logging.getLogger("pygls.protocol.json_rpc")
    if not any(isinstance(f, ExpectedErrorLog) for f in logger.filters):
        logger.addFilter(ExpectedErrorLog())
