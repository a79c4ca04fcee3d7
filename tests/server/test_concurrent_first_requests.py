"""The first MLflow requests of a fresh server, all at once, all succeed.

Right after start-up the editor asks for the Runs view, the Models view and run details
together; each handler runs in its own worker thread and imports part of MLflow. MLflow's
import cycles made concurrent first imports trip Python's deadlock detection and leave `mlflow`
half-imported for good (seen in code-server); the server now imports it whole, once, first.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from mlworkbench_server.protocol import REQUESTS

# Starts a server and a store-writing child, then waits on every first import: ~13 s.
pytestmark = pytest.mark.slow


def make_store(workspace: Path) -> str:
    """A store with one finished run, written by a separate process (MLflow stays unimported
    here until the server has answered)."""
    import subprocess

    code = (
        "import sys; from mlflow.tracking import MlflowClient\n"
        "c = MlflowClient(f'sqlite:///{sys.argv[1]}/mlflow.db')\n"
        "e = c.create_experiment('exp', artifact_location=(sys.argv[1] + '/mlruns'))\n"
        "r = c.create_run(e, run_name='one').info.run_id\n"
        "c.log_metric(r, 'acc', 0.5); c.log_param(r, 'lr', '0.1'); c.set_terminated(r)\n"
        "print(r)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(workspace)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "mlworkbench_server"]),
)
async def client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    yield lsp_client


async def test_first_requests_in_parallel_all_answer(
    client: LanguageClient, tmp_path: Path
) -> None:
    run_id = make_store(tmp_path)
    workspace_uri = tmp_path.as_uri()
    await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            initialization_options={"trusted": True},
            workspace_folders=[types.WorkspaceFolder(uri=workspace_uri, name="ws")],
        )
    )
    ws = {"workspaceUri": workspace_uri}
    requests = [
        (REQUESTS["LIST_EXPERIMENTS"], ws),
        (REQUESTS["LIST_MODELS"], ws),
        (REQUESTS["QUERY_RUNS"], ws),
        (REQUESTS["RUN_DETAILS"], {**ws, "runId": run_id}),
        (REQUESTS["LIST_RUNS"], ws),
        (REQUESTS["LIST_ARTIFACTS"], {**ws, "runId": run_id}),
    ]
    results = await asyncio.gather(
        *(client.protocol.send_request_async(method, params) for method, params in requests)
    )
    experiments, models, page, details, listing, artifacts = results
    assert [e.name for e in experiments.experiments if e.name == "exp"] == ["exp"]
    assert models.models == []
    assert [r.run_id for r in page.page.runs] == [run_id]
    assert details.run_name == "one" and details.metrics.acc == 0.5
    assert [r.run_id for r in listing.runs] == [run_id]
    assert artifacts.entries == []
    await client.shutdown_session()
