"""Real MLflow UI and TensorBoard servers behind their gates: started, reused, restarted, stopped.

Each test starts the real server processes from the project's interpreter on a real sqlite
store and talks to them over HTTP through the gate on 127.0.0.1; the listening sockets are
read from the kernel (/proc/net/tcp*, /proc/<pid>/fd) to prove that only the gate listens on
TCP, and a client run as another user (nobody, via setpriv) shows what a second local user
gets: 403 at the gate, permission denied at the server's socket.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import types
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from mlworkbench.errors import RunNotFoundError
from mlworkbench.launch.child.proc_info import session_members
from mlworkbench.launch.process_group import group_alive
from mlworkbench.monitor.monitor_errors import MonitorStartError, NoEventFilesError
from mlworkbench.monitor.monitor_servers import MonitorInfo, MonitorManager, free_port


def _port(url: str) -> int:
    port = urllib.parse.urlsplit(url).port
    assert port is not None
    return port


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


def _store(folder: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    client.create_experiment("train", artifact_location=(folder / "mlruns").as_uri())


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    _store(tmp_path)
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
    run_id: str = run.info.run_id
    return run_id


@pytest.fixture
def manager() -> Iterator[MonitorManager]:
    manager = MonitorManager()
    yield manager
    manager.stop_all()


@dataclass
class MlflowUi:
    """One real MLflow UI for the module: it takes several seconds to start."""

    workspace: Path
    run_id: str
    manager: MonitorManager
    info: MonitorInfo

    @property
    def port(self) -> int:
        return _port(self.info.url)

    @property
    def socket(self) -> Path:
        """The Unix socket uvicorn listens on, from the server's own command line."""
        assert self.info.pid is not None
        argv = Path(f"/proc/{self.info.pid}/cmdline").read_bytes().split(b"\0")
        opts = argv[argv.index(b"--uvicorn-opts") + 1].decode().split()
        return Path(opts[opts.index("--uds") + 1])


@pytest.fixture(scope="module")
def mlflow_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowUi]:
    workspace = tmp_path_factory.mktemp("mlflow-ui")
    _store(workspace)
    run_id = _run(workspace, event_files=False)
    manager = MonitorManager()
    try:
        yield MlflowUi(workspace, run_id, manager, manager.ensure_mlflow_ui(workspace))
    finally:
        manager.stop_all()


def _logged_in(url: str) -> urllib.request.OpenerDirector:
    """A client that keeps cookies, as a browser does, after following the editor's URL."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with opener.open(url, timeout=30) as response:
        assert response.status == 200
    return opener


def _status(url: str, *, host: str | None = None, cookie: str | None = None) -> int:
    """The status of a GET without following redirects or keeping cookies."""
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port is not None
    connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=30)
    headers = {"Host": host or parts.netloc}
    if cookie:
        headers["Cookie"] = cookie
    connection.request(
        "GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers
    )
    try:
        return connection.getresponse().status
    finally:
        connection.close()


def tcp_listeners_of_session(session: int) -> set[str]:
    """The inodes of listening TCP sockets that any process of `session` holds open."""
    listening: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":
                    listening.add(fields[9])
    held: set[str] = set()
    for pid in session_members(session):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        held.add(target[len("socket:[") : -1])
    return listening & held


@pytest.mark.slow
def test_the_mlflow_ui_answers_only_through_its_gate_with_the_secret(mlflow_ui: MlflowUi) -> None:
    info = mlflow_ui.info
    assert (info.kind, info.reused) == ("mlflow", False)
    assert info.url == f"http://127.0.0.1:{mlflow_ui.port}/?mlwb-token={info.url.split('=', 1)[1]}"
    home = info.public_url
    api = f"{home}api/2.0/mlflow/runs/get?run_id={mlflow_ui.run_id}"

    assert _status(home) == 403
    assert _status(api) == 403
    assert _status(f"{home}?mlwb-token=guess") == 403
    browser = _logged_in(info.url)
    with browser.open(home, timeout=30) as response:
        assert response.status == 200 and b"<html" in response.read().lower()
    with browser.open(api, timeout=30) as response:
        assert response.status == 200 and mlflow_ui.run_id.encode() in response.read()
    # A state-changing call goes through too (the REST API the UI itself uses).
    request = urllib.request.Request(
        f"{home}api/2.0/mlflow/runs/set-tag",
        data=json.dumps({"run_id": mlflow_ui.run_id, "key": "seen", "value": "1"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with browser.open(request, timeout=30) as response:
        assert response.status == 200

    # Only the gate listens on TCP, on loopback; the server itself only on its Unix socket.
    assert listening_addresses(mlflow_ui.port) == {LOOPBACK_V4}
    assert info.pid is not None and tcp_listeners_of_session(info.pid) == set()
    assert stat.S_ISSOCK(mlflow_ui.socket.stat().st_mode)
    folder = mlflow_ui.socket.parent.stat()
    assert stat.S_IMODE(folder.st_mode) == 0o700 and folder.st_uid == os.getuid()
    assert list((mlflow_ui.workspace / ".mlworkbench" / "monitors").glob("mlflow-*.log"))
    logs = "".join(
        p.read_text() for p in (mlflow_ui.workspace / ".mlworkbench" / "monitors").glob("*.log")
    )
    assert info.url.split("=", 1)[1] not in logs

    again = mlflow_ui.manager.ensure_mlflow_ui(mlflow_ui.workspace)
    assert (again.url, again.pid, again.reused) == (info.url, info.pid, True)


@pytest.mark.slow
def test_the_dns_rebinding_host_is_refused_even_when_logged_in(mlflow_ui: MlflowUi) -> None:
    browser_cookie = f"mlwb-gate-{mlflow_ui.port}={mlflow_ui.info.url.split('=', 1)[1]}"
    home = mlflow_ui.info.public_url

    assert _status(home, cookie=browser_cookie) == 200
    assert _status(home, cookie=browser_cookie, host=f"evil.example:{mlflow_ui.port}") == 403


_OTHER_USER_CLIENT = """
import http.client, json, socket, sys
port, socket_path = int(sys.argv[1]), sys.argv[2]
seen = {}
for path in ("/", "/api/2.0/mlflow/experiments/search?max_results=1"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    connection.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
    seen[path] = connection.getresponse().status
backend = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    backend.connect(socket_path)
    seen["socket"] = "connected"
except OSError as error:
    seen["socket"] = type(error).__name__
print(json.dumps(seen))
"""


@pytest.mark.slow
def test_another_local_user_gets_neither_the_gate_nor_the_socket(mlflow_ui: MlflowUi) -> None:
    if os.geteuid() != 0:
        pytest.fail(
            "this test needs root: it runs a client as another user (nobody, uid 65534) "
            "with setpriv; run the backend tests as root (as CI does)"
        )
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run a client as another user"

    done = subprocess.run(
        [
            *(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"),
            *(sys.executable, "-I", "-c", _OTHER_USER_CLIENT),
            *(str(mlflow_ui.port), str(mlflow_ui.socket)),
        ],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {
        "/": 403,
        "/api/2.0/mlflow/experiments/search?max_results=1": 403,
        "socket": "PermissionError",
    }


@pytest.mark.slow
def test_stop_all_ends_the_server_closes_the_gate_and_removes_its_socket(
    mlflow_ui: MlflowUi,
) -> None:
    info, socket_path = mlflow_ui.info, mlflow_ui.socket

    assert mlflow_ui.manager.stop_all() == 1

    assert info.pid is not None and not group_alive(info.pid)
    assert listening_addresses(mlflow_ui.port) == set()
    assert not socket_path.parent.exists()


class _Squatter(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>not MLflow</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_port_another_program_took_is_refused_not_opened(
    workspace: Path, manager: MonitorManager
) -> None:
    _run(workspace, event_files=False)
    squatter = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Squatter)
    thread = threading.Thread(target=squatter.serve_forever, daemon=True)
    thread.start()
    port = squatter.server_address[1]
    try:
        with pytest.raises(MonitorStartError, match="already listening") as raised:
            manager.ensure_mlflow_ui(workspace, port=port)
    finally:
        squatter.shutdown()
        squatter.server_close()

    assert f"127.0.0.1:{port}" in str(raised.value)
    assert manager.running() == []
    assert not list((workspace / ".mlworkbench" / "monitors").glob("*.log"))


@pytest.mark.parametrize(
    "linked", [".mlworkbench", ".mlworkbench/monitors", ".mlworkbench/monitors/mlflow-{port}.log"]
)
def test_a_log_folder_or_file_shipped_as_a_symlink_is_refused(
    workspace: Path, manager: MonitorManager, tmp_path_factory: pytest.TempPathFactory, linked: str
) -> None:
    _run(workspace, event_files=False)
    port = free_port()
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    link = workspace / linked.format(port=port)
    link.parent.mkdir(parents=True, exist_ok=True)
    target = elsewhere / "victim" if link.suffix == ".log" else elsewhere
    link.symlink_to(target)

    with pytest.raises(MonitorStartError, match=r"symlink|symbolic link"):
        manager.ensure_mlflow_ui(workspace, port=port)

    assert manager.running() == [] and list(elsewhere.iterdir()) == []
    assert listening_addresses(port) == set()


@pytest.mark.slow
def test_tensorboard_serves_a_runs_kept_event_files_and_restarts_when_dead(
    workspace: Path, manager: MonitorManager
) -> None:
    run_id = _run(workspace, event_files=True)

    first = manager.ensure_tensorboard(workspace, run_id)

    assert (first.kind, first.reused) == ("tensorboard", False)
    port = _port(first.url)
    assert _status(first.public_url) == 403
    browser = _logged_in(first.url)
    with browser.open(f"{first.public_url}data/plugin/scalars/tags", timeout=30) as response:
        assert response.status == 200 and b'"loss"' in response.read()
    # TensorBoard checks no Host header itself; the gate does (DNS rebinding).
    cookie = f"mlwb-gate-{port}={first.url.split('=', 1)[1]}"
    assert _status(first.public_url, cookie=cookie) == 200
    assert _status(first.public_url, cookie=cookie, host=f"evil.example:{port}") == 403
    assert listening_addresses(port) == {LOOPBACK_V4}
    assert first.pid is not None and tcp_listeners_of_session(first.pid) == set()
    assert manager.ensure_tensorboard(workspace, run_id).reused

    os.killpg(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while group_alive(first.pid) and time.monotonic() < deadline:
        time.sleep(0.1)

    again = manager.ensure_tensorboard(workspace, run_id)

    assert again.reused is False and again.pid != first.pid and again.url != first.url
    _logged_in(again.url)
    assert manager.stop_all() == 1
    assert again.pid is not None and not group_alive(again.pid)
    assert listening_addresses(_port(again.url)) == set()


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
    from mlworkbench.monitor.monitor_servers import check_host

    if ok:
        assert check_host(host) == host
    else:
        with pytest.raises(ValueError, match="host"):
            check_host(host)
