"""An open training script readies the warm pool (launch/warm_pool.py) in a trusted workspace,
so its first run is served warm; in Restricted Mode it starts nothing. Through a real client
and the real server, which inherits this test's pools folder and switches the pool on."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import ROOT, SERVER
from .lsp_helpers import lenses, open_document

READY = re.compile(r"\[warm pool (\d+)\] ready")


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The pools folder the server will use; set before the server starts (fixture order),
    every pool started in it killed at the end."""
    runtime = Path(tempfile.mkdtemp(prefix="wp-srv-"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("MLWORKBENCH_WARM", "1")
    monkeypatch.setenv("MLWORKBENCH_WARM_IDLE_S", "60")
    root = runtime / f"mlworkbench-warm-{os.getuid()}"
    yield root
    for log in root.glob("*.log"):
        for pid in READY.findall(log.read_text()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    shutil.rmtree(runtime, ignore_errors=True)


def _logs(root: Path) -> str:
    return "".join(log.read_text() for log in root.glob("*.log"))


async def _initialize(client: LanguageClient, trusted: bool) -> None:
    await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=(ROOT / "demo").as_uri(),
            initialization_options={"trusted": trusted},
        )
    )


# Tests list `pools` before these, so the server starts with the pools folder in its env.
@pytest_lsp.fixture(config=SERVER)
async def trusted_demo(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    await _initialize(lsp_client, trusted=True)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVER)
async def restricted_demo(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    await _initialize(lsp_client, trusted=False)
    yield
    await lsp_client.shutdown_session()


async def _open_iris(client: LanguageClient) -> None:
    uri = open_document(client, ROOT / "demo" / "train_iris.py")
    assert await lenses(client, uri)


@pytest.mark.slow
async def test_an_open_training_script_readies_the_pool(
    pools: Path, trusted_demo: LanguageClient
) -> None:
    await _open_iris(trusted_demo)
    for _ in range(1200):  # importing mlflow and scikit-learn on a busy machine: up to 2 min
        if "preloaded ['sklearn']" in _logs(pools):
            break
        await asyncio.sleep(0.1)
    logs = _logs(pools)
    assert len(READY.findall(logs)) == 1, logs
    assert "preloaded ['sklearn']" in logs, logs


async def test_restricted_mode_starts_no_pool(pools: Path, restricted_demo: LanguageClient) -> None:
    await _open_iris(restricted_demo)
    await asyncio.sleep(2.0)  # a pool would have created its log as soon as it was asked for
    assert not list(pools.glob("*.log"))
