"""Runs on a Ray target: checks before anything is sent (fast), then real jobs on one real local
Ray cluster (the session's, `ray_cluster_support`) tracking to one real `mlflow server` this
module starts and stops; last, sweeps whose trials Ray Tune runs on that cluster."""

from __future__ import annotations

import contextlib
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
from typing import TYPE_CHECKING

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
from mlworkbench.compute.ray_tune_entry import parse_event
from mlworkbench.compute.ray_workdir import plan_working_dir
from mlworkbench.compute.sweep_runner import PARENT_TAG, TRIAL_TAG
from mlworkbench.errors import TrackingUnavailableError
from mlworkbench.launch.child.proc_info import is_same_process

if TYPE_CHECKING:
    from ray_cluster_support import SharedCluster

pytest_plugins = ["ray_cluster_support"]

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
    package = ray_jobs.job_package(spec)
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


# A sweep trial's bootstrap as the guard sees it: it records SIGTERM, and its script started a
# child that ignores SIGTERM (only the guard's SIGKILL of the group ends it).
GUARDED_BOOTSTRAP = """
    import pathlib, signal, subprocess, sys, time

    record, pid_file = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"
    child = subprocess.Popen([sys.executable, "-c", code])

    def on_term(signum, frame):
        record.write_text("KILLED")
        sys.exit(143)

    signal.signal(signal.SIGTERM, on_term)
    pid_file.write_text(str(child.pid))
    time.sleep(300)
"""
# The trial's actor, which Ray may end with SIGKILL: it starts the guard as run_trial does.
ACTOR = """
    import os, subprocess, sys, time

    guard, folder, *bootstrap = sys.argv[1:]
    command = [sys.executable, "-S", guard, str(os.getpid()), folder, sys.executable, *bootstrap]
    subprocess.Popen(command, start_new_session=True)
    time.sleep(300)
"""


def test_a_trial_guard_ends_its_bootstrap_and_what_the_script_started_when_the_actor_dies(
    tmp_path: Path,
) -> None:
    """`ray_trial_guard.py` without Ray: the actor is killed outright; the bootstrap gets
    SIGTERM (and records it), the script's own child (deaf to SIGTERM) is killed with its
    group, and the trial's folder is removed."""
    guard = Path(ray_jobs.__file__).with_name("ray_trial_guard.py")
    folder, record, pid_file = tmp_path / "trial", tmp_path / "record", tmp_path / "pid"
    folder.mkdir()
    bootstrap = _write(tmp_path, "bootstrap.py", GUARDED_BOOTSTRAP)
    words = [guard, folder, bootstrap, record, pid_file]
    actor = subprocess.Popen([sys.executable, "-c", textwrap.dedent(ACTOR), *map(str, words)])
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the bootstrap did not start"
            time.sleep(0.1)
        grandchild = int(pid_file.read_text())
        actor.kill()
        actor.wait()
        deadline = time.monotonic() + 15

        def state() -> tuple[bool, bool, bool]:  # recorded, script's child alive, folder there
            return record.exists(), is_same_process(grandchild, None), folder.exists()

        while state() != (True, False, False):
            assert time.monotonic() < deadline, state()
            time.sleep(0.1)
        assert record.read_text() == "KILLED"
    finally:
        actor.kill()
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


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
def ray_env(request: pytest.FixtureRequest) -> Iterator[dict[str, object]]:
    """The session's cluster and one tracking server for the module (each costs seconds to
    start: the server starts first, so that both start at once when the cluster is not up yet);
    XDG_STATE_HOME at the cluster's record, so `--target ray` finds it."""
    folder = Path(tempfile.mkdtemp(prefix="mlwb-raytest-"))
    server, uri = _start_mlflow_server(folder)
    try:
        shared: SharedCluster = request.getfixturevalue("shared_ray_cluster")
        with shared.state():
            _await_http(f"{uri}/health", 120)  # a minute and more on a loaded 2-core machine
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
            yield {"info": shared.info, "uri": uri, "workspace": workspace, "folder": folder}
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


# --- sweeps on the cluster: Ray Tune trials (fast checks in test_ray_sweep.py) -----------------

# No framework to autolog: a trial's cost is its Tune actor, the bootstrap and one MLflow import.
# A negative lr fails; --wait keeps the trial (and a child process of its own) running.
SCORE_SCRIPT = """
    import argparse
    import subprocess
    import sys
    import time

    import mlflow

    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--wait", type=float, default=0.0)
    args = parser.parse_args()
    if args.lr < 0:
        raise ValueError("lr must be positive")
    mlflow.log_metric("score", 1.0 - abs(args.lr - 0.1))
    print(f"scored lr={args.lr}", flush=True)
    if args.wait:
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "mlwb-orphan?"])
        time.sleep(args.wait)
"""


def _sweep(workspace: Path, *words: str) -> int:
    return cli.main(["sweep", "--workspace", str(workspace), str(workspace / "score.py"), *words])


def _job_log(info: ray_cluster.ClusterInfo, job_id: str) -> str:
    return ray_jobs.jobs_client(info.address).get_job_logs(job_id)


def _trial_processes() -> list[str]:
    """Command lines of this machine's processes that a sweep's trial started."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue  # ended while we looked
        line = " ".join(word.decode(errors="replace") for word in words)
        if "mlwb-orphan?" in line or ("bootstrap.py" in line and "score.py" in line):
            found.append(line)
    return found


@pytest.mark.slow
def test_a_sweep_runs_its_trials_with_ray_tune_nested_under_one_parent_and_picks_the_best(
    ray_env: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow.tracking import MlflowClient

    info = ray_env["info"]
    assert isinstance(info, ray_cluster.ClusterInfo)
    uri, workspace = str(ray_env["uri"]), ray_env["workspace"]
    assert isinstance(workspace, Path)
    words = ["--param", "lr=0.1,0.5,-1", "--max-concurrent", "2", "--metric", "score"]
    words += ["--tracking-uri", uri, "--experiment", "ray-sweep"]
    status = _sweep(workspace, *words, "--target", "ray", "--json")
    out, err = capsys.readouterr()
    assert status == 0, err
    document = json.loads(out)
    assert "3 trials, 2 at a time with Ray Tune on" in err and info.address in err
    assert "trial 1/3 lr=0.1: FINISHED score=1" in err
    assert "trial 2/3 lr=0.5: FINISHED score=0.6" in err
    assert "trial 3/3 lr=-1.0: FAILED (ValueError: lr must be positive)" in err

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
    assert sorted(by_trial) == [1, 2, 3]
    # One Ray job for the whole sweep; each trial a Tune trial of it.
    job_ids = {run.data.tags["mlworkbench.ray_job_id"] for run in children}
    assert len(job_ids) == 1 and job_ids.pop().startswith("mlworkbench-sweep-")
    tune_ids = {run.data.tags["mlworkbench.ray_tune_trial_id"] for run in children}
    assert len(tune_ids) == 3
    for trial in document["trials"]:
        child = by_trial[trial["index"]]
        assert child.info.run_id == trial["run_id"] and child.info.status == trial["status"]
        assert child.info.run_name == f"trial-{trial['index']}"
        assert child.data.tags["mlworkbench.compute_target"] == "ray"
        assert child.data.params["lr"] == str(trial["values"]["lr"])  # the script's own parse
        assert child.data.metrics.get("score") == trial["metric"]
    failed = by_trial[3]
    assert failed.info.status == "FAILED" and failed.data.tags["mlworkbench.exit_code"] == "1"
    assert "ValueError: lr must be positive" in failed.data.tags["mlworkbench.error_tail"]
    assert document["best"]["index"] == 1 and document["best"]["run_id"] == by_trial[1].info.run_id
    assert parent.data.metrics["best_score"] == 1.0
    assert parent.data.params["best.lr"] == "0.1"
    assert parent.data.tags["mlworkbench.sweep.best_run_id"] == by_trial[1].info.run_id
    assert (parent.data.metrics["trials_finished"], parent.data.metrics["trials_failed"]) == (2, 1)

    # The job's log is Tune's driver: a line per trial start and end, naming its Tune trial,
    # and Tune's own best trial, the one the sweep picked.
    log = _job_log(info, by_trial[1].data.tags["mlworkbench.ray_job_id"])
    events = [event for line in log.splitlines() if (event := parse_event(line))]
    assert events[0]["event"] == "tune" and events[-1] == {"event": "done", "errors": 0}
    for run in children:
        tune_id = run.data.tags["mlworkbench.ray_tune_trial_id"]
        ended = [e for e in events if e.get("tune_trial_id") == tune_id and e["event"] == "ended"]
        assert [e["run_id"] for e in ended] == [run.info.run_id]
    (best,) = [event for event in events if event["event"] == "best"]
    assert (best["trial"], best["run_id"]) == (1, by_trial[1].info.run_id)

    # An unreachable cluster with this live server: refused within seconds, no run created.
    before = len(client.search_runs([experiment]))
    address = f"http://127.0.0.1:{_closed_port()}"
    refused = time.monotonic()
    status = _sweep(workspace, *words, "--target", address)
    assert status == cli.EXIT_USAGE and time.monotonic() - refused < 30
    assert address in capsys.readouterr().err
    assert len(client.search_runs([experiment])) == before


@pytest.mark.slow
def test_cancelling_a_ray_sweep_stops_its_job_and_every_trial_with_nothing_left_running(
    ray_env: dict[str, object],
) -> None:
    """Cancel once two trials run (the cluster's two CPUs): their runs end KILLED, recorded by
    their own bootstraps; the third trial never starts; no trial process (nor what the script
    started) outlives the job."""
    from mlflow.tracking import MlflowClient

    from mlworkbench.compute.ray_sweep import RayTrials
    from mlworkbench.compute.sweep_plan import plan_sweep
    from mlworkbench.compute.sweep_runner import Sweep, TrialOutcome

    info = ray_env["info"]
    assert isinstance(info, ray_cluster.ClusterInfo)
    uri, workspace = str(ray_env["uri"]), ray_env["workspace"]
    assert isinstance(workspace, Path)
    plan = plan_sweep(
        workspace / "score.py",
        ["lr=0.1,0.5,0.9"],
        workspace=workspace,
        max_concurrent=2,
        metric="score",
        fixed_args=["--wait", "300"],
        experiment="ray-sweep-cancel",
        tracking_uri=uri,
    )
    trials = RayTrials(info.address)
    sweep = Sweep(plan, launcher=trials)
    running: list[int] = []

    def on_event(outcome: TrialOutcome, total: int) -> None:
        if outcome.status == "RUNNING":
            running.append(outcome.index)
            if len(running) == 2:
                sweep.cancel()

    result = sweep.run(on_event)
    cancelled = time.monotonic()
    assert result.status == "KILLED"
    assert [t.status for t in result.trials] == ["KILLED", "KILLED", "NOT_RUN"]
    assert result.trials[2].run_id is None
    assert trials.job_id is not None
    jobs = ray_jobs.jobs_client(info.address)
    assert str(jobs.get_job_status(trials.job_id).value) == "STOPPED"

    client = MlflowClient(uri)
    assert client.get_run(result.parent_run_id).info.status == "KILLED"
    for outcome in result.trials[:2]:
        assert outcome.run_id is not None
        run = client.get_run(outcome.run_id)
        assert run.info.status == "KILLED"
        # Ended by its bootstrap on SIGTERM (not by the submitting side, which sets an error).
        assert run.data.tags["mlworkbench.exit_code"] == "143"
        assert "mlworkbench.error" not in run.data.tags
    leftovers = _trial_processes()
    while leftovers and time.monotonic() - cancelled < 15:
        time.sleep(0.5)
        leftovers = _trial_processes()
    assert leftovers == []
