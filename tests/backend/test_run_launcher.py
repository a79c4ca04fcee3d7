"""Tracked runs end to end: what a script's run looks like in the MLflow store afterwards."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scripts.run_support import (
    all_runs,
    artifact_text,
    client_for,
    make_workspace,
    write_script,
)

from mlworkbench.launch.launcher import RunResult, start_run


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_workspace(tmp_path, monkeypatch)


ARGPARSE_SCRIPT = """
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--data-dir", default="data")
    args = parser.parse_args()
    for epoch in range(args.epochs):
        print(f"epoch {epoch} lr {args.lr}")
    print("to stderr", file=sys.stderr)
"""


def git(workspace: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(workspace), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_finished_run_has_parsed_params_provenance_and_log(workspace: Path) -> None:
    git(workspace, "init", "-q")
    script = write_script(workspace, "train.py", ARGPARSE_SCRIPT)
    git(workspace, "add", "train.py")
    git(workspace, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    chunks: list[str] = []

    handle = start_run(script, ["--epochs", "2"], workspace=workspace)
    result = handle.wait(on_output=chunks.append)

    run = client_for(workspace).get_run(handle.run_id)
    assert run.info.status == "FINISHED" == result.status
    assert result.exit_code == 0 and result.error_tail is None
    assert run.info.experiment_id == "0" == handle.experiment_id
    # Parsed values, defaults included, under the script's own names.
    assert run.data.params == {"epochs": "2", "lr": "0.1", "data_dir": "data"}
    assert result.params == run.data.params
    tags = run.data.tags
    assert json.loads(tags["mlworkbench.argv"]) == [str(script), "--epochs", "2"]
    assert json.loads(tags["mlworkbench.command"]) == [sys.executable, str(script), "--epochs", "2"]
    assert tags["mlworkbench.script"] == str(script)
    import hashlib

    assert tags["mlworkbench.script_sha256"] == hashlib.sha256(script.read_bytes()).hexdigest()
    assert tags["mlworkbench.python"] == sys.executable
    assert tags["mlworkbench.git_commit"] == git(workspace, "rev-parse", "HEAD")
    assert tags["mlworkbench.git_dirty"] == "false"  # mlflow.db and mlruns/ are untracked
    assert tags["mlworkbench.host"] == socket.gethostname()
    assert tags["mlworkbench.pid"] == str(handle.pid)
    assert tags["mlworkbench.pid_start_time"].isdigit()
    assert tags["mlworkbench.exit_code"] == "0"
    assert "mlworkbench.error_tail" not in tags
    # The output streamed live and the log artifact hold the same text.
    log = artifact_text(workspace, handle.run_id, "mlworkbench/output.log")
    assert "epoch 0 lr 0.1\nepoch 1 lr 0.1\n" in log and "to stderr" in log
    assert "".join(chunks) == handle.log_path.read_text()
    assert "epoch 2" not in log
    # The artifacts of the Default experiment live in the workspace, as `mlflow ui` expects.
    assert run.info.artifact_uri.startswith(str(workspace / "mlruns" / "0"))


@pytest.mark.slow
def test_script_with_its_own_mlflow_run_stays_one_run(workspace: Path) -> None:
    script = write_script(
        workspace,
        "own_run.py",
        """
        import argparse
        import mlflow

        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=0.1)
        args = parser.parse_args()
        with mlflow.start_run(run_name="from-script", tags={"team": "vision"}) as run:
            mlflow.log_param("lr", "0.10 (as the script writes it)")  # same name, other value
            mlflow.log_param("own", "yes")
            for step in range(3):
                mlflow.log_metric("own_loss", 1.0 / (step + 1), step=step)
            print("inside", run.info.run_id)
        mlflow.end_run()
        print("after", mlflow.active_run().info.run_id)
        """,
    )
    handle = start_run(script, ["--lr", "0.1"], workspace=workspace)
    result = handle.wait()

    runs = all_runs(workspace)
    assert [r.info.run_id for r in runs] == [handle.run_id]  # exactly one run
    run = runs[0]
    assert run.info.status == "FINISHED" == result.status
    # The script's own params win; the captured --lr was skipped instead of crashing it.
    assert run.data.params == {"lr": "0.10 (as the script writes it)", "own": "yes"}
    history = client_for(workspace).get_metric_history(handle.run_id, "own_loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 1.0 / 3)]
    assert run.data.tags["team"] == "vision"
    assert run.info.run_name == "from-script"
    log = artifact_text(workspace, handle.run_id, "mlworkbench/output.log")
    assert f"inside {handle.run_id}" in log and f"after {handle.run_id}" in log


@pytest.mark.slow
def test_a_sweep_of_runs_in_one_script_nests_under_the_workbench_run(workspace: Path) -> None:
    script = write_script(
        workspace,
        "sweep.py",
        """
        import mlflow

        for lr in (0.1, 0.01, 0.001):
            with mlflow.start_run():
                mlflow.log_param("lr", lr)
                mlflow.log_metric("score", lr * 10)
        """,
    )
    handle = start_run(script, workspace=workspace)
    result = handle.wait()

    assert result.status == "FINISHED", result.error_tail
    runs = {r.info.run_id: r for r in all_runs(workspace)}
    parent = runs.pop(handle.run_id)
    assert parent.data.params == {"lr": "0.1"}
    assert sorted(r.data.params["lr"] for r in runs.values()) == ["0.001", "0.01"]
    assert {r.data.tags["mlflow.parentRunId"] for r in runs.values()} == {handle.run_id}
    assert {r.info.status for r in runs.values()} == {"FINISHED"}


@pytest.mark.slow
def test_script_without_main_guard_runs_like_python_script(workspace: Path) -> None:
    write_script(workspace, "pkg/helpers.py", "VALUE = 'sibling module'\n")
    script = write_script(
        workspace,
        "pkg/flat.py",
        """
        import json, os, sys
        import helpers  # next to the script: sys.path[0] must be the script's folder

        print(json.dumps({
            "name": __name__, "argv": sys.argv, "path0": sys.path[0],
            "cwd": os.getcwd(), "helper": helpers.VALUE,
        }))
        """,
    )
    result = start_run(script, ["a", "--b"], workspace=workspace).wait()

    assert result.status == "FINISHED", result.error_tail
    log = artifact_text(workspace, result.run_id, "mlworkbench/output.log")
    seen = json.loads(log.strip().splitlines()[-1])
    assert seen == {
        "name": "__main__",
        "argv": [str(script), "a", "--b"],
        "path0": str(script.parent),
        "cwd": str(workspace),
        "helper": "sibling module",
    }


def assert_failed(workspace: Path, result: RunResult, exit_code: int, *expected: str) -> str:
    run = client_for(workspace).get_run(result.run_id)
    assert run.info.status == "FAILED" == result.status
    assert result.exit_code == exit_code
    assert run.data.tags["mlworkbench.exit_code"] == str(exit_code)
    tail = run.data.tags["mlworkbench.error_tail"]
    assert tail == result.error_tail
    for text in expected:
        assert text in tail, tail
    log = artifact_text(workspace, result.run_id, "mlworkbench/output.log")
    assert log.rstrip().endswith(tail.rstrip().splitlines()[-1])
    return tail


@pytest.mark.slow
def test_syntax_error_gives_a_failed_run_with_the_error(workspace: Path) -> None:
    script = write_script(workspace, "broken.py", "import os\n\ndef main(:\n    pass\n")
    result = start_run(script, workspace=workspace).wait()
    tail = assert_failed(workspace, result, 1, "SyntaxError", "broken.py", "line 3")
    assert "bootstrap" not in tail and "runpy" not in tail  # as `python broken.py` shows it


@pytest.mark.slow
def test_exception_gives_a_failed_run_with_the_traceback(workspace: Path) -> None:
    script = write_script(
        workspace,
        "crash.py",
        """
        def train():
            raise ValueError("learning rate must be positive")

        print("starting")
        train()
        """,
    )
    result = start_run(script, workspace=workspace).wait()
    tail = assert_failed(
        workspace, result, 1, "Traceback", 'crash.py", line 5', "ValueError: learning rate"
    )
    assert "bootstrap" not in tail and "runpy" not in tail


@pytest.mark.slow
def test_unknown_argparse_option_fails_with_argparse_message(workspace: Path) -> None:
    script = write_script(workspace, "train.py", ARGPARSE_SCRIPT)
    result = start_run(script, ["--epochs", "1", "--bogus", "x"], workspace=workspace).wait()
    assert_failed(workspace, result, 2, "usage: train.py", "unrecognized arguments: --bogus x")
    assert client_for(workspace).get_run(result.run_id).data.params == {}


@pytest.mark.slow
def test_click_options_are_logged_as_params(workspace: Path) -> None:
    script = write_script(
        workspace,
        "cli_train.py",
        """
        import click

        @click.command()
        @click.option("--epochs", type=int, default=5)
        @click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default="sgd")
        @click.argument("data")
        def train(epochs, optimizer, data):
            print(epochs, optimizer, data)

        if __name__ == "__main__":
            train()
        """,
    )
    result = start_run(script, ["digits.csv", "--optimizer", "adam"], workspace=workspace).wait()
    assert result.status == "FINISHED", result.error_tail
    params = client_for(workspace).get_run(result.run_id).data.params
    assert params == {"epochs": "5", "optimizer": "adam", "data": "digits.csv"}


@pytest.mark.slow
def test_100000_lines_of_output_are_all_kept(workspace: Path) -> None:
    script = write_script(
        workspace,
        "chatty.py",
        """
        import sys
        for i in range(100_000):
            print(f"line {i:06d}")
        sys.stderr.write("done\\n")
        """,
    )
    received: list[str] = []
    started = time.monotonic()
    result = start_run(script, workspace=workspace).wait(on_output=received.append)
    elapsed = time.monotonic() - started

    assert result.status == "FINISHED"
    log = artifact_text(workspace, result.run_id, "mlworkbench/output.log")
    lines = [line for line in log.splitlines() if line.startswith("line ")]
    assert len(lines) == 100_000
    assert lines[0] == "line 000000" and lines[-1] == "line 099999"
    assert log.endswith("done\n")
    assert "".join(received) == log
    assert elapsed < 60, elapsed  # a file, not a pipe read line by line


@pytest.mark.slow
def test_env_reaches_the_script_and_run_name_is_used(workspace: Path) -> None:
    script = write_script(
        workspace,
        "env.py",
        "import os\nprint(os.environ['MY_SETTING'], os.environ['MLFLOW_TRACKING_URI'])\n",
    )
    handle = start_run(
        script, workspace=workspace, env={"MY_SETTING": "42"}, run_name="nightly", experiment="exp"
    )
    result = handle.wait()
    assert result.status == "FINISHED", result.error_tail
    client = client_for(workspace)
    run = client.get_run(handle.run_id)
    assert run.info.run_name == "nightly"
    experiment = client.get_experiment(handle.experiment_id)
    assert experiment.name == "exp"
    # A created experiment follows MLflow's layout under the workspace: mlruns/<id>.
    assert experiment.artifact_location == str(workspace / "mlruns" / handle.experiment_id)
    log = artifact_text(workspace, handle.run_id, "mlworkbench/output.log")
    assert log.strip() == f"42 sqlite:///{workspace / 'mlflow.db'}"
    assert "MY_SETTING" not in os.environ
