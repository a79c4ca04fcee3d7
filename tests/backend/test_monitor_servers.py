"""Real MLflow UI and TensorBoard servers: started on loopback, reused, restarted, stopped.

Each test starts the real server processes from the project's interpreter on a real sqlite
store and talks to them over HTTP on 127.0.0.1 only; the listening sockets are read from the
kernel (/proc/net/tcp*) to prove nothing listens on another interface.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import types
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlworkbench.errors import RunNotFoundError
from mlworkbench.monitor_servers import MonitorManager
from mlworkbench.registry_errors import MonitorStartError, NoEventFilesError
from mlworkbench.runs.process_group import group_alive


def _get(url: str) -> tuple[int, str]:
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8", errors="replace")


def _port(url: str) -> int:
    return int(url.rstrip("/").rsplit(":", 1)[1])


def listening_addresses(port: int) -> set[str]:
    """The local addresses of every listening TCP socket on `port` (hex, as the kernel says)."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


LOOPBACK_V4 = "0100007F"  # 127.0.0.1 in /proc/net/tcp's little-endian hex


def _write_event_file(folder: Path) -> None:
    """A real TensorBoard event file with three scalar points (TensorBoard's own writer)."""
    # TensorBoard's documented switch to its pure-Python path: no TensorFlow import here.
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("notf"))
    from tensorboard.compat.proto import event_pb2, summary_pb2  # type: ignore[import-untyped]
    from tensorboard.summary.writer.event_file_writer import (  # type: ignore[import-untyped]
        EventFileWriter,
    )

    writer = EventFileWriter(str(folder))
    for step in range(3):
        value = summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (step + 1))
        summary = summary_pb2.Summary(value=[value])
        writer.add_event(event_pb2.Event(step=step, wall_time=1.0 + step, summary=summary))
    writer.close()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client.create_experiment("train", artifact_location=(tmp_path / "mlruns").as_uri())
    return tmp_path


def _run(workspace: Path, *, event_files: bool) -> str:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("train")
    assert experiment is not None
    run = client.create_run(experiment.experiment_id)
    if event_files:
        local = workspace / "runs" / run.info.run_id
        local.mkdir(parents=True)
        _write_event_file(local)
        # Where the launcher keeps them (run_records.log_event_files).
        client.log_artifacts(run.info.run_id, str(local), "tensorboard")
    client.set_terminated(run.info.run_id)
    return run.info.run_id


@pytest.fixture
def manager() -> Iterator[MonitorManager]:
    manager = MonitorManager()
    yield manager
    manager.stop_all()


def test_the_mlflow_ui_serves_the_store_on_loopback_and_is_reused(
    workspace: Path, manager: MonitorManager
) -> None:
    run_id = _run(workspace, event_files=False)

    first = manager.ensure_mlflow_ui(workspace)

    assert (first.kind, first.reused) == ("mlflow", False)
    status, page = _get(first.url)
    assert status == 200 and "<html" in page.lower()
    # The REST API reads the same store the workspace's runs are in.
    status, body = _get(f"{first.url}api/2.0/mlflow/runs/get?run_id={run_id}")
    assert status == 200 and run_id in body
    assert listening_addresses(_port(first.url)) == {LOOPBACK_V4}
    assert list((workspace / ".mlworkbench" / "monitors").glob("mlflow-*.log"))

    second = manager.ensure_mlflow_ui(workspace)

    assert (second.url, second.pid, second.reused) == (first.url, first.pid, True)
    assert manager.stop_all() == 1
    assert first.pid is not None and not group_alive(first.pid)
    assert listening_addresses(_port(first.url)) == set()


def test_tensorboard_serves_a_runs_kept_event_files_and_restarts_when_dead(
    workspace: Path, manager: MonitorManager
) -> None:
    run_id = _run(workspace, event_files=True)

    first = manager.ensure_tensorboard(workspace, run_id)

    assert (first.kind, first.reused) == ("tensorboard", False)
    status, _ = _get(first.url)
    assert status == 200
    status, runs = _get(f"{first.url}data/plugin/scalars/tags")
    assert status == 200 and "loss" in runs
    assert listening_addresses(_port(first.url)) == {LOOPBACK_V4}
    assert manager.ensure_tensorboard(workspace, run_id).reused

    assert first.pid is not None
    os.killpg(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while group_alive(first.pid) and time.monotonic() < deadline:
        time.sleep(0.1)

    again = manager.ensure_tensorboard(workspace, run_id)

    assert again.reused is False and again.pid != first.pid
    assert _get(again.url)[0] == 200
    assert manager.stop_all() == 1
    assert again.pid is not None and not group_alive(again.pid)


def test_tensorboard_refuses_runs_without_event_files_or_unknown_runs(
    workspace: Path, manager: MonitorManager
) -> None:
    plain = _run(workspace, event_files=False)

    with pytest.raises(NoEventFilesError, match="SummaryWriter") as raised:
        manager.ensure_tensorboard(workspace, plain)
    assert raised.value.code == "NO_EVENT_FILES"
    with pytest.raises(RunNotFoundError):
        manager.ensure_tensorboard(workspace, "0" * 32)
    assert manager.running() == []


def test_a_workspace_without_a_store_gets_no_ui_and_no_new_store(
    tmp_path: Path, manager: MonitorManager
) -> None:
    with pytest.raises(MonitorStartError, match="no runs are tracked") as raised:
        manager.ensure_mlflow_ui(tmp_path)
    assert raised.value.code == "MONITOR_START_FAILED"
    with pytest.raises(RunNotFoundError):
        manager.ensure_tensorboard(tmp_path, "0" * 32)
    assert not (tmp_path / "mlflow.db").exists()


def test_a_server_that_exits_at_start_reports_its_output(
    workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A real interpreter that fails the way a broken install would: the module is missing.
    fake = tmp_path_factory.mktemp("bin") / "python"
    fake.write_text("#!/bin/sh\necho 'No module named mlflow' >&2\nexit 1\n")
    fake.chmod(0o755)
    manager = MonitorManager(python=str(fake))

    with pytest.raises(MonitorStartError, match="No module named mlflow") as raised:
        manager.ensure_mlflow_ui(workspace)

    assert "exited with status 1" in raised.value.reason
    assert manager.running() == []


def test_a_server_that_does_not_answer_in_time_is_stopped(workspace: Path) -> None:
    # A real process that never listens: the wait must end and its group must be killed.
    sleeper = workspace / "sleeper"
    pid_file = workspace / "sleeper.pid"
    sleeper.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 300\n")
    sleeper.chmod(0o755)
    manager = MonitorManager(python=str(sleeper), start_timeout_s=1.0)
    started = time.monotonic()

    with pytest.raises(MonitorStartError, match="did not answer"):
        manager.ensure_mlflow_ui(workspace)

    assert time.monotonic() - started < 15
    assert manager.running() == []
    assert not group_alive(int(pid_file.read_text()))


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1:41595", True),
        ("localhost", True),
        ("code.example.org:8443", True),
        ("[::1]:8080", True),
        ("*", False),
        ("*.example.org", False),
        ("a.example,b.example", False),
        ("http://a.example", False),
        ("a example", False),
        ("", False),
    ],
)
def test_extra_host_names_are_plain_host_and_port(host: str, ok: bool) -> None:
    from mlworkbench.monitor_servers import check_host

    if ok:
        assert check_host(host) == host
    else:
        with pytest.raises(ValueError, match="host"):
            check_host(host)
