"""The warm pool: its guards (opt-out, staleness key, which sockets the client trusts) and the
real pool process serving real runs into real MLflow stores, compared with cold runs."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from scripts.run_support import (
    artifact_paths,
    client_for,
    make_workspace,
    pid_alive,
    tracking_uri,
    wait_until,
    write_script,
)

from mlworkbench.explorer.run_models import run_models
from mlworkbench.launch import warm_pool
from mlworkbench.launch.launcher import prepare_warm_pool, start_run
from mlworkbench.launch.preflight import child_environment


@pytest.fixture
def private_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="wp-"))
    yield folder
    for entry in folder.iterdir():
        entry.unlink()
    folder.rmdir()


def test_opt_out_values() -> None:
    assert warm_pool.warm_enabled({})
    assert warm_pool.warm_enabled({"MLWORKBENCH_WARM": "1"})
    for off in ("0", "false", "OFF", " no "):
        assert not warm_pool.warm_enabled({"MLWORKBENCH_WARM": off})


def test_key_changes_with_packages_interpreter_and_settings(private_dir: Path) -> None:
    site = private_dir
    interp = Path(sys.executable)
    env = {"MLFLOW_TRACKING_URI": "sqlite:///a.db", "HOME": "/x"}
    base = warm_pool.pool_key(interp, [site], env)
    assert base == warm_pool.pool_key(interp, [site], dict(env, HOME="/y"))
    assert base == warm_pool.pool_key(interp, [site], dict(env, MLWORKBENCH_WARM="1"))
    assert base != warm_pool.pool_key(interp, [site], dict(env, MLFLOW_TRACKING_URI="x"))
    (site / "pkg-1.0.dist-info").mkdir()
    with_pkg = warm_pool.pool_key(interp, [site], env)
    assert with_pkg != base
    (site / "pkg-1.0.dist-info").rmdir()
    (site / "pkg-2.0.dist-info").mkdir()
    assert warm_pool.pool_key(interp, [site], env) not in {base, with_pkg}
    (site / "pkg-2.0.dist-info").rmdir()
    other = private_dir / "python"
    other.write_text("")
    assert warm_pool.pool_key(other, [site], env) != base


def test_pools_root_is_private() -> None:
    root = warm_pool.pools_root()
    assert root is not None
    assert (os.stat(root).st_mode & 0o777) == 0o700


def _listen(path: Path) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    return server


def test_trusted_socket_connects_and_peer_is_me(private_dir: Path) -> None:
    os.chmod(private_dir, 0o700)
    path = private_dir / "pool.sock"
    server = _listen(path)
    os.chmod(path, 0o600)
    try:
        assert warm_pool.socket_problem(path) is None
        conn = warm_pool.connect_trusted(path)
        assert conn is not None
        assert warm_pool.peer_uid(conn) == os.getuid()
        conn.close()
    finally:
        server.close()


def test_open_socket_or_folder_is_refused(private_dir: Path) -> None:
    os.chmod(private_dir, 0o700)
    path = private_dir / "pool.sock"
    server = _listen(path)
    try:
        os.chmod(path, 0o666)
        assert "open to other users" in (warm_pool.socket_problem(path) or "")
        assert warm_pool.connect_trusted(path) is None
        os.chmod(path, 0o600)
        os.chmod(private_dir, 0o755)
        assert "folder" in (warm_pool.socket_problem(path) or "")
        assert warm_pool.connect_trusted(path) is None
    finally:
        os.chmod(private_dir, 0o700)
        server.close()


def test_non_socket_and_symlink_are_refused(private_dir: Path) -> None:
    os.chmod(private_dir, 0o700)
    plain = private_dir / "pool.sock"
    plain.write_text("")
    assert warm_pool.socket_problem(plain) == "it is not a socket"
    link = private_dir / "link.sock"
    link.symlink_to(plain)
    assert warm_pool.socket_problem(link) == "it is not a socket"
    assert warm_pool.connect_trusted(private_dir / "missing.sock") is None


def test_socket_owned_by_another_uid_is_refused(private_dir: Path) -> None:
    if os.getuid() != 0:
        # Only root can hand a file to another uid; as a normal user, the foreign-owner branch
        # is proven through the folder check, which shares the uid comparison.
        foreign = Path("/")
        assert "belongs to user id" in (warm_pool.socket_problem(foreign / "x.sock") or "")
        return
    os.chmod(private_dir, 0o700)
    path = private_dir / "pool.sock"
    server = _listen(path)
    try:
        os.chmod(path, 0o600)
        os.chown(path, 65534, 65534)
        assert "belongs to user id 65534" in (warm_pool.socket_problem(path) or "")
        assert warm_pool.connect_trusted(path) is None
    finally:
        server.close()


# --- the pool process serving runs -------------------------------------------------------

POOL_READY = re.compile(r"\[warm pool (\d+)\] ready")
CAPTURE_READY = re.compile(r"\[capture helper \d+\] ready")


@pytest.fixture
def pool_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This test's own pools folder (via XDG_RUNTIME_DIR); every pool started in it is stopped
    at the end, so no test leaves a pool behind on the machine."""
    runtime = Path(tempfile.mkdtemp(prefix="wr-"))
    os.chmod(runtime, 0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv(warm_pool.IDLE_ENV, "60")
    monkeypatch.setenv(warm_pool.WARM_ENV, "1")  # other modules' tests run cold
    root = runtime / f"mlworkbench-warm-{os.getuid()}"
    yield root
    for pid in _pool_pids(root):
        if pid_alive(pid) and "warm_server.py" in Path(f"/proc/{pid}/cmdline").read_text():
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(runtime, ignore_errors=True)


def _pool_pids(root: Path) -> list[int]:
    pids: list[int] = []
    for log in root.glob("*.log"):
        pids.extend(int(m) for m in POOL_READY.findall(log.read_text()))
    return pids


def _wait_pools(root: Path, count: int) -> list[int]:
    return list(
        wait_until(lambda: len(_pool_pids(root)) >= count and _pool_pids(root), 120, "pool ready")
    )


PARITY_SCRIPT = """
    import argparse, os, sys
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser()
    parser.add_argument("--c", type=float, default=1.0)
    options = parser.parse_args()
    print("PARITY", sys.argv, os.getcwd(), sys.path[0], __name__, os.environ.get("MY_SETTING"),
          sys.stdin.read() == "", os.getpgid(0) == os.getpid(), flush=True)
    features, labels = load_iris(return_X_y=True)
    LogisticRegression(C=options.c, max_iter=300).fit(features, labels)
"""
# Differ between any two runs, cold or warm.
VOLATILE_TAGS = {
    "mlworkbench.pid",
    "mlworkbench.pid_start_time",
    "mlworkbench.log_bytes",
    "mlworkbench.log_path",  # each run has its own folder
    "mlflow.runName",
    "mlflow.log-model.history",
    warm_pool.WARM_TAG,
}


def _parity_line(log: Path) -> str:
    return next(line for line in log.read_text().splitlines() if line.startswith("PARITY"))


@pytest.mark.slow
def test_warm_run_has_the_same_contents_as_a_cold_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool_root: Path
) -> None:
    workspace = make_workspace(tmp_path, monkeypatch)
    script = write_script(workspace, "train.py", PARITY_SCRIPT)
    args, env = ["--c", "0.5"], {"MY_SETTING": "from-the-run"}
    cold = start_run(script, args, workspace=workspace, env=env)  # no pool yet: starts one
    assert isinstance(cold._process, subprocess.Popen)
    cold_result = cold.wait()
    _wait_pools(pool_root, 1)
    # The model's requirements are inferred in the pool's capture helper once it listens.
    wait_until(lambda: CAPTURE_READY.search(_pool_logs(pool_root)), 120, "capture helper ready")
    warm = start_run(script, args, workspace=workspace, env=env)
    assert isinstance(warm._process, warm_pool.WarmProcess)
    warm_result = warm.wait()

    assert cold_result.status == warm_result.status == "FINISHED"
    assert cold_result.exit_code == warm_result.exit_code == 0
    assert _parity_line(cold.log_path) == _parity_line(warm.log_path)
    assert "from-the-run" in _parity_line(warm.log_path)
    client = client_for(workspace)
    cold_run, warm_run = client.get_run(cold.run_id), client.get_run(warm.run_id)
    assert cold_run.data.params == warm_run.data.params
    assert cold_run.data.params["C"] == "0.5"
    assert set(cold_run.data.metrics) == set(warm_run.data.metrics)
    assert set(cold_run.data.metrics) >= {"training_score", "training_accuracy_score"}
    stable = {k: v for k, v in cold_run.data.tags.items() if k not in VOLATILE_TAGS}
    assert stable == {k: v for k, v in warm_run.data.tags.items() if k not in VOLATILE_TAGS}
    assert warm_run.data.tags[warm_pool.WARM_TAG] == "true"
    assert warm_pool.WARM_TAG not in cold_run.data.tags
    assert artifact_paths(workspace, cold.run_id) == artifact_paths(workspace, warm.run_id)
    assert "mlworkbench/" + cold.log_path.name in artifact_paths(workspace, cold.run_id)
    # The inferred environment of the logged model is the cold run's, byte for byte, though
    # the warm child had it recorded by the helper (which then served one request).
    cold_env, warm_env = (
        _model_environment(client, cold.run_id),
        _model_environment(client, warm.run_id),
    )
    assert set(cold_env) >= {"requirements.txt", "conda.yaml", "python_env.yaml"}
    assert cold_env == warm_env
    assert "scikit-learn" in cold_env["requirements.txt"]
    logs = _pool_logs(pool_root)
    assert "refused" not in logs
    assert "served a capture request" in logs


def _pool_logs(root: Path) -> str:
    return "".join(log.read_text() for log in root.glob("*.log"))


def _model_environment(client: MlflowClient, run_id: str) -> dict[str, str]:
    """The environment files of the model the run logged, by name."""
    (model,) = run_models(client, client.get_run(run_id))
    folder = Path(model.source.removeprefix("file://"))
    return {
        name: (folder / name).read_text()
        for name in ("requirements.txt", "conda.yaml", "python_env.yaml")
        if (folder / name).is_file()
    }


@pytest.mark.slow
def test_an_opened_script_readies_the_pool_so_its_first_run_is_warm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool_root: Path
) -> None:
    workspace = make_workspace(tmp_path, monkeypatch)
    script = write_script(workspace, "train.py", PARITY_SCRIPT)
    # What the editor does when a training script is opened (server: run_sessions).
    assert prepare_warm_pool(workspace, ["sklearn"]) == "started"
    _wait_pools(pool_root, 1)
    wait_until(lambda: "preloaded ['sklearn']" in _pool_logs(pool_root), 120, "sklearn loaded")
    assert prepare_warm_pool(workspace, ["sklearn"]) == "asked"  # the pool is there: no second
    assert len(_pool_pids(pool_root)) == 1

    first = start_run(script, ["--c", "0.5"], workspace=workspace)
    assert isinstance(first._process, warm_pool.WarmProcess)  # the very first run: warm
    assert first.wait().status == "FINISHED"
    assert "C" in client_for(workspace).get_run(first.run_id).data.params

    monkeypatch.setenv(warm_pool.WARM_ENV, "0")  # the setting off: nothing is started
    assert prepare_warm_pool(workspace, ["sklearn"]) == "off"


FAILING_SCRIPT = """
    raise ValueError("boom from the script")
"""
FAMILY_SCRIPT = """
    import json, subprocess, sys, time
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print("PIDS " + json.dumps([sleeper.pid]), flush=True)
    time.sleep(600)
"""


@pytest.mark.slow
def test_warm_runs_fail_exit_and_cancel_like_cold_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool_root: Path
) -> None:
    workspace = make_workspace(tmp_path, monkeypatch)
    env = child_environment(os.environ, None, tracking_uri(workspace))
    warm_pool.start_pool(sys.executable, env, warm_pool.pools_root() or pool_root)
    _wait_pools(pool_root, 1)

    failing = start_run(write_script(workspace, "fail.py", FAILING_SCRIPT), workspace=workspace)
    assert isinstance(failing._process, warm_pool.WarmProcess)
    result = failing.wait()
    assert (result.status, result.exit_code) == ("FAILED", 1)
    assert "ValueError: boom from the script" in (result.error_tail or "")

    exits = write_script(workspace, "exits.py", "import sys\nsys.exit(3)\n")
    result = start_run(exits, workspace=workspace).wait()
    assert (result.status, result.exit_code) == ("FAILED", 3)

    family = start_run(write_script(workspace, "family.py", FAMILY_SCRIPT), workspace=workspace)
    assert isinstance(family._process, warm_pool.WarmProcess)
    line = wait_until(
        lambda: next((x for x in family.log_path.read_text().splitlines() if "PIDS" in x), None),
        60,
        "the script's children",
    )
    sleeper = int(line.split("[")[1].rstrip("]"))
    family.cancel(grace_s=1.0)
    result = family.wait()
    assert result.status == "KILLED"
    assert client_for(workspace).get_run(family.run_id).info.status == "KILLED"
    wait_until(lambda: not pid_alive(sleeper), 20, "the script's subprocess gone")
    assert all(pid_alive(pid) for pid in _pool_pids(pool_root))  # the pool itself lives on


@pytest.mark.slow
def test_stale_key_starts_a_new_pool_and_pools_exit_when_idle(
    tmp_path: Path, pool_root: Path
) -> None:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    root = warm_pool.pools_root()
    assert root == pool_root
    first = warm_pool.start_pool(sys.executable, env, root)
    assert first is not None
    _wait_pools(root, 1)
    log = tmp_path / "run.log"
    changed = {**env, "MLWORKBENCH_SOME_SETTING": "changed", warm_pool.IDLE_ENV: "2"}
    command = [sys.executable, "bootstrap.py", "spec.json", "script.py"]
    forked = warm_pool.start_warm(
        command,
        cwd=tmp_path,
        env=changed,
        log_path=log,
        result_file=tmp_path / "result.json",
        frameworks=[],
    )
    assert forked is None  # served cold: the pool is stale
    assert first.wait(timeout=30) == 0  # the stale pool exits (it had no runs)
    pids = _wait_pools(root, 2)
    assert len(set(pids)) == 2
    new = pids[-1] if pids[-1] != first.pid else pids[0]
    # The new pool was started with the new key and a 2 s idle timeout: it exits by itself.
    wait_until(lambda: not pid_alive(new), 60, "the idle pool exits")
    assert not warm_pool.socket_path(root, sys.executable).exists()
    assert not log.exists()  # nothing was forked


def test_pool_problems_mean_cold_runs(private_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    os.chmod(private_dir, 0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(private_dir))
    root = warm_pool.pools_root()
    assert root is not None
    kwargs = {
        "cwd": private_dir,
        "log_path": private_dir / "run.log",
        "result_file": private_dir / "result.json",
        "frameworks": [],
    }
    command = [sys.executable, "bootstrap.py", "spec.json", "script.py"]
    # Opted out: nothing is asked, nothing is started.
    off = warm_pool.start_warm(command, env={"MLWORKBENCH_WARM": "0"}, **kwargs)  # type: ignore[arg-type]
    assert off is None and not list(root.iterdir())
    # A pool that cannot start (no such interpreter): cold, no error.
    missing = ["/nonexistent/python", *command[1:]]
    assert warm_pool.start_warm(missing, env={}, **kwargs) is None  # type: ignore[arg-type]
    # A "pool" that answers nonsense: cold.
    server = _listen(warm_pool.socket_path(root, sys.executable))
    os.chmod(warm_pool.socket_path(root, sys.executable), 0o600)

    def answer_nonsense() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"not json\n")
        conn.close()

    thread = threading.Thread(target=answer_nonsense)
    thread.start()
    try:
        assert warm_pool.start_warm(command, env={}, **kwargs) is None  # type: ignore[arg-type]
    finally:
        thread.join(10)
        server.close()
        shutil.rmtree(root)
    assert not (private_dir / "run.log").exists()
