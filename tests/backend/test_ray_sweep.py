"""Sweeps on a Ray target: the refusals before any run (fast), then one real 2-trial sweep whose
trials are jobs on a real local Ray cluster tracking to a real `mlflow server`."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from test_ray_target import _closed_port

from mlworkbench import cli
from mlworkbench.compute.ray_errors import ComputeTargetUnreachableError, WorkingDirTooLargeError
from mlworkbench.compute.ray_sweep import RayTrials
from mlworkbench.compute.sweep_plan import plan_sweep
from mlworkbench.compute.sweep_runner import Sweep

# No framework to autolog: the trial's cost is the job, the bootstrap and one MLflow import.
SCORE = """
    import argparse

    import mlflow

    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    mlflow.log_metric("score", 1.0 - abs(args.lr - 0.1))
    print(f"scored lr={args.lr}", flush=True)
"""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace with the script, no store, and none of the user's state or tracking URI."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # never the user's cluster
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "score.py").write_text(textwrap.dedent(SCORE))
    return folder


def _sweep(workspace: Path, *words: str) -> int:
    return cli.main(["sweep", "--workspace", str(workspace), str(workspace / "score.py"), *words])


# --- before any run ---------------------------------------------------------------------------


@pytest.mark.parametrize("uri", [None, "sqlite:///{ws}/mlflow.db", "file:///{ws}/mlruns"])
def test_a_ray_sweep_needs_a_tracking_server(
    workspace: Path, uri: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    given = ["--tracking-uri", uri.format(ws=workspace)] if uri else []
    status = _sweep(workspace, "--param", "lr=0.1,0.2", "--target", "http://127.0.0.1:8265", *given)
    assert status == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "must track to an MLflow tracking server" in err and "mlworkbench server start" in err
    assert sorted(p.name for p in workspace.iterdir()) == ["score.py"]  # no store, no run


def test_the_environments_local_store_is_refused_too(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workspace}/mlflow.db")
    status = _sweep(workspace, "--target", "http://127.0.0.1:8265", "--param", "lr=0.1")
    assert status == cli.EXIT_USAGE
    assert f"not sqlite:///{workspace}/mlflow.db" in capsys.readouterr().err
    assert not (workspace / "mlflow.db").exists()


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("ray", "no local Ray cluster is running; start one with `mlworkbench compute start`"),
        ("10.0.0.1:8265", "expected a Ray dashboard address"),
        ("ray://127.0.0.1:10001", "expected a Ray dashboard address"),
    ],
)
def test_invalid_targets_are_refused_before_any_run(
    workspace: Path, target: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = _sweep(
        workspace, "--param", "lr=0.1", "--target", target, "--tracking-uri", "http://127.0.0.1:1"
    )
    assert status == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert f"invalid compute target {target!r}" in err and words in err


def test_an_unreachable_target_is_named_within_seconds_before_the_parent_run(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tracking URI is dead too: the target is checked first, so no parent run could have
    been created (a dead store would have been TRACKING_UNAVAILABLE)."""
    address = f"http://127.0.0.1:{_closed_port()}"
    dead_store = f"http://127.0.0.1:{_closed_port()}"
    plan = plan_sweep(
        workspace / "score.py", ["lr=0.1,0.2"], workspace=workspace, tracking_uri=dead_store
    )
    sweep = Sweep(plan, launcher=RayTrials(address, probe_timeout_s=2))
    started = time.monotonic()
    with pytest.raises(ComputeTargetUnreachableError) as caught:
        sweep.run()
    assert time.monotonic() - started < 5
    assert caught.value.code == "COMPUTE_TARGET_UNREACHABLE"
    assert caught.value.data["address"] == address and address in caught.value.message
    assert sweep.parent_run_id is None
    # The CLI says the same, naming the address.
    started = time.monotonic()
    status = _sweep(
        workspace, "--param", "lr=0.1", "--target", address, "--tracking-uri", dead_store
    )
    assert status == cli.EXIT_USAGE and time.monotonic() - started < 10
    assert f"the Ray cluster at {address} is not reachable" in capsys.readouterr().err


def test_a_workspace_too_big_to_upload_is_refused_before_the_parent_run(workspace: Path) -> None:
    (workspace / "data").mkdir()
    (workspace / "data" / "big.bin").write_bytes(b"\0" * 1_500_000)
    plan = plan_sweep(
        workspace / "score.py", ["lr=0.1"], workspace=workspace, tracking_uri="http://127.0.0.1:1"
    )
    # The address is never contacted: the size comes first.
    trials = RayTrials(f"http://127.0.0.1:{_closed_port()}", size_limit_mb=1)
    sweep = Sweep(plan, launcher=trials)
    with pytest.raises(WorkingDirTooLargeError, match="over the 1 MB limit"):
        sweep.run()
    assert sweep.parent_run_id is None


def test_options_after_the_script_reach_the_sweep(workspace: Path) -> None:
    """`--target` and `--tracking-uri` may follow SCRIPT like the other options; only words
    after `--` go to the script."""
    from mlworkbench.commands import sweep as sweep_command

    parser = __import__("argparse").ArgumentParser()
    sweep_command.COMMAND.configure(parser)
    words = ["score.py", "--target", "ray", "--tracking-uri", "http://h:1", "--", "--x", "1"]
    args = parser.parse_args(words)
    assert sweep_command.split_rest(args) == ["--x", "1"]
    assert (args.target, args.tracking_uri) == ("ray", "http://h:1")
