"""Every request goes through one path that checks its trust class; what Restricted Mode allows
(reading local files) cannot reach the network, and the tracking token reaches only its own
server. Real server over LSP, real sqlite store, a real HTTP listener on 127.0.0.1 standing in
for a host a shipped store names.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from mlworkbench_server.protocol import ERROR_CODES, REQUESTS
from mlworkbench_server.request_path import Trust
from mlworkbench_server.server import create_server

TOKEN = "tok-7f3a91-secret"

# The class each request must keep: a change here is a security decision, made in review.
EXPECTED_TRUST = {
    "ANALYZE_SCRIPT": Trust.READ_LOCAL,
    "SERVER_INFO": Trust.READ_LOCAL,
    "LIST_RUNS": Trust.READ_LOCAL,
    "QUERY_RUNS": Trust.READ_LOCAL,
    "LIST_EXPERIMENTS": Trust.READ_LOCAL,
    "COMPARE_RUNS": Trust.READ_LOCAL,
    "RUN_DETAILS": Trust.READ_LOCAL,
    "LIST_ARTIFACTS": Trust.READ_LOCAL,
    "RESOLVE_ARTIFACT": Trust.READ_LOCAL,
    "LIST_MODELS": Trust.READ_LOCAL,
    "LIST_REPORTS": Trust.READ_LOCAL,
    "READ_REPORT": Trust.READ_LOCAL,
    "INSPECT_DATA": Trust.READ_LOCAL,
    # Loading a model runs its code: reports are made only in a trusted workspace.
    "CREATE_REPORT": Trust.EXECUTE,
    "CANCEL_REPORT": Trust.EXECUTE,
    "START_RUN": Trust.EXECUTE,
    "PREPARE_DEBUG_RUN": Trust.EXECUTE,
    "CANCEL_RUN": Trust.EXECUTE,
    "OPEN_MONITOR": Trust.EXECUTE,
    "STOP_MONITORS": Trust.EXECUTE,
    "EDIT_RUN": Trust.WRITE,
    "REGISTER_MODEL": Trust.WRITE,
    "SET_MODEL_ALIAS": Trust.WRITE,
    "DELETE_MODEL_ALIAS": Trust.WRITE,
    # Deploy: a build and a container run code; the listing and logs only read the engine.
    "BUILD_IMAGE": Trust.EXECUTE,
    "CANCEL_BUILD": Trust.EXECUTE,
    "START_CONTAINER": Trust.EXECUTE,
    "STOP_CONTAINER": Trust.EXECUTE,
    "REMOVE_IMAGE": Trust.EXECUTE,
    "INVOKE_CONTAINER": Trust.EXECUTE,
    "LIST_DEPLOYMENTS": Trust.READ_LOCAL,
    "CONTAINER_LOGS": Trust.READ_LOCAL,
    "SAMPLE_REQUEST": Trust.READ_LOCAL,
    "WRITE_K8S": Trust.WRITE,
    "WRITE_WORKFLOW": Trust.WRITE,
    "START_SWEEP": Trust.EXECUTE,
    "CANCEL_SWEEP": Trust.EXECUTE,
    "LIST_COMPUTE_TARGETS": Trust.NETWORK,
    "START_LOCAL_CLUSTER": Trust.EXECUTE,
    "STOP_LOCAL_CLUSTER": Trust.EXECUTE,
    "START_TRACKING_SERVER": Trust.EXECUTE,
    "STOP_TRACKING_SERVER": Trust.EXECUTE,
}


def test_every_request_is_registered_through_the_path_with_its_class() -> None:
    server = create_server()
    assert set(EXPECTED_TRUST) == set(REQUESTS), "a request without an expected trust class"
    by_method = {REQUESTS[name]: trust for name, trust in EXPECTED_TRUST.items()}
    assert server.request_trust == by_method
    # Nothing answers an `mlworkbench/` method except through the path.
    custom = {m for m in server.protocol.fm.features if m.startswith("mlworkbench/")}
    assert custom == set(server.request_trust)


# --- a host named by a shipped store -----------------------------------------------------------


@dataclass
class Listener:
    port: int
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def listener() -> Iterator[Listener]:
    """An HTTP server that answers MLflow's artifact listing (no files) and records each
    request's Authorization header."""
    seen = Listener(0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.requests.append((self.path, self.headers.get("Authorization")))
            body = json.dumps({"files": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    seen.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield seen
    server.shutdown()
    server.server_close()


@dataclass
class ShippedStore:
    workspace: Path
    run_id: str


def _shipped_store(workspace: Path, artifact_host: str) -> ShippedStore:
    """A workspace whose store has a run in an experiment whose artifacts live at that host."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    experiment = client.create_experiment(
        "shipped", artifact_location=f"{artifact_host}/mlflow-artifacts/artifacts/exp"
    )
    run = client.create_run(experiment, run_name="bait")
    client.log_param(run.info.run_id, "lr", "0.1")
    # An MLflow 3 LoggedModel of the run: its files live under the experiment's location too.
    client.create_logged_model(experiment, name="bait-model", source_run_id=run.info.run_id)
    client.set_terminated(run.info.run_id, "FINISHED")
    return ShippedStore(workspace, run.info.run_id)


def _server(env: dict[str, str]) -> ClientServerConfig:
    import os

    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_TRACKING", "MLWORKBENCH_TRACKING"))
    }
    return ClientServerConfig(
        server_command=[sys.executable, "-m", "mlworkbench_server"], server_env={**clean, **env}
    )


async def _session(config: ClientServerConfig, *, trusted: bool) -> LanguageClient:
    client: LanguageClient = await config.start()  # type: ignore[assignment]
    await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            initialization_options={"trusted": trusted},
        )
    )
    return client


async def _ask(client: LanguageClient, name: str, store: ShippedStore, **params: Any) -> Any:
    return await client.protocol.send_request_async(
        REQUESTS[name], {"workspaceUri": store.workspace.as_uri(), "runId": store.run_id, **params}
    )


async def _expand_the_run(client: LanguageClient, store: ShippedStore) -> list[int]:
    """What the Runs view does when a run is expanded and its artifacts and model opened; the
    error codes of the requests that were refused."""
    details = await _ask(client, "RUN_DETAILS", store)
    assert details.params.lr == "0.1"  # the local store's own data still shows
    codes = []
    assert [m.label for m in details.models] == ["bait-model"]
    for name, params in (
        ("LIST_ARTIFACTS", {}),
        ("RESOLVE_ARTIFACT", {"path": "config"}),
        ("RESOLVE_ARTIFACT", {"model": "bait-model"}),
    ):
        try:
            await _ask(client, name, store, **params)
        except JsonRpcException as error:
            codes.append(error.code)
    return codes


async def _run(config: ClientServerConfig, trusted: bool, body: Any) -> Any:
    client = await _session(config, trusted=trusted)
    try:
        return await body(client)
    finally:
        await client.shutdown_session()
        await client.stop()


@pytest.mark.slow
async def test_restricted_mode_contacts_no_host_a_shipped_store_names(
    tmp_path: Path, listener: Listener
) -> None:
    store = _shipped_store(tmp_path, listener.origin)
    config = _server({"MLWORKBENCH_TRACKING_TOKEN": TOKEN, "MLFLOW_TRACKING_TOKEN": TOKEN})

    codes = await _run(config, False, lambda client: _expand_the_run(client, store))

    assert codes == [ERROR_CODES["NETWORK_REFUSED"]] * 3
    assert listener.requests == []
    assert not (tmp_path / ".mlworkbench").exists()  # nothing downloaded, nothing written


async def test_the_token_never_goes_to_an_artifact_host_a_store_names(
    tmp_path: Path, listener: Listener
) -> None:
    store = _shipped_store(tmp_path, listener.origin)
    config = _server(
        {
            "MLWORKBENCH_TRACKING_TOKEN": TOKEN,
            "MLWORKBENCH_TRACKING_TOKEN_URI": "http://127.0.0.1:9/",  # the user's server
            # A token in the user's shell, for no server in particular, must not leak either.
            "MLFLOW_TRACKING_TOKEN": TOKEN,
        }
    )

    await _run(config, True, lambda client: _ask(client, "LIST_ARTIFACTS", store))

    assert listener.requests, "the trusted workspace lists the remote artifacts"
    assert all(auth is None for _, auth in listener.requests), listener.requests


@pytest.mark.slow
async def test_the_token_goes_to_its_own_server(tmp_path: Path, listener: Listener) -> None:
    store = _shipped_store(tmp_path, listener.origin)
    config = _server(
        {"MLWORKBENCH_TRACKING_TOKEN": TOKEN, "MLWORKBENCH_TRACKING_TOKEN_URI": listener.origin}
    )

    await _run(config, True, lambda client: _ask(client, "LIST_ARTIFACTS", store))

    assert listener.requests
    assert all(auth == f"Bearer {TOKEN}" for _, auth in listener.requests), listener.requests


async def test_restricted_mode_refuses_every_request_above_read_local(tmp_path: Path) -> None:
    store = _shipped_store(tmp_path, "http://127.0.0.1:9")
    config = _server({})

    async def each(client: LanguageClient) -> dict[str, int]:
        codes = {}
        for name, trust in EXPECTED_TRUST.items():
            if trust is Trust.READ_LOCAL:
                continue
            try:
                await _ask(client, name, store, uri=(tmp_path / "x.py").as_uri())
                codes[name] = 0
            except JsonRpcException as error:
                codes[name] = error.code
        return codes

    codes = await _run(config, False, each)
    assert codes == {
        name: ERROR_CODES["UNTRUSTED_WORKSPACE"]
        for name, trust in EXPECTED_TRUST.items()
        if trust is not Trust.READ_LOCAL
    }


# --- start-up writes nothing in Restricted Mode ------------------------------------------------


@pytest_lsp.fixture(config=_server({}))
async def uninitialized(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    yield
    await lsp_client.shutdown_session()


def _stale_run(workspace: Path) -> str:
    """A RUNNING run whose (made-up, dead) process belongs to this machine: reconcile ends it."""
    from mlflow.tracking import MlflowClient

    from mlworkbench.launch.child.proc_info import boot_id, host_name

    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    tags = {
        "mlworkbench.script": str(workspace / "train.py"),
        "mlworkbench.pid": "4194303",  # above any pid_max in use here: no such process
        "mlworkbench.host": host_name(),
    }
    if boot_id():
        tags["mlworkbench.boot_id"] = str(boot_id())
    return str(client.create_run("0", run_name="stale", tags=tags).info.run_id)


@pytest.mark.slow
@pytest.mark.parametrize("trusted", [False, True])
async def test_start_up_reconciles_stale_runs_only_when_trusted(
    uninitialized: LanguageClient, tmp_path: Path, trusted: bool
) -> None:
    from mlflow.tracking import MlflowClient

    run_id = _stale_run(tmp_path)
    refreshed = asyncio.Event()

    @uninitialized.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def on_refresh(params: Any) -> None:
        refreshed.set()

    await uninitialized.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                workspace=types.WorkspaceClientCapabilities(
                    code_lens=types.CodeLensWorkspaceClientCapabilities(refresh_support=True)
                )
            ),
            root_uri=tmp_path.as_uri(),
            initialization_options={"trusted": trusted},
        )
    )
    uninitialized.initialized(types.InitializedParams())
    # The cache warm-up runs after the reconcile task and refreshes the lenses when done.
    await asyncio.wait_for(refreshed.wait(), 60)

    status = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_run(run_id).info.status
    assert status == ("FAILED" if trusted else "RUNNING")


def test_a_plain_answer_is_written_unwalked_and_what_is_not_json_still_converts() -> None:
    """A handler's dict goes to `json.dumps` as it is (cattrs walked 30,000 points one by one);
    an attrs value inside it is still written through pygls's converter, in LSP's field names."""
    from pygls.protocol.json_rpc import JsonRPCResponseMessage

    from mlworkbench_server.request_path import PlainResult

    server = create_server()
    points = [0.5 * i for i in range(1_000)]
    answer = PlainResult(
        series=[{"values": points}],
        where=types.Location(
            uri="file:///w/train.py",
            range=types.Range(types.Position(1, 0), types.Position(1, 4)),
        ),
    )
    message = JsonRPCResponseMessage(id=7, jsonrpc="2.0", result=answer)
    assert server.protocol._converter.unstructure(message)["result"] is answer
    written = json.loads(json.dumps(message, default=server.protocol._serialize_message))
    assert written["result"]["series"][0]["values"] == points
    assert written["result"]["where"]["range"]["end"] == {"line": 1, "character": 4}
