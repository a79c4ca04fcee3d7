"""A real language client (pytest-lsp) talking to the real server over stdio."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.backend.docker_engine import engine  # noqa: F401 - a fixture (a private dockerd)

# A warm pool (launch/warm_pool.py) outlives the run that started it by its idle timeout (10 min):
# tests that start runs would each leave one behind. The pool's own tests switch it on
# (tests/backend/test_warm_pool.py); everywhere else runs are cold, as the bench's peers are.
os.environ["MLWORKBENCH_WARM"] = "0"

ROOT = Path(__file__).resolve().parents[2]
# The server as the extension starts it; it inherits this process's environment.
SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "mlworkbench_server"])


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    """A client with the demo folder as its root, and no `trusted` option: untrusted."""
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=(ROOT / "demo").as_uri(),
        )
    )
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVER)
async def trusted(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    """A client in a trusted workspace, with no root folder: each test names its workspace
    in its requests (`workspaceUri`), and trust is what lets it write (edits, registering).

    A module whose client must do more before `initialize` (advertise a capability, listen
    from the first notification) defines its own `trusted`, which replaces this one there.
    """
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            initialization_options={"trusted": True},
        )
    )
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def no_tracking_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the machine's MLFLOW_TRACKING_URI for one test (and the server it starts): the
    workspace's own `mlflow.db` is the store under test (see tests/backend/conftest.py)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="session", autouse=True)
def _private_working_directory(outside_the_checkout: Path) -> Path:
    """Every test here runs outside the checkout (tests/conftest.py says why)."""
    return outside_the_checkout
