"""MLflow UI / TensorBoard requests through the real server: start, reuse, refuse, stop.

The MLflow UI is really started by the server on 127.0.0.1 and fetched over loopback; the
LSP shutdown must leave nothing listening.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from mlworkbench_server.protocol import ERROR_CODES, REQUESTS


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "mlworkbench_server"]),
)
async def uninitialized(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    """A client the test initializes and shuts down itself (shutdown is what is tested)."""
    yield


async def _initialize(client: LanguageClient, *, trusted: bool) -> None:
    await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            initialization_options={"trusted": trusted},
        )
    )


def _store(workspace: Path) -> str:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    experiment = client.create_experiment("e", artifact_location=(workspace / "mlruns").as_uri())
    run = client.create_run(experiment)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def _answers(url: str) -> bool:
    assert url.startswith("http://127.0.0.1:")
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@pytest.mark.slow
async def test_the_mlflow_ui_starts_once_and_shutdown_stops_it(
    uninitialized: LanguageClient, tmp_path: Path
) -> None:
    client = uninitialized
    _store(tmp_path)
    await _initialize(client, trusted=True)
    params = {"workspaceUri": tmp_path.as_uri(), "kind": "mlflow"}

    opened = await client.protocol.send_request_async(REQUESTS["OPEN_MONITOR"], params)

    assert (opened.kind, opened.reused) == ("mlflow", False)
    assert opened.url.startswith("http://127.0.0.1:") and _answers(opened.url)
    assert "/?mlwb-token=" in opened.url  # the gate's secret, once, for the browser
    again = await client.protocol.send_request_async(REQUESTS["OPEN_MONITOR"], params)
    assert (again.url, again.reused) == (opened.url, True)

    await client.shutdown_session()

    assert not _answers(opened.url)


@pytest.mark.slow
async def test_stop_monitors_stops_what_runs(uninitialized: LanguageClient, tmp_path: Path) -> None:
    client = uninitialized
    _store(tmp_path)
    await _initialize(client, trusted=True)
    opened = await client.protocol.send_request_async(
        REQUESTS["OPEN_MONITOR"], {"workspaceUri": tmp_path.as_uri(), "kind": "mlflow"}
    )

    stopped = await client.protocol.send_request_async(REQUESTS["STOP_MONITORS"], {})

    assert stopped.stopped == 1 and not _answers(opened.url)
    again = await client.protocol.send_request_async(REQUESTS["STOP_MONITORS"], {})
    assert again.stopped == 0
    await client.shutdown_session()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"kind": "tensorboard", "runId": "RUN"}, ERROR_CODES["NO_EVENT_FILES"]),
        ({"kind": "tensorboard", "runId": "0" * 32}, ERROR_CODES["RUN_NOT_FOUND"]),
        ({"kind": "tensorboard"}, types.ErrorCodes.InvalidParams),
        ({"kind": "jupyter"}, types.ErrorCodes.InvalidParams),
        # A wildcard or a list in one name would switch off MLflow's DNS-rebinding check.
        ({"kind": "mlflow", "allowedHosts": ["*"]}, types.ErrorCodes.InvalidParams),
        (
            {"kind": "mlflow", "allowedHosts": ["a.example,evil.example"]},
            types.ErrorCodes.InvalidParams,
        ),
        ({"kind": "mlflow", "allowedHosts": ["http://a.example/"]}, types.ErrorCodes.InvalidParams),
        ({"kind": "mlflow", "allowedHosts": [8080]}, types.ErrorCodes.InvalidParams),
        ({"kind": "mlflow", "port": 80}, types.ErrorCodes.InvalidParams),
        ({"kind": "mlflow", "port": "8080"}, types.ErrorCodes.InvalidParams),
    ],
)
async def test_bad_monitor_requests_are_refused(
    uninitialized: LanguageClient, tmp_path: Path, params: dict[str, object], code: int
) -> None:
    client = uninitialized
    run_id = _store(tmp_path)
    await _initialize(client, trusted=True)
    if params.get("runId") == "RUN":
        params = {**params, "runId": run_id}

    with pytest.raises(JsonRpcException) as raised:
        await client.protocol.send_request_async(
            REQUESTS["OPEN_MONITOR"], {"workspaceUri": tmp_path.as_uri(), **params}
        )

    assert raised.value.code == code
    assert not (tmp_path / ".mlworkbench" / "monitors").exists() or not list(
        (tmp_path / ".mlworkbench" / "monitors").glob("*.log")
    )
    await client.shutdown_session()


async def test_an_untrusted_workspace_starts_no_server(
    uninitialized: LanguageClient, tmp_path: Path
) -> None:
    client = uninitialized
    _store(tmp_path)
    await _initialize(client, trusted=False)

    with pytest.raises(JsonRpcException) as raised:
        await client.protocol.send_request_async(
            REQUESTS["OPEN_MONITOR"], {"workspaceUri": tmp_path.as_uri(), "kind": "mlflow"}
        )

    assert raised.value.code == ERROR_CODES["UNTRUSTED_WORKSPACE"]
    assert not (tmp_path / ".mlworkbench").exists()
    await client.shutdown_session()
