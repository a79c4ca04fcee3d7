"""`mlworkbench ui` and `mlworkbench tensorboard RUN`: a URL through the gate, Ctrl+C stops it.

One test starts a real MLflow UI from the CLI in a subprocess (about ten seconds); the others
check the refusals that come before any server starts. The gate and store helpers are those of
test_monitor_servers.py.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest
from test_monitor_servers import _logged_in, _run, _status, _store, listening_addresses

from mlworkbench.cli import main
from mlworkbench.launch.process_group import group_alive, signal_group

START_TIMEOUT_S = 90

# Starts and stops a real `mlflow server` behind the gate: ~17 s.
pytestmark = [pytest.mark.usefixtures("no_tracking_env"), pytest.mark.slow]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store for the module: creating MLflow's tables takes seconds; each test adds runs."""
    folder = tmp_path_factory.mktemp("monitor-cli")
    _store(folder)
    return folder


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # field 4: the parent's pid
                    found.append(int(entry.name))
    return found


def _first_line(process: subprocess.Popen[str]) -> str:
    stdout = process.stdout
    assert stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=START_TIMEOUT_S)
    except queue.Empty:
        process.kill()
        pytest.fail(f"no URL within {START_TIMEOUT_S} s; stderr: {process.communicate()[1]}")


def test_ui_prints_a_url_that_opens_through_the_gate_and_ctrl_c_stops_the_server(
    workspace: Path,
) -> None:
    run_id = _run(workspace, event_files=False)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    cli = subprocess.Popen(
        [sys.executable, "-m", "mlworkbench", "ui", "--workspace", str(workspace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    servers: list[int] = []
    try:
        line = _first_line(cli)
        assert line.startswith("the MLflow UI: open http://127.0.0.1:"), line
        url = line.split(" open ", 1)[1].strip()
        home = url.split("?", 1)[0]
        port = urllib.parse.urlsplit(url).port
        assert port is not None
        servers = _children(cli.pid)
        assert len(servers) == 1 and group_alive(servers[0])

        assert _status(home) == 403  # the secret is needed
        assert _status(url) == 302  # the secret sets the cookie and drops itself from the URL
        browser = _logged_in(url)  # follows the redirect with the cookie: 200
        with browser.open(f"{home}api/2.0/mlflow/runs/get?run_id={run_id}", timeout=30) as answer:
            assert answer.status == 200 and run_id.encode() in answer.read()

        cli.send_signal(signal.SIGINT)
        _, err = cli.communicate(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
        for server in servers:  # only if the CLI failed to: a test must not leak a server
            if group_alive(server):
                signal_group(server, signal.SIGKILL)

    assert cli.returncode == 0, err
    assert "stopping the MLflow UI" in err
    assert not group_alive(servers[0])
    assert listening_addresses(port) == set()


def test_ui_on_a_workspace_without_runs_exits_2_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ui", "--workspace", str(tmp_path)]) == 2
    assert "no runs are tracked in this workspace yet" in capsys.readouterr().err
    assert not (tmp_path / "mlflow.db").exists()


def test_ui_on_a_port_another_program_holds_exits_2(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["ui", "--workspace", str(workspace), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot start mlflow") and f"127.0.0.1:{port}" in err


def test_tensorboard_for_a_run_without_event_files_or_an_unknown_run_exits_2(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = _run(workspace, event_files=False)

    assert main(["tensorboard", run_id[:8], "--workspace", str(workspace)]) == 2
    assert f"run {run_id} has no TensorBoard event files" in capsys.readouterr().err
    assert main(["tensorboard", "f" * 32, "--workspace", str(workspace)]) == 2
    assert "f" * 32 in capsys.readouterr().err


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_a_port_out_of_range_is_a_usage_error(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ui", "--port", port]) == 2
    assert "--port" in capsys.readouterr().err
