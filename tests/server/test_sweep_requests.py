"""Sweep requests through the real server: the `mlworkbench sweep` argument list a request
becomes, refusals (Restricted Mode, a misspelled parameter, a value no command line holds), a
real sweep whose hostile values reach the script as plain words, and a cancel that leaves no
trial process behind.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from mlworkbench_server.compute_requests import script_args, sweep_argv
from mlworkbench_server.protocol import ERROR_CODES, NOTIFICATIONS, REQUESTS
from tests.backend.scripts.run_support import (
    client_for,
    make_workspace,
    pid_alive,
    wait_until,
    write_script,
)

pytestmark = pytest.mark.usefixtures("no_tracking_env")

ROOT = Path(__file__).resolve().parents[2]
# Logs the word it was given, so the run's params show what the script saw.
ECHO = """
    import argparse

    import mlflow

    parser = argparse.ArgumentParser()
    parser.add_argument("--word", type=str, default="plain")
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    mlflow.log_metric("length", len(args.word))
"""
SLEEPER = """
    import argparse, os, pathlib, time

    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=1.0)
    args = parser.parse_args()
    pids = pathlib.Path(__file__).parent / "pids"
    pids.mkdir(exist_ok=True)
    (pids / f"{args.lr}").write_text(str(os.getpid()))
    time.sleep(600)
"""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_workspace(tmp_path, monkeypatch)


def _sweep(client: LanguageClient, **params: Any) -> Any:
    return client.protocol.send_request_async(REQUESTS["START_SWEEP"], params)


# --- the verb a request becomes -----------------------------------------------------------


def test_a_request_becomes_one_item_per_parameter_and_option_with_the_script_last() -> None:
    params: Any = {
        "workspaceUri": "file:///ws",
        "jobId": "j",
        "uri": "file:///ws/train.py",
        "params": [{"name": "lr", "values": ["0.1", "$(id)"]}, {"name": "hidden", "values": ["8"]}],
        "random": 1,
        "seed": 7,
        "maxConcurrent": 2,
        "metric": "accuracy",
        "mode": "min",
        "args": ["--epochs", "3; rm -rf /"],
    }
    assert sweep_argv(params, Path("/ws/train.py")) == [
        "--param=lr=0.1,$(id)",
        "--param=hidden=8",
        "--random=1",
        "--seed=7",
        "--max-concurrent=2",
        "--metric=accuracy",
        "--mode=min",
        "/ws/train.py",
    ]
    assert script_args(params) == ["--epochs", "3; rm -rf /"]


@pytest.mark.parametrize(
    ("values", "words"),
    [
        (["a\nb"], "line break"),
        (["a\x00b"], "NUL"),
        (["1,2"], "','"),
        (["x" * 1001], "longer than"),
    ],
)
async def test_a_value_no_command_line_holds_is_invalid_params(
    trusted: LanguageClient, values: list[str], words: str
) -> None:
    with pytest.raises(JsonRpcException) as error:
        await _sweep(
            trusted,
            workspaceUri=(ROOT / "demo").as_uri(),
            jobId="bad",
            uri=(ROOT / "demo" / "train_iris.py").as_uri(),
            params=[{"name": "seed", "values": values}],
        )
    assert error.value.code == types.ErrorCodes.InvalidParams
    assert words in error.value.message


# --- refusals -------------------------------------------------------------------------------


async def test_restricted_mode_refuses_a_sweep(client: LanguageClient) -> None:
    with pytest.raises(JsonRpcException) as error:
        await _sweep(
            client,
            workspaceUri=(ROOT / "demo").as_uri(),
            jobId="untrusted",
            uri=(ROOT / "demo" / "train_iris.py").as_uri(),
            params=[{"name": "seed", "values": ["1", "2"]}],
        )
    assert error.value.code == ERROR_CODES["UNTRUSTED_WORKSPACE"]


async def test_a_misspelled_parameter_comes_back_typed_with_the_closest_name(
    trusted: LanguageClient, workspace: Path
) -> None:
    script = write_script(workspace, "echo.py", ECHO)
    with pytest.raises(JsonRpcException) as error:
        await _sweep(
            trusted,
            workspaceUri=workspace.as_uri(),
            jobId="typo",
            uri=script.as_uri(),
            params=[{"name": "l", "values": ["0.1", "0.2"]}],
        )
    assert error.value.code == ERROR_CODES["UNKNOWN_SWEEP_PARAMETER"]
    assert error.value.data["closest"] == "lr"
    assert "did you mean 'lr'" in error.value.message
    assert not client_for(workspace).search_runs(["0"])  # refused before any run existed


# --- real sweeps ----------------------------------------------------------------------------


@pytest.mark.slow
async def test_hostile_values_reach_the_script_as_plain_words(
    trusted: LanguageClient, workspace: Path
) -> None:
    script = write_script(workspace, "echo.py", ECHO)
    hostile = ["; touch pwned-semicolon", "$(touch pwned-subshell) `touch pwned-tick`"]
    progress: list[str] = []

    @trusted.feature(NOTIFICATIONS["SWEEP_PROGRESS"])
    def on_progress(params: Any) -> None:
        if params.jobId == "echo":
            progress.append(params.message)

    result = await _sweep(
        trusted,
        workspaceUri=workspace.as_uri(),
        jobId="echo",
        uri=script.as_uri(),
        params=[{"name": "word", "values": hostile}],
        maxConcurrent=2,
        metric="length",
        mode="max",
        args=["--lr", "0.5"],
    )

    assert result.status == "FINISHED"
    assert [t.status for t in result.trials] == ["FINISHED", "FINISHED"]
    client = client_for(workspace)
    seen = [client.get_run(t.runId).data.params for t in result.trials]
    assert [p["word"] for p in seen] == hostile  # parsed params: exactly what argparse got
    assert [p["lr"] for p in seen] == ["0.5", "0.5"]  # the fixed args after `--`
    assert not list(workspace.glob("pwned*")) and not list(Path.cwd().glob("pwned*"))
    assert result.best.index == 2 and result.best.values.word == hostile[1]  # the longer word
    assert result.best.metric == len(hostile[1])
    parent = client.get_run(result.parentRunId)
    assert parent.info.status == "FINISHED"
    assert {client.get_run(t.runId).data.tags["mlflow.parentRunId"] for t in result.trials} == {
        result.parentRunId
    }
    assert any(": started" in line for line in progress)
    assert any("FINISHED length=" in line for line in progress)


@pytest.mark.slow
async def test_cancel_stops_the_sweep_and_every_trial_process(
    trusted: LanguageClient, workspace: Path
) -> None:
    script = write_script(workspace, "sleeper.py", SLEEPER)
    pids = workspace / "pids"
    sweep = asyncio.ensure_future(
        _sweep(
            trusted,
            workspaceUri=workspace.as_uri(),
            jobId="sleepy",
            uri=script.as_uri(),
            params=[{"name": "lr", "values": ["1", "2", "3"]}],
            maxConcurrent=2,
        )
    )
    # Both trials in flight have started their script (each wrote its pid).
    while not (pids.is_dir() and len(list(pids.iterdir())) == 2):
        assert not sweep.done(), sweep
        await asyncio.sleep(0.1)
    await trusted.protocol.send_request_async(REQUESTS["CANCEL_SWEEP"], {"jobId": "sleepy"})
    with pytest.raises(JsonRpcException) as error:
        await asyncio.wait_for(sweep, 60)

    assert error.value.code == ERROR_CODES["SWEEP_FAILED"]
    assert error.value.data["cancelled"] is True
    trial_pids = [int(path.read_text()) for path in pids.iterdir()]
    assert not [pid for pid in trial_pids if pid_alive(pid)]
    client = client_for(workspace)
    runs = client.search_runs(["0"])
    parent = [r for r in runs if r.data.tags.get("mlworkbench.sweep") == "1"]
    assert len(parent) == 1 and parent[0].info.status == "KILLED"
    sweep_pid = int(parent[0].data.tags["mlworkbench.pid"])
    wait_until(lambda: not pid_alive(sweep_pid), 10, "the sweep process ended")
    # The two trials in flight ended KILLED; the third never started (no run, no process).
    assert sorted(r.info.status for r in runs if r not in parent) == ["KILLED", "KILLED"]
    assert len(trial_pids) == 2
