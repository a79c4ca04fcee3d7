"""What the server does by itself after `initialized`, where the workspace has a store: stale
runs are reconciled (test_runs.py) and each store's run cache is read in the background, so a
script's `N runs` lens appears, and the Runs view's first page is ready, before anything asks.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from mlworkbench_server.protocol import REQUESTS

from .lsp_helpers import lenses, open_document, titles

SCRIPT = """\
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def main():
    x, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=200).fit(x, y)


if __name__ == "__main__":
    main()
"""

LENS_REFRESH = types.ClientCapabilities(
    workspace=types.WorkspaceClientCapabilities(
        code_lens=types.CodeLensWorkspaceClientCapabilities(refresh_support=True)
    )
)


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "mlworkbench_server"]),
)
async def uninitialized(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    """A client the test initializes itself (what it sends at start-up is what is tested)."""
    yield
    await lsp_client.shutdown_session()


def _runs_of(script: Path, count: int) -> None:
    from mlflow.tracking import MlflowClient

    store = MlflowClient(f"sqlite:///{script.parent / 'mlflow.db'}")
    for i in range(count):
        run = store.create_run("0", run_name=f"r{i}", tags={"mlworkbench.script": str(script)})
        store.log_metric(run.info.run_id, "accuracy", 0.9 + i / 100)
        store.set_terminated(run.info.run_id, "FINISHED")


async def _start(client: LanguageClient, workspace: Path) -> asyncio.Event:
    refreshed = asyncio.Event()

    @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def on_refresh(params: Any) -> None:
        refreshed.set()

    await client.initialize_session(
        types.InitializeParams(
            capabilities=LENS_REFRESH,
            root_uri=workspace.as_uri(),
            initialization_options={"trusted": True},
        )
    )
    client.initialized(types.InitializedParams())
    return refreshed


async def test_the_run_cache_is_warmed_after_initialized(
    uninitialized: LanguageClient, tmp_path: Path
) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    _runs_of(script, 3)

    refreshed = await _start(uninitialized, tmp_path)
    await asyncio.wait_for(refreshed.wait(), 60)  # the warm-up found the script's runs

    found = titles(await lenses(uninitialized, open_document(uninitialized, script)))
    assert "3 runs · last: accuracy 0.92" in found, found


async def test_a_workspace_without_a_store_gets_no_warm_up_and_no_store(
    uninitialized: LanguageClient, tmp_path: Path
) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)

    refreshed = await _start(uninitialized, tmp_path)
    # The lenses' answer is the marker, not a pause: the server handles messages in order, so
    # it has handled `initialized` by then, and that handler decides there and then whether
    # the start-up thread runs (WorkbenchServer.start_background_tasks). No store, no thread:
    # nothing is left that could refresh lenses or create a store later.
    found = titles(await lenses(uninitialized, open_document(uninitialized, script)))

    assert not refreshed.is_set()
    assert not any("runs ·" in title or "run ·" in title for title in found), found
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "mlruns").exists()


async def test_a_store_made_later_feeds_the_lenses_once_its_cache_has_loaded(
    uninitialized: LanguageClient, tmp_path: Path
) -> None:
    """The first run of a new workspace makes its store after start-up. The Runs view's next
    page is answered from the tables while the cache loads (marked `loading`); the lenses must
    then follow the loaded cache by themselves, without another request (a run's `1 run`
    lens stayed missing in the editor)."""
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    refreshed = await _start(uninitialized, tmp_path)
    found = titles(await lenses(uninitialized, open_document(uninitialized, script)))
    assert not any("runs ·" in title for title in found), found

    _runs_of(script, 2)
    answer = await uninitialized.protocol.send_request_async(
        REQUESTS["QUERY_RUNS"], {"workspaceUri": tmp_path.as_uri(), "limit": 10}
    )
    assert answer.page.loading and answer.page.total == 2  # from the tables, the cache loads
    await asyncio.wait_for(refreshed.wait(), 60)
    found = titles(await lenses(uninitialized, open_document(uninitialized, script)))
    assert "2 runs · last: accuracy 0.91" in found, found
