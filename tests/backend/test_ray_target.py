"""Runs on a Ray target: checks before anything is sent (fast), then real jobs on one real local
Ray cluster tracking to one real `mlflow server`, both started and stopped by this module."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlworkbench import cli
from mlworkbench.commands import compute as compute_command
from mlworkbench.compute import ray_cluster, ray_jobs
from mlworkbench.compute.ray_errors import (
    ComputeTargetUnreachableError,
    InvalidComputeTargetError,
    TrackingServerRequiredError,
    WorkingDirTooLargeError,
)
from mlworkbench.compute.ray_workdir import plan_working_dir
from mlworkbench.compute.sweep_runner import PARENT_TAG, TRIAL_TAG
from mlworkbench.errors import TrackingUnavailableError

HOSTILE = ["; touch pwned", "$(touch pwned)", "`touch pwned`", "a b", "--flag=x y", "'\"\\"]

ARGV_SCRIPT = """
    import json, sys
    print("ARGV=" + json.dumps(sys.argv[1:]), flush=True)
"""
TRAIN_SCRIPT = """
    import argparse

    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser()
    parser.add_argument("--c", type=float, default=1.0)
    args = parser.parse_args()
    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(C=args.c, max_iter=200).fit(features, labels)
    print(f"accuracy: {model.score(features, labels):.3f}", flush=True)
"""
RAISE_SCRIPT = """
    print("about to fail", flush=True)
    raise ValueError("the data is bad on purpose")
"""
MISSING_SCRIPT = """
    import no_such_package_mlwb  # noqa: F401
"""
SLEEP_SCRIPT = """
    import time
    print("ready", flush=True)
    time.sleep(120)
"""


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    _write(folder, "argv.py", ARGV_SCRIPT)
    return folder


@pytest.fixture
def private_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Never the user's own state file: a cluster they run must not be found or stopped."""
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state


# --- before anything is sent ------------------------------------------------------------------


def test_closed_port_is_unreachable_at_once_naming_the_address() -> None:
    address = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    status = ray_cluster.cluster_status(address, timeout_s=2)
    assert time.monotonic() - started < 2
    assert not status.reachable
    assert status.error is not None and address in status.error
    assert status.to_dict()["reachable"] is False


def test_silent_server_is_unreachable_within_the_timeout() -> None:
    """A port that accepts connections and never answers: the probe must not hang."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        address = f"http://127.0.0.1:{sock.getsockname()[1]}"
        started = time.monotonic()
        status = ray_cluster.cluster_status(address, timeout_s=1.5)
        elapsed = time.monotonic() - started
    assert elapsed < 3.5
    assert not status.reachable and address in (status.error or "")


def test_submit_to_unreachable_address_raises_naming_it(
    workspace: Path, private_state: Path
) -> None:
    address = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(ComputeTargetUnreachableError) as caught:
        ray_jobs.submit_run(
            address,
            workspace / "argv.py",
            workspace=workspace,
            tracking_uri="http://127.0.0.1:1",
            probe_timeout_s=2,
        )
    assert time.monotonic() - started < 5
    assert caught.value.code == "COMPUTE_TARGET_UNREACHABLE"
    assert address in caught.value.message and caught.value.data["address"] == address


@pytest.mark.slow
def test_dead_tracking_server_is_refused_before_any_run(ray_env: dict[str, object]) -> None:
    info = ray_env["info"]
    assert isinstance(info, ray_cluster.ClusterInfo)
    workspace = ray_env["workspace"]
    assert isinstance(workspace, Path)
    dead = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(TrackingUnavailableError) as caught:
        ray_jobs.submit_run(
            info.address, workspace / "argv.py", workspace=workspace, tracking_uri=dead
        )
    assert time.monotonic() - started < 10
    assert dead in caught.value.message


@pytest.mark.parametrize("uri", ["sqlite:///mlflow.db", "file:///tmp/mlruns", "./mlruns", None])
def test_local_stores_are_refused_for_a_ray_target(workspace: Path, uri: str | None) -> None:
    with pytest.raises(TrackingServerRequiredError) as caught:
        ray_jobs.submit_run(
            "http://127.0.0.1:8265",
            workspace / "argv.py",
            workspace=workspace,
            tracking_uri=uri,  # type: ignore[arg-type]
        )
    assert caught.value.code == "TRACKING_SERVER_REQUIRED"
    assert "mlworkbench server start" in caught.value.message


def test_cli_refuses_a_ray_run_without_a_tracking_server(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workspace}/mlflow.db")
    status = cli.main(
        ["run", "--workspace", str(workspace), "--target", "http://127.0.0.1:8265", "argv.py"]
    )
    assert status == cli.EXIT_USAGE
    assert "mlworkbench server start" in capsys.readouterr().err
    assert not (workspace / "mlflow.db").exists()  # nothing was created


def test_ray_target_needs_a_running_local_cluster(private_state: Path) -> None:
    with pytest.raises(InvalidComputeTargetError) as caught:
        ray_cluster.resolve_target("ray")
    assert "mlworkbench compute start" in caught.value.message
    assert caught.value.code == "INVALID_COMPUTE_TARGET"


@pytest.mark.parametrize("target", ["10.0.0.1:8265", "file:///etc/passwd", "http://", "ray://x:1"])
def test_targets_other_than_dashboard_addresses_are_invalid(target: str) -> None:
    with pytest.raises(InvalidComputeTargetError):
        ray_cluster.resolve_target(target)


def test_working_dir_over_the_limit_names_size_limit_and_biggest_folders(
    workspace: Path,
) -> None:
    (workspace / "data").mkdir()
    (workspace / "data" / "big.bin").write_bytes(b"\0" * 1_500_000)
    (workspace / "models").mkdir()
    (workspace / "models" / "m.bin").write_bytes(b"\0" * 300_000)
    with pytest.raises(WorkingDirTooLargeError) as caught:
        ray_jobs.submit_run(
            f"http://127.0.0.1:{_closed_port()}",  # never contacted: the size is checked first
            workspace / "argv.py",
            workspace=workspace,
            tracking_uri="http://127.0.0.1:1",
            size_limit_mb=1,
        )
    message = caught.value.message
    assert "1.8 MB" in message and "1 MB limit" in message
    assert message.index("data/") < message.index("models/")  # biggest first
    biggest = caught.value.data["biggest"]
    assert isinstance(biggest, list) and biggest[0] == {"path": "data/", "bytes": 1_500_000}


def test_excludes_and_gitignore_are_left_out(workspace: Path) -> None:
    big = b"\0" * 600_000
    for relative in (
        ".git/objects/pack",
        ".venv/lib/site.py",
        "venv/bin/python",
        "node_modules/x/index.js",
        "mlruns/0/meta.yaml",
        ".mlworkbench/cache",
        "pkg/__pycache__/m.pyc",
        "data/train.csv",
        "notes/scratch.tmp",
        "mlflow.db",
        "mlflow.db-wal",
    ):
        path = workspace / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(big)
    (workspace / ".gitignore").write_text("data/\n*.tmp\n# a comment\n")
    (workspace / "pkg" / "model.py").write_text("X = 1\n")
    plan = plan_working_dir(workspace, size_limit_mb=1)  # 11 x 0.6 MB excluded: fits
    assert set(plan.top_level_bytes) == {"argv.py", "pkg/", ".gitignore"}
    assert plan.files == 3
    assert "data/" in plan.excludes and "*.tmp" in plan.excludes


def test_job_spec_carries_hostile_arguments_as_data_not_shell(workspace: Path) -> None:
    spec = ray_jobs.job_spec(
        script="argv.py",
        args=HOSTILE,
        run_id="r1",
        tracking_uri="http://127.0.0.1:5000",
        experiment="e; rm -rf ~",
        run_name="$(whoami)",
        frameworks=[],
        tags={},
        env={"MLFLOW_TRACKING_TOKEN": "secret"},
    )
    assert json.loads(json.dumps(spec))["args"] == HOSTILE
    # The entrypoint Ray hands to a shell is a constant holding none of it.
    assert ray_jobs.ENTRYPOINT == "python -m _mlworkbench_ray_job.ray_job_entry"
    for text in (*HOSTILE, "argv.py", "$(whoami)", "secret"):
        assert text not in ray_jobs.ENTRYPOINT
    package = ray_jobs._job_package(spec)
    try:
        shipped = json.loads((package / "job.json").read_text())
        assert shipped["args"] == HOSTILE and shipped["run_name"] == "$(whoami)"
        assert (package / "bootstrap.py").is_file() and (
            package / "child" / "run_guard.py"
        ).is_file()
    finally:
        shutil.rmtree(package.parent)


def test_job_gets_the_tracking_token_of_its_server_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLWORKBENCH_TRACKING_TOKEN", "tok-123")
    monkeypatch.setenv("MLWORKBENCH_TRACKING_TOKEN_URI", "http://127.0.0.1:5000")
    monkeypatch.setenv("SOME_LOCAL_SECRET", "x")
    assert ray_jobs.tracking_env("http://127.0.0.1:5000") == {"MLFLOW_TRACKING_TOKEN": "tok-123"}
    assert ray_jobs.tracking_env("http://10.1.2.3:5000") == {}


def test_job_entry_hands_hostile_arguments_to_the_script_literally(tmp_path: Path) -> None:
    """The job's own entrypoint, run here without Ray or a server: the bootstrap cannot reach
    the store, yet the argument list must reach the process that would run the script as one
    literal item each, and no shell may run them."""
    package = tmp_path / "pkg" / ray_jobs.JOB_PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    entry = Path(ray_jobs.__file__).with_name("ray_job_entry.py").read_text()
    (package / "ray_job_entry.py").write_text(entry)
    # A stand-in bootstrap that prints what it was given, in place of the real one.
    (package / "bootstrap.py").write_text(
        "import json, sys\nprint('GOT=' + json.dumps(sys.argv[3:]), flush=True)\n"
    )
    spec = ray_jobs.job_spec(
        script="argv.py",
        args=HOSTILE,
        run_id="r1",
        tracking_uri="http://127.0.0.1:1",
        experiment=None,
        run_name=None,
        frameworks=[],
        tags={},
        env={},
    )
    (package / "job.json").write_text(json.dumps(spec))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    done = subprocess.run(
        ["/bin/sh", "-c", ray_jobs.ENTRYPOINT.replace("python", sys.executable, 1)],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(package.parent)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.split("GOT=", 1)[1].splitlines()[0]) == HOSTILE
    assert list(cwd.iterdir()) == []  # no `pwned`


# --- on a real cluster ------------------------------------------------------------------------


def _start_mlflow_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _closed_port()
    mlflow = Path(sys.executable).parent / "mlflow"
    command = [
        str(mlflow),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{folder}/mlflow.db",
        "--artifacts-destination",
        str(folder / "artifacts"),
        "--allowed-hosts",
        f"127.0.0.1:{port},localhost:{port}",
        "--workers",
        "1",
    ]
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - the server's lifetime
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    return process, f"http://127.0.0.1:{port}"


def _await_http(url: str, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.fixture(scope="module")
def ray_env() -> Iterator[dict[str, object]]:
    """One cluster and one tracking server for the module (each costs seconds to start)."""
    with pytest.MonkeyPatch.context() as patch:
        folder = Path(tempfile.mkdtemp(prefix="mlwb-raytest-"))
        patch.setenv("XDG_STATE_HOME", str(folder / "state"))
        server, uri = _start_mlflow_server(folder)
        info = None
        try:
            info = ray_cluster.start_local_cluster(num_cpus=2)
            _await_http(f"{uri}/health", 60)
            workspace = folder / "ws"
            workspace.mkdir()
            for name, source in (
                ("argv.py", ARGV_SCRIPT),
                ("train.py", TRAIN_SCRIPT),
                ("fail.py", RAISE_SCRIPT),
                ("missing.py", MISSING_SCRIPT),
                ("sleep.py", SLEEP_SCRIPT),
                ("score.py", SCORE_SCRIPT),
            ):
                _write(workspace, name, source)
            yield {"info": info, "uri": uri, "workspace": workspace, "folder": folder}
        finally:
            try:
                if info is not None:
                    assert ray_cluster.stop_local_cluster()
                    left = ray_cluster._cluster_pids(info.pgid, info.temp_dir)
                    assert not left, f"cluster processes left: {left}"
                    assert not Path(info.temp_dir).exists()
            finally:
                os.killpg(server.pid, signal.SIGKILL)  # its sqlite file is thrown away anyway
                server.wait(timeout=30)
                shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def submitted(ray_env: dict[str, object]) -> dict[str, ray_jobs.RayRunHandle]:
    """The module's jobs, submitted together so they run side by side on the cluster."""
    info = ray_env["info"]
    assert isinstance(info, ray_cluster.ClusterInfo)
    workspace = ray_env["workspace"]
    assert isinstance(workspace, Path)
    runs = {
        "train": ("train.py", ["--c", "0.5"]),
        "fail": ("fail.py", []),
        "missing": ("missing.py", []),
        "hostile": ("argv.py", HOSTILE),
    }
    return {
        key: ray_jobs.submit_run(
            info.address,
            workspace / script,
            args,
            workspace=workspace,
            tracking_uri=str(ray_env["uri"]),
            experiment="ray-tests",
            run_name=f"{key}-run",
        )
        for key, (script, args) in runs.items()
    }


def _client(ray_env: dict[str, object]):  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    return MlflowClient(str(ray_env["uri"]))


@pytest.mark.slow
def test_cluster_status_state_file_and_token(ray_env: dict[str, object]) -> None:
    info = ray_env["info"]
    assert isinstance(info, ray_cluster.ClusterInfo)
    status = ray_cluster.cluster_status(info.address)
    assert (status.reachable, status.nodes, status.cpus, status.gpus) == (True, 1, 2.0, 0.0)
    assert ray_cluster.start_local_cluster() == info  # the running one, not a second
    assert ray_cluster.local_cluster() == info
    state = ray_cluster.state_dir()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / ray_cluster.STATE_FILE).stat().st_mode) == 0o600
    assert Path(info.temp_dir).name.startswith("mlwb-ray-") and info.temp_dir != "/tmp/ray"
    assert "token" not in json.dumps(info.to_dict()).replace('"auth": "token"', "")
    # Token authentication is on: the dashboard refuses a request without our token.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{info.address}/api/version", timeout=5)
    assert refused.value.code == 401
    parser = __import__("argparse").ArgumentParser()
    compute_command.COMMAND.configure(parser)
    args = parser.parse_args(["status", "--json"])
    assert compute_command.COMMAND.run(args) == 0


@pytest.mark.slow
def test_sklearn_run_finishes_with_params_metrics_and_output(
    ray_env: dict[str, object], submitted: dict[str, ray_jobs.RayRunHandle]
) -> None:
    handle = submitted["train"]
    assert len(handle.run_id) == 32  # known at submission, before the job runs
    lines: list[str] = []
    result = handle.wait(on_output=lines.append)
    output = "".join(lines)
    assert (result.status, result.job_status, result.exit_code) == ("FINISHED", "SUCCEEDED", 0)
    assert "accuracy: 0.9" in output
    run = _client(ray_env).get_run(handle.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "train-run"
    assert run.data.params["c"] == "0.5"  # captured argparse value, as locally
    assert run.data.params["C"] == "0.5"  # autologged estimator param
    assert "training_score" in run.data.metrics
    assert run.data.tags["mlworkbench.compute_target"] == "ray"
    assert run.data.tags["mlworkbench.ray_job_id"] == handle.job_id
    assert result.to_dict()["metrics"]["training_score"] > 0.9


@pytest.mark.slow
def test_script_that_raises_ends_failed_with_its_error(
    ray_env: dict[str, object], submitted: dict[str, ray_jobs.RayRunHandle]
) -> None:
    result = submitted["fail"].wait()
    assert (result.status, result.job_status) == ("FAILED", "FAILED")
    assert result.exit_code == 1
    assert "the data is bad on purpose" in (result.error_tail or "")
    tags = _client(ray_env).get_run(result.run_id).data.tags
    assert "ValueError: the data is bad on purpose" in tags["mlworkbench.error_tail"]


@pytest.mark.slow
def test_missing_package_on_the_cluster_ends_failed_with_the_error_shown(
    ray_env: dict[str, object], submitted: dict[str, ray_jobs.RayRunHandle]
) -> None:
    lines: list[str] = []
    result = submitted["missing"].wait(on_output=lines.append)
    assert (result.status, result.job_status) == ("FAILED", "FAILED")
    assert "No module named 'no_such_package_mlwb'" in "".join(lines)
    assert "no_such_package_mlwb" in (result.message or "")


@pytest.mark.slow
def test_hostile_arguments_reach_the_script_literally(
    ray_env: dict[str, object], submitted: dict[str, ray_jobs.RayRunHandle]
) -> None:
    lines: list[str] = []
    result = submitted["hostile"].wait(on_output=lines.append)
    assert result.status == "FINISHED"
    printed = "".join(lines).split("ARGV=", 1)[1].splitlines()[0]
    assert json.loads(printed) == HOSTILE
    info = ray_env["info"]
    assert isinstance(info, ray_cluster.ClusterInfo)
    for root in (Path(info.temp_dir), Path(str(ray_env["workspace"]))):
        assert not list(root.rglob("pwned"))


@pytest.mark.slow
def test_cancel_stops_the_job_and_the_run_ends_killed(ray_env: dict[str, object]) -> None:
    info = ray_env["info"]
    assert isinstance(info, ray_cluster.ClusterInfo)
    workspace = ray_env["workspace"]
    assert isinstance(workspace, Path)
    handle = ray_jobs.submit_run(
        info.address,
        workspace / "sleep.py",
        workspace=workspace,
        tracking_uri=str(ray_env["uri"]),
        experiment="ray-tests",
    )
    cancel = threading.Event()

    def on_output(text: str) -> None:
        if "ready" in text:
            cancel.set()

    started = time.monotonic()
    result = handle.wait(on_output=on_output, cancel=cancel)
    assert time.monotonic() - started < 60
    assert (result.status, result.job_status) == ("KILLED", "STOPPED")
    assert _client(ray_env).get_run(handle.run_id).info.status == "KILLED"


@pytest.mark.slow
def test_cli_run_on_the_local_cluster_streams_and_summarises(
    ray_env: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = ray_env["workspace"]
    assert isinstance(workspace, Path)
    status = cli.main(
        [
            "run",
            "--target",
            "ray",
            "--tracking-uri",
            str(ray_env["uri"]),
            "--workspace",
            str(workspace),
            str(workspace / "argv.py"),
            "--",
            *HOSTILE,
        ]
    )
    out, err = capsys.readouterr()
    assert status == 0, err
    assert json.loads(out.split("ARGV=", 1)[1].splitlines()[0]) == HOSTILE
    summary = err.strip().splitlines()[-1]
    assert summary.startswith("run ") and " finished (exit code 0) in " in summary
    assert "Ray job mlworkbench-" in summary and "succeeded" in summary


# --- sweeps on the cluster (mlworkbench sweep --target; fast checks in test_ray_sweep.py) ----

# No framework to autolog: a trial's cost is the job, the bootstrap and one MLflow import.
SCORE_SCRIPT = """
    import argparse

    import mlflow

    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    mlflow.log_metric("score", 1.0 - abs(args.lr - 0.1))
    print(f"scored lr={args.lr}", flush=True)
"""


def _sweep(workspace: Path, *words: str) -> int:
    return cli.main(["sweep", "--workspace", str(workspace), str(workspace / "score.py"), *words])


@pytest.mark.slow
def test_a_sweep_runs_its_trials_as_jobs_nested_under_one_parent_and_picks_the_best(
    ray_env: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow.tracking import MlflowClient

    info = ray_env["info"]
    assert isinstance(info, ray_cluster.ClusterInfo)
    uri, workspace = str(ray_env["uri"]), ray_env["workspace"]
    assert isinstance(workspace, Path)
    words = ["--param", "lr=0.1,0.5", "--max-concurrent", "2", "--metric", "score"]
    words += ["--tracking-uri", uri, "--experiment", "ray-sweep"]
    status = _sweep(workspace, *words, "--target", "ray", "--json")
    out, err = capsys.readouterr()
    assert status == 0, err
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
    assert status == cli.EXIT_USAGE and time.monotonic() - refused < 30
    assert address in capsys.readouterr().err
    assert len(client.search_runs([experiment])) == before
