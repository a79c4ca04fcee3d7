"""Endings the script does not choose: cancel, a killed launcher, a signal, a vanished process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from scripts.run_support import (
    TEST_ENV,
    all_runs,
    artifact_text,
    client_for,
    make_workspace,
    pid_alive,
    tracking_uri,
    wait_until,
    write_script,
)

from mlworkbench.launch.child.proc_info import boot_id, start_time
from mlworkbench.launch.launcher import reconcile_stale_runs, start_run


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_workspace(tmp_path, monkeypatch)


FAMILY_SCRIPT = """
    import argparse, json, multiprocessing, signal, subprocess, sys, time

    def stubborn():
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # only SIGTERM or SIGKILL will do
        time.sleep(600)

    if __name__ == "__main__":
        parser = argparse.ArgumentParser()
        parser.add_argument("--workers", type=int, default=1)
        parser.parse_args()
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        worker = multiprocessing.Process(target=stubborn)
        worker.start()
        print("PIDS " + json.dumps([sleeper.pid, worker.pid]), flush=True)
        try:
            time.sleep(600)
        except KeyboardInterrupt:
            print("cleaning up after Ctrl+C", flush=True)
            sys.exit(0)  # a script that handles the interrupt still ends as cancelled
"""


INTERRUPTED_SCRIPT = """
    import time
    print("ready", flush=True)
    try:
        time.sleep(600)
    except KeyboardInterrupt:
        print("cleaning up after Ctrl+C", flush=True)
        raise
"""


@pytest.mark.slow
def test_a_cancel_interrupts_a_script_started_with_sigint_ignored(workspace: Path) -> None:
    """A caller started as a background job ignores SIGINT and passes that on: the script
    still gets its KeyboardInterrupt from a cancel, and its cleanup runs (the warm pool's
    children were set up so already; the cold bootstrap now is too)."""
    script = write_script(workspace, "interrupted.py", INTERRUPTED_SCRIPT)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        handle = start_run(script, [], workspace=workspace)  # inherits SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)

    def on_output(text: str) -> None:
        if "ready" in text:
            handle.cancel(grace_s=10.0)  # the interrupt, not SIGTERM after the grace, ends it

    result = handle.wait(on_output=on_output)
    assert result.status == "KILLED" and result.exit_code == 130
    log = artifact_text(workspace, handle.run_id, "mlworkbench/output.log")
    assert "cleaning up after Ctrl+C" in log and "KeyboardInterrupt" in log


@pytest.mark.slow
def test_cancel_stops_the_whole_process_group(workspace: Path) -> None:
    script = write_script(workspace, "family.py", FAMILY_SCRIPT)
    handle = start_run(script, ["--workers", "2"], workspace=workspace)
    family: list[int] = []

    def on_output(text: str) -> None:
        for line in text.splitlines():
            if line.startswith("PIDS "):
                family.extend(json.loads(line[5:]))
                handle.cancel(grace_s=1.0)

    result = handle.wait(on_output=on_output)

    assert len(family) == 2
    for pid in [handle.pid, *family]:
        assert not pid_alive(pid), f"pid {pid} survived the cancel"
    run = client_for(workspace).get_run(handle.run_id)
    assert run.info.status == "KILLED" == result.status
    assert run.data.params == {"workers": "2"}
    log = artifact_text(workspace, handle.run_id, "mlworkbench/output.log")
    assert "cleaning up after Ctrl+C" in log


@pytest.mark.slow
def test_a_run_survives_its_launcher_being_killed(workspace: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    script = write_script(
        workspace,
        "patient.py",
        f"""
        import pathlib, time
        print("waiting", flush=True)
        while not pathlib.Path({str(go)!r}).exists():
            time.sleep(0.05)
        print("finished after the launcher died", flush=True)
        """,
    )
    launcher = subprocess.Popen(
        [sys.executable, "-m", "mlworkbench", "run", str(script), "--workspace", str(workspace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **TEST_ENV},
    )
    log_started = wait_until(
        lambda: [r for r in all_runs(workspace) if r.info.status == "RUNNING"],
        what="the run to start",
    )
    run_id = log_started[0].info.run_id
    wait_until(
        lambda: b"waiting" in Path(log_started[0].data.tags["mlworkbench.log_path"]).read_bytes()
    )
    launcher.kill()  # SIGKILL: no cleanup at all on the launcher's side
    launcher.wait()
    go.touch()

    client = client_for(workspace)
    run = wait_until(
        lambda: (r := client.get_run(run_id)).info.status != "RUNNING" and r,
        what="the script to record its own end",
    )
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlworkbench.exit_code"] == "0"
    log = artifact_text(workspace, run_id, "mlworkbench/output.log")
    assert "finished after the launcher died" in log


def test_a_script_killed_by_a_signal_fails_with_its_log_and_params(workspace: Path) -> None:
    script = write_script(
        workspace,
        "oom.py",
        """
        import argparse, os, signal
        parser = argparse.ArgumentParser()
        parser.add_argument("--batch-size", type=int, default=32)
        args = parser.parse_args()
        print("allocating", args.batch_size, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
        """,
    )
    handle = start_run(script, ["--batch-size", "4096"], workspace=workspace)
    result = handle.wait()

    run = client_for(workspace).get_run(handle.run_id)
    assert run.info.status == "FAILED" == result.status
    assert result.exit_code == 128 + signal.SIGKILL
    assert run.data.tags["mlworkbench.exit_code"] == str(128 + signal.SIGKILL)
    assert "SIGKILL" in run.data.tags["mlworkbench.error"]
    assert "allocating 4096" in run.data.tags["mlworkbench.error_tail"]
    # Captured before the process died, logged by the launcher instead.
    assert run.data.params == {"batch_size": "4096"}
    assert "allocating 4096" in artifact_text(workspace, handle.run_id, "mlworkbench/output.log")


def test_reconcile_marks_runs_whose_process_is_gone_failed(workspace: Path) -> None:
    client = client_for(workspace)
    host = socket.gethostname()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    me = os.getpid()

    def make_run(**tags: str) -> str:
        return client.create_run(
            "0", tags={f"mlworkbench.{k}": v for k, v in tags.items()}
        ).info.run_id

    alive = make_run(pid=str(me), host=host, pid_start_time=start_time(me) or "")
    gone = make_run(pid=str(dead.pid), host=host, pid_start_time="1")
    reused = make_run(pid=str(me), host=host, pid_start_time="1")  # same pid, other process
    rebooted = make_run(pid=str(me), host=host, boot_id="another-boot")
    elsewhere = make_run(pid=str(dead.pid), host="some-other-host")
    not_ours = client.create_run("0").info.run_id
    finished = make_run(pid=str(dead.pid), host=host)
    client.set_terminated(finished, "FINISHED")

    ended = reconcile_stale_runs(tracking_uri(workspace))

    assert sorted(ended) == sorted([gone, reused, rebooted])
    status = {r.info.run_id: r.info.status for r in all_runs(workspace)}
    assert [status[r] for r in (alive, elsewhere, not_ours)] == ["RUNNING"] * 3
    assert status[finished] == "FINISHED"
    for run_id in ended:
        run = client.get_run(run_id)
        assert run.info.status == "FAILED"
        assert run.data.tags["mlworkbench.error"]
    assert "restarted" in client.get_run(rebooted).data.tags["mlworkbench.error"]
    assert boot_id() is not None
    assert reconcile_stale_runs(tracking_uri(workspace)) == []  # idempotent


def test_reconcile_does_not_create_a_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = make_workspace(tmp_path, monkeypatch, store=False) / "mlflow.db"
    assert reconcile_stale_runs(f"sqlite:///{db}") == []
    assert not db.exists()
