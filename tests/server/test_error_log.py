"""Errors the server answers with its own codes are one INFO line in the log, not a traceback;
anything else (a bug) keeps its traceback at ERROR."""

from __future__ import annotations

import logging

import pytest
from pygls.exceptions import JsonRpcException, JsonRpcInternalError

from mlworkbench_server.errors import quiet_expected_errors
from mlworkbench_server.protocol import ERROR_CODES

PYGLS = logging.getLogger("pygls.protocol.json_rpc")


def _raise_and_log(error: Exception) -> None:
    try:
        raise error
    except Exception:
        PYGLS.exception('Exception occurred for message "%s"', 7)  # what pygls does


@pytest.fixture(autouse=True)
def installed() -> None:
    quiet_expected_errors()
    quiet_expected_errors()  # idempotent
    assert len(PYGLS.filters) == 1


def test_our_error_is_one_info_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    code = ERROR_CODES["INVALID_FILTER"]
    _raise_and_log(JsonRpcException(code=code, message="invalid filter: at position 14"))
    [record] = caplog.records
    assert record.levelno == logging.INFO and record.exc_info is None
    assert record.getMessage() == f"answered with error {code}: invalid filter: at position 14"
    assert "Traceback" not in caplog.text


def test_our_error_is_silent_at_the_default_warning_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    _raise_and_log(JsonRpcException(code=ERROR_CODES["RUN_NOT_FOUND"], message="no run x"))
    assert caplog.records == []


def test_a_bug_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    _raise_and_log(JsonRpcInternalError(message="KeyError: 'x'"))
    _raise_and_log(ValueError("unexpected"))
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR]
    assert all(r.exc_info for r in caplog.records)
    assert caplog.text.count("Traceback") == 2
