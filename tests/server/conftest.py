"""A real language client (pytest-lsp) talking to the real server over stdio."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

ROOT = Path(__file__).resolve().parents[2]


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "mlworkbench_server"]),
)
async def client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=(ROOT / "demo").as_uri(),
        )
    )
    yield
    await lsp_client.shutdown_session()
