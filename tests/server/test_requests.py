"""Custom `mlworkbench/` requests: typed results and structured errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from mlworkbench_server.protocol import ERROR_CODES, REQUESTS

from .conftest import ROOT
from .lsp_helpers import open_document


async def test_server_info_reports_its_own_process(client: LanguageClient) -> None:
    info = await client.protocol.send_request_async(REQUESTS["SERVER_INFO"], {})
    assert info.version == "0.1.0"
    assert isinstance(info.pid, int) and info.pid != os.getpid()


async def test_analyze_open_document_uses_the_live_text(
    client: LanguageClient, tmp_path: Path
) -> None:
    path = tmp_path / "train.py"
    path.write_text("print('on disk')\n")
    uri = open_document(client, path, "import keras\nif __name__ == '__main__':\n    pass\n")
    result = await client.protocol.send_request_async(REQUESTS["ANALYZE_SCRIPT"], {"uri": uri})
    assert result.frameworks == ["keras"]
    assert result.main_guard_line == 1


async def test_analyze_file_on_disk(client: LanguageClient) -> None:
    uri = (ROOT / "demo" / "train_iris.py").as_uri()
    result = await client.protocol.send_request_async(REQUESTS["ANALYZE_SCRIPT"], {"uri": uri})
    assert [p.name for p in result.parameters] == ["n_estimators", "max_depth", "test_size", "seed"]


async def test_missing_file_is_a_structured_error(client: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "nope.py").as_uri()
    with pytest.raises(JsonRpcException) as raised:
        await client.protocol.send_request_async(REQUESTS["ANALYZE_SCRIPT"], {"uri": uri})
    assert raised.value.code == ERROR_CODES["SCRIPT_NOT_FOUND"]
    assert "nope.py" in raised.value.message


async def test_non_utf8_file_is_a_structured_error(client: LanguageClient, tmp_path: Path) -> None:
    path = tmp_path / "latin.py"
    path.write_bytes("print('café')\n".encode("latin-1"))
    with pytest.raises(JsonRpcException) as raised:
        await client.protocol.send_request_async(REQUESTS["ANALYZE_SCRIPT"], {"uri": path.as_uri()})
    assert raised.value.code == ERROR_CODES["SCRIPT_NOT_DECODABLE"]
