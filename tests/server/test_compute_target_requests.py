"""Compute-target requests through the real server: Restricted Mode refuses what starts
processes, an unreachable Ray address is named within seconds (no hang, no run, no tracking
server started for it), and the listing shows this machine, the workbench's cluster (stopped
here) and each target of the setting with its state.

The cluster itself, a job on it and the tracking server run for real in
tests/backend/test_ray_target.py, tests/backend/test_tracking_server.py and the e2e test.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from mlworkbench_server.protocol import ERROR_CODES, REQUESTS

ROOT = Path(__file__).resolve().parents[2]
ANSWER_WITHIN_S = 30.0  # a hang would block the request for minutes; the probe is 5 s


@pytest.fixture(autouse=True)
def private_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server (a child of this process) keeps its cluster record in a private state
    folder: no cluster another test or the user started is seen here."""
    monkeypatch.setenv("XDG_STATE_HOME", tempfile.mkdtemp(prefix="mlwb-state-"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def closed_address() -> str:
    """An http address on 127.0.0.1 where nothing listens (the port was just free)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def _error(client: LanguageClient, method: str, params: object) -> JsonRpcException:
    with pytest.raises(JsonRpcException) as raised:
        await asyncio.wait_for(
            client.protocol.send_request_async(method, params), timeout=ANSWER_WITHIN_S
        )
    return raised.value


async def test_restricted_mode_refuses_starting_and_stopping(client: LanguageClient) -> None:
    workspace = (ROOT / "demo").as_uri()
    script = (ROOT / "demo" / "train_iris.py").as_uri()
    refused = {
        "START_LOCAL_CLUSTER": {"workspaceUri": workspace},
        "STOP_LOCAL_CLUSTER": {},
        "START_TRACKING_SERVER": {"workspaceUri": workspace},
        "STOP_TRACKING_SERVER": {"workspaceUri": workspace},
        "START_RUN": {
            "uri": script,
            "workspaceUri": workspace,
            "args": [],
            "targetAddress": closed_address(),
            "targetName": "lab",
        },
    }
    for name, params in refused.items():
        error = await _error(client, REQUESTS[name], params)
        assert error.code == ERROR_CODES["UNTRUSTED_WORKSPACE"], name


async def test_listing_names_an_unreachable_target_and_why(
    trusted: LanguageClient, tmp_path: Path
) -> None:
    down = closed_address()
    result = await asyncio.wait_for(
        trusted.protocol.send_request_async(
            REQUESTS["LIST_COMPUTE_TARGETS"],
            {"workspaceUri": tmp_path.as_uri(), "targets": [{"name": "lab", "address": down}]},
        ),
        timeout=ANSWER_WITHIN_S,
    )
    targets = result.targets
    assert [(t.name, t.kind, t.managed) for t in targets] == [
        ("Local", "local", False),
        ("Local Ray cluster", "ray", True),
        ("lab", "ray", False),
    ]
    assert targets[0].reachable is True
    assert targets[1].address is None and targets[1].reachable is False  # stopped
    assert targets[2].reachable is False
    assert down in targets[2].error
    assert result.trackingServer is None


async def test_run_on_an_unreachable_cluster_fails_fast_and_starts_nothing(
    trusted: LanguageClient, tmp_path: Path
) -> None:
    script = tmp_path / "train.py"
    script.write_text("import sklearn\nprint('never runs')\n")
    down = closed_address()
    error = await _error(
        trusted,
        REQUESTS["START_RUN"],
        {
            "uri": script.as_uri(),
            "workspaceUri": tmp_path.as_uri(),
            "args": [],
            "targetAddress": down,
            "targetName": "lab",
        },
    )
    assert error.code == ERROR_CODES["COMPUTE_TARGET_UNREACHABLE"]
    assert down in str(error)
    # No run, no store and no tracking server were made for a cluster that is not there.
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / ".mlworkbench" / "server").exists()


async def test_a_sweep_on_an_unreachable_cluster_fails_fast_and_starts_nothing(
    trusted: LanguageClient, tmp_path: Path
) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import argparse\nimport sklearn\n"
        "p = argparse.ArgumentParser()\np.add_argument('--lr', type=float)\np.parse_args()\n"
    )
    down = closed_address()
    error = await _error(
        trusted,
        REQUESTS["START_SWEEP"],
        {
            "workspaceUri": tmp_path.as_uri(),
            "jobId": "j1",
            "uri": script.as_uri(),
            "params": [{"name": "lr", "values": ["0.1", "0.2"]}],
            "targetAddress": down,
        },
    )
    assert error.code == ERROR_CODES["COMPUTE_TARGET_UNREACHABLE"]
    assert down in str(error)
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / ".mlworkbench" / "server").exists()
