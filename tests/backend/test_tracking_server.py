"""`mlworkbench server`: a detached MLflow tracking server behind a bearer token.

Fast: password redaction, bad store URIs, an occupied port. Slow (one server or one PostgreSQL
per module): the token is required, status/stop are idempotent, concurrent clients lose no run,
a server killed mid-run comes back with the run's data, and the password never leaks.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from postgres_cluster import PostgresCluster, throwaway_postgres

from mlworkbench.tracking import tracking_server as ts
from mlworkbench.tracking.tracking_server_store import split_password

# --- fast ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("postgresql+psycopg://u:s3cr%40t@db:5432/m", "postgresql+psycopg://u:***@db:5432/m"),
        ("postgresql+psycopg://u@/m?host=/run/pg&password=s3cr", "postgresql+psycopg://u@/m?host=/run/pg&password=***"),
        ("postgresql+psycopg://u@db/m", "postgresql+psycopg://u@db/m"),
        ("sqlite:////tmp/x/mlflow.db", "sqlite:////tmp/x/mlflow.db"),
    ],
)  # fmt: skip
def test_redact_uri_hides_the_password(uri: str, shown: str) -> None:
    assert ts.redact_uri(uri) == shown
    stripped, password = split_password(uri)
    assert "s3cr" not in stripped
    assert password in (None, "s3cr@t", "s3cr")


def test_bad_backend_store_uris_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ts.InvalidBackendStoreError, match="postgresql\\+psycopg://") as bad:
        ts.start_server(tmp_path, backend_store_uri="mysql://u:pw@h/db")
    assert bad.value.code == "INVALID_BACKEND_STORE" and "pw" not in str(bad.value)
    with pytest.raises(ts.InvalidBackendStoreError, match="name the database"):
        ts.start_server(tmp_path, backend_store_uri="postgresql+psycopg://u@127.0.0.1:5432")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uri = f"postgresql+psycopg://u:hunter22@127.0.0.1:{port}/db"
    with pytest.raises(ts.InvalidBackendStoreError, match=f"127.0.0.1:{port} is unreachable") as e:
        ts.start_server(tmp_path, backend_store_uri=uri)
    assert "hunter22" not in str(e.value)
    assert ts.server_status(tmp_path) is None


def test_start_on_an_occupied_port_is_refused(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ts.TrackingServerStartError, match=f"127.0.0.1:{port} is not free"):
            ts.start_server(tmp_path, port=port)
    assert ts.server_status(tmp_path) is None


def test_status_and_stop_without_a_server(tmp_path: Path) -> None:
    assert ts.server_status(tmp_path) is None
    assert ts.stop_server(tmp_path) is False
    with pytest.raises(ts.TrackingServerNotRunningError):
        ts.server_env(tmp_path)
    assert ts.is_server_uri("http://127.0.0.1:5000") and not ts.is_server_uri("sqlite:///x.db")


# --- slow -----------------------------------------------------------------------------------


def _get(uri: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(
        f"{uri}/api/2.0/mlflow/experiments/search?max_results=1", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.slow
def test_sqlite_server_requires_its_token_and_is_idempotent(tmp_path: Path) -> None:
    info = ts.start_server(tmp_path)
    try:
        token = ts.server_token(tmp_path)
        assert token is not None
        assert _get(info.uri, None) == 401
        assert _get(info.uri, "wrong") == 401
        assert _get(info.uri, token) == 200
        assert ts.start_server(tmp_path).pid == info.pid  # the running one
        state = tmp_path / ".mlworkbench" / "server" / "state.json"
        assert state.stat().st_mode & 0o777 == 0o600
        assert state.parent.stat().st_mode & 0o777 == 0o700
        assert token not in Path(f"/proc/{info.pid}/cmdline").read_text()
        assert "token" not in info.to_dict()
    finally:
        assert ts.stop_server(tmp_path) is True
    from mlworkbench.launch.process_group import group_alive

    assert not group_alive(info.pid)  # MLflow and its workers went with the gate
    assert ts.stop_server(tmp_path) is False
    assert ts.server_status(tmp_path) is None


_CLIENT = textwrap.dedent(
    """
    import sys, time, pathlib, mlflow
    index, gate = int(sys.argv[1]), sys.argv[2]
    with mlflow.start_run(run_name=f"c{index}") as run:
        mlflow.log_param("index", index)
        mlflow.log_metric("m", index, step=0)
        if gate != "-":
            pathlib.Path(gate + ".started").write_text(run.info.run_id)
            while not pathlib.Path(gate + ".go").exists():
                time.sleep(0.1)
            mlflow.log_metric("m", index + 1, step=1)
    print(run.info.run_id)
    """
)


# Each client is a Python importing MLflow (~2 s of CPU): 8 at once is concurrency enough on
# two cores; bench/runs.py drives 200.
_CLIENTS = 8


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    with throwaway_postgres() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def pg_workspace(postgres: PostgresCluster) -> Iterator[Path]:
    workspace = Path(tempfile.mkdtemp(prefix="mlwb-server-"))
    try:
        yield workspace
    finally:
        ts.stop_server(workspace)


def _search(workspace: Path) -> list[Any]:
    import mlflow

    env = ts.server_env(workspace)
    os.environ["MLFLOW_TRACKING_TOKEN"] = env["MLFLOW_TRACKING_TOKEN"]
    try:
        return list(
            mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"]).search_runs(["0"], max_results=1000)
        )
    finally:
        del os.environ["MLFLOW_TRACKING_TOKEN"]


@pytest.mark.slow
def test_postgres_server_keeps_every_concurrent_run(
    postgres: PostgresCluster, pg_workspace: Path
) -> None:
    info = ts.start_server(pg_workspace, backend_store_uri=postgres.uri)
    assert info.backend_kind == "postgresql" and postgres.password not in str(info.to_dict())
    assert postgres.password not in Path(f"/proc/{info.pid}/cmdline").read_text()
    env = ts.server_env(pg_workspace)
    argv = [sys.executable, "-c", _CLIENT]
    clients = [
        subprocess.Popen([*argv, str(i), "-"], env=env, stdout=subprocess.PIPE, text=True)
        for i in range(_CLIENTS)
    ]
    ids = {client.communicate(timeout=120)[0].splitlines()[-1] for client in clients}
    assert all(client.returncode == 0 for client in clients)
    runs = {run.info.run_id: run for run in _search(pg_workspace)}
    assert ids <= set(runs) and len(ids) == _CLIENTS
    for run_id in ids:
        data = runs[run_id].data
        assert data.metrics["m"] == float(data.params["index"])
        assert postgres.password not in str(data.tags) + str(data.params)
    _compares_from_its_tables(pg_workspace, sorted(ids))
    log = Path(info.log_path).read_text(errors="replace")
    assert postgres.password not in log and str(ts.server_token(pg_workspace)) not in log


def _compares_from_its_tables(workspace: Path, ids: list[str]) -> None:
    """The server reads a comparison from its PostgreSQL tables (explorer/compared_route.py,
    with the password it keeps apart from the URI): what MLflow's history routes answer."""
    from mlworkbench.explorer import compared_route
    from mlworkbench.explorer.run_compare import compare_runs
    from mlworkbench.tracking import tracking_token

    env = ts.server_env(workspace)
    uri, token = env["MLFLOW_TRACKING_URI"], env["MLFLOW_TRACKING_TOKEN"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_TOKEN", token)  # MLflow's own setting: MLflow's routes
        through_mlflow = compare_runs(workspace, ids, tracking_uri=uri)
        patch.delenv("MLFLOW_TRACKING_TOKEN")
        patch.setenv(tracking_token.TOKEN_ENV, token)
        patch.setenv(tracking_token.TOKEN_URI_ENV, uri)
        patch.setenv(tracking_token.MLFLOW_AUTH_ENV, tracking_token.AUTH_NAME)
        read = compared_route.ask(uri, ids, None)
        assert read is not None and [run.run_id for run in read[0]] == ids
        from_tables = compare_runs(workspace, ids, tracking_uri=uri)
    assert repr(from_tables) == repr(through_mlflow) and len(from_tables.series) == len(ids)


@pytest.mark.slow
def test_server_killed_mid_run_comes_back_with_the_run(
    postgres: PostgresCluster, pg_workspace: Path, tmp_path: Path
) -> None:
    info = ts.start_server(pg_workspace, backend_store_uri=postgres.uri)
    gate = tmp_path / "gate"
    client = subprocess.Popen(
        [sys.executable, "-c", _CLIENT, "7", str(gate)], env=ts.server_env(pg_workspace),
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not Path(f"{gate}.started").exists():
            assert client.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        run_id = Path(f"{gate}.started").read_text()
        os.killpg(info.pid, signal.SIGKILL)  # a crash: the gate, MLflow and its workers at once
        time.sleep(0.5)
        assert ts.server_status(pg_workspace) is None
        Path(f"{gate}.go").write_text("")  # the run logs while the server is down; MLflow retries
        again = ts.start_server(pg_workspace, backend_store_uri=postgres.uri)
        assert again.uri == info.uri and again.pid != info.pid
        assert (
            client.communicate(timeout=120)[0].splitlines()[-1] == run_id and client.returncode == 0
        )
        run = next(r for r in _search(pg_workspace) if r.info.run_id == run_id)
        assert run.info.status == "FINISHED" and run.data.params["index"] == "7"
        assert run.data.metrics["m"] == 8.0  # the step logged while it was down is there
    finally:
        client.kill()
        client.wait()
