"""`mlworkbench run` as a user types it: JSON or live output, exit codes, Ctrl+C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from scripts.run_support import (
    TEST_ENV,
    all_runs,
    client_for,
    make_workspace,
    pid_alive,
    wait_until,
    write_script,
)

from mlworkbench.cli import build_parser
from mlworkbench.commands.run import split_rest

SCRIPT = """
    import argparse, sys
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--fail-with", type=int, default=0)
    args = parser.parse_args()
    for epoch in range(args.epochs):
        print(f"epoch {epoch}")
    sys.exit(args.fail_with)
"""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_workspace(tmp_path, monkeypatch)


def mlworkbench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlworkbench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **TEST_ENV},
        timeout=120,
    )


def test_options_after_the_script_and_script_args_after_the_separator() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["run", "train.py", "--json", "--experiment", "e", "--", "--epochs", "2", "--json"]
    )
    assert split_rest(args) == ["--epochs", "2", "--json"]
    assert args.json is True and args.experiment == "e" and args.run_name is None
    args = parser.parse_args(["run", "--run-name", "r", "train.py", "data.csv", "--lr", "1"])
    assert split_rest(args) == ["data.csv", "--lr", "1"]
    assert args.run_name == "r" and args.json is False


def test_json_output_is_the_stored_run(workspace: Path) -> None:
    write_script(workspace, "train.py", SCRIPT)
    completed = mlworkbench(
        "run", "train.py", "--json", "--experiment", "cli", "--", "--epochs", "2", cwd=workspace
    )
    assert completed.returncode == 0, completed.stderr
    outcome = json.loads(completed.stdout)  # stdout holds the JSON document only
    run = client_for(workspace).get_run(outcome["run_id"])
    assert outcome == {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "status": "FINISHED",
        "exit_code": 0,
        "metrics": {},
        "params": {"epochs": "2", "fail_with": "0"},
        "error_tail": None,
    }
    assert client_for(workspace).get_experiment(run.info.experiment_id).name == "cli"
    assert "epoch 0\nepoch 1\n" in completed.stderr  # the script's output, live, on stderr
    assert completed.stderr.rstrip().splitlines()[-1].startswith(f"run {run.info.run_id} finished")


@pytest.mark.slow
def test_failing_script_sets_the_exit_code_and_streams_to_stdout(
    workspace: Path, tmp_path: Path
) -> None:
    write_script(workspace, "train.py", SCRIPT)
    completed = mlworkbench(
        "run",
        str(workspace / "train.py"),
        "--workspace",
        str(workspace),
        "--",
        "--fail-with",
        "3",
        cwd=tmp_path,
    )
    assert completed.returncode == 3
    assert completed.stdout == "epoch 0\n"
    summary = completed.stderr.rstrip().splitlines()[-1]
    assert "failed (exit code 3)" in summary
    [run] = all_runs(workspace)
    assert run.info.status == "FAILED"
    assert run.data.tags["mlworkbench.exit_code"] == "3"


def _run_in_a_terminal(workspace: Path, script: str) -> subprocess.Popen[str]:
    """`mlworkbench run SCRIPT` as a terminal starts it: SIGINT at its default, whatever this
    test runner inherited (a runner started as a background job ignores SIGINT, and passes
    that on); its output piped here."""
    cli = subprocess.Popen(
        [sys.executable, "-m", "mlworkbench", "run", script],
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **TEST_ENV},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert cli.stdout is not None
    return cli


@pytest.mark.slow
def test_sigterm_stops_the_runs_whole_group_and_exits_143(workspace: Path) -> None:
    """`kill` (or a caller's cancel that escalated to SIGTERM) reaches the script's own
    process group through this process: the script does not run on without it."""
    write_script(
        workspace,
        "forever.py",
        "import os, signal, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"  # it takes more than an interrupt
        "print(os.getpid(), flush=True)\n"
        "while True:\n    time.sleep(0.1)\n",
    )
    cli = _run_in_a_terminal(workspace, "forever.py")
    assert cli.stdout is not None
    script_pid = int(cli.stdout.readline())
    cli.terminate()
    _, stderr = cli.communicate(timeout=30)
    assert cli.returncode == 143, stderr
    wait_until(lambda: not pid_alive(script_pid), 10, "the script to end with its CLI")
    [run] = all_runs(workspace)
    assert run.info.status == "KILLED"
    assert f"run {run.info.run_id} killed" in stderr.rstrip().splitlines()[-1]


@pytest.mark.slow
def test_ctrl_c_cancels_the_run_and_exits_130(workspace: Path) -> None:
    write_script(
        workspace,
        "forever.py",
        "import time\nprint('training', flush=True)\nwhile True:\n    time.sleep(0.1)\n",
    )
    cli = _run_in_a_terminal(workspace, "forever.py")
    assert cli.stdout is not None
    assert cli.stdout.readline() == "training\n"  # the script runs; its output is live
    cli.send_signal(signal.SIGINT)  # what the terminal sends for Ctrl+C
    _, stderr = cli.communicate(timeout=60)
    assert cli.returncode == 130, stderr
    [run] = all_runs(workspace)
    assert run.info.status == "KILLED"
    assert "KeyboardInterrupt" in run.data.tags["mlworkbench.error_tail"]
    assert f"run {run.info.run_id} killed" in stderr.rstrip().splitlines()[-1]
