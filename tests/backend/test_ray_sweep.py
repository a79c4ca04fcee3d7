"""Sweeps on a Ray target: the refusals before any run (fast), then one real 2-trial sweep whose
trials are jobs on a real local Ray cluster tracking to a real `mlflow server`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_ray_target import _await_http, _closed_port, _start_mlflow_server

from mlworkbench import cli
from mlworkbench.compute import ray_cluster
from mlworkbench.compute.ray_errors import ComputeTargetUnreachableError, WorkingDirTooLargeError
from mlworkbench.compute.ray_sweep import RayTrials
from mlworkbench.compute.sweep_plan import plan_sweep
from mlworkbench.compute.sweep_runner import PARENT_TAG, TRIAL_TAG, Sweep

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


# --- on a real cluster ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_env() -> Iterator[dict[str, object]]:
    """One cluster and one tracking server for the module, as test_ray_target.py starts them."""
    with pytest.MonkeyPatch.context() as patch:
        folder = Path(tempfile.mkdtemp(prefix="mlwb-raysweep-"))
        patch.setenv("XDG_STATE_HOME", str(folder / "state"))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        server, uri = _start_mlflow_server(folder)
        info = None
        try:
            info = ray_cluster.start_local_cluster(num_cpus=2)
            _await_http(f"{uri}/health", 60)
            workspace = folder / "ws"
            workspace.mkdir()
            (workspace / "score.py").write_text(textwrap.dedent(SCORE))
            yield {"info": info, "uri": uri, "workspace": workspace}
        finally:
            try:
                if info is not None:
                    assert ray_cluster.stop_local_cluster()
                    assert not ray_cluster._cluster_pids(info.pgid, info.temp_dir)
            finally:
                os.killpg(server.pid, signal.SIGKILL)  # its sqlite file is thrown away anyway
                server.wait(timeout=30)
                shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_two_trials_run_as_jobs_nested_under_one_parent_and_the_best_is_picked(
    ray_env: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow.tracking import MlflowClient

    info = ray_env["info"]
    assert isinstance(info, ray_cluster.ClusterInfo)
    uri, workspace = str(ray_env["uri"]), ray_env["workspace"]
    assert isinstance(workspace, Path)
    words = ["--param", "lr=0.1,0.5", "--max-concurrent", "2", "--metric", "score"]
    words += ["--tracking-uri", uri, "--experiment", "ray-sweep"]
    started = time.monotonic()
    status = _sweep(workspace, *words, "--target", "ray", "--json")
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert status == 0, err
    assert elapsed < 60, f"{elapsed:.1f} s"
    document = json.loads(out)
    assert f"2 at a time as Ray jobs on {info.address}" in err
    assert "trial 1/2 lr=0.1: FINISHED score=1" in err
    assert "trial 2/2 lr=0.5: FINISHED score=0.6" in err

    client = MlflowClient(uri)
    parent = client.get_run(document["parent_run_id"])
    assert parent.info.status == "FINISHED" == document["status"]
    assert parent.data.tags["mlworkbench.compute_target"] == "ray"
    assert parent.data.tags["mlworkbench.ray_address"] == info.address
    experiment = parent.info.experiment_id
    children = client.search_runs(
        [experiment], filter_string=f"tags.`{PARENT_TAG}` = '{parent.info.run_id}'"
    )
    by_trial = {int(run.data.tags[TRIAL_TAG]): run for run in children}
    assert sorted(by_trial) == [1, 2]
    for trial in document["trials"]:
        child = by_trial[trial["index"]]
        assert child.info.run_id == trial["run_id"] and child.info.status == "FINISHED"
        assert child.info.run_name == f"trial-{trial['index']}"
        assert child.data.tags["mlworkbench.compute_target"] == "ray"
        assert child.data.tags["mlworkbench.ray_job_id"].startswith("mlworkbench-")
        assert child.data.params["lr"] == str(trial["values"]["lr"])  # the script's own parse
        assert child.data.metrics["score"] == trial["metric"]
    assert document["best"]["index"] == 1 and document["best"]["run_id"] == by_trial[1].info.run_id
    assert parent.data.metrics["best_score"] == 1.0
    assert parent.data.params["best.lr"] == "0.1"
    assert parent.data.tags["mlworkbench.sweep.best_run_id"] == by_trial[1].info.run_id
    assert parent.data.metrics["trials_finished"] == 2.0

    # An unreachable cluster with this live server: refused within seconds, no run created.
    before = len(client.search_runs([experiment]))
    address = f"http://127.0.0.1:{_closed_port()}"
    refused = time.monotonic()
    status = _sweep(workspace, *words, "--target", address)
    assert status == cli.EXIT_USAGE and time.monotonic() - refused < 10
    assert address in capsys.readouterr().err
    assert len(client.search_runs([experiment])) == before
