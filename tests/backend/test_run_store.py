"""Bad input is refused with a typed error before any run exists; stores are never harmed."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from scripts.run_support import (
    SCRIPTS,
    all_runs,
    client_for,
    make_workspace,
    write_script,
)

from mlworkbench.errors import (
    MissingPackageError,
    ScriptNotFoundError,
    ScriptOutsideWorkspaceError,
    TrackingStoreCorruptError,
    TrackingStoreReadOnlyError,
    TrackingUnavailableError,
)
from mlworkbench.launch.child.retry import call_with_retry, is_sqlite_busy
from mlworkbench.launch.launcher import RunResult, start_run
from mlworkbench.tracking.tracking_uri import resolve_tracking_uri


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_workspace(tmp_path, monkeypatch)


@pytest.fixture
def bare_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace without a store: MLflow creates one on the first run."""
    return make_workspace(tmp_path, monkeypatch, store=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_missing_script(bare_workspace: Path) -> None:
    with pytest.raises(ScriptNotFoundError) as caught:
        start_run(bare_workspace / "nope.py", workspace=bare_workspace)
    assert caught.value.code == "SCRIPT_NOT_FOUND"
    assert "nope.py" in caught.value.message
    assert not (bare_workspace / "mlflow.db").exists()


def test_script_outside_the_workspace_even_through_a_symlink(
    bare_workspace: Path, tmp_path: Path
) -> None:
    outside = write_script(tmp_path / "elsewhere", "train.py", "print('hi')\n")
    link = bare_workspace / "train.py"
    link.symlink_to(outside)
    with pytest.raises(ScriptOutsideWorkspaceError) as caught:
        start_run(link, workspace=bare_workspace)
    assert caught.value.code == "SCRIPT_OUTSIDE_WORKSPACE"
    assert str(outside) in caught.value.message
    assert not (bare_workspace / "mlflow.db").exists()


def test_unreachable_tracking_server_fails_fast(bare_workspace: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = write_script(bare_workspace, "train.py", "print('hi')\n")
    started = time.monotonic()
    with pytest.raises(TrackingUnavailableError) as caught:
        start_run(script, workspace=bare_workspace, tracking_uri=f"http://127.0.0.1:{port}")
    assert time.monotonic() - started < 5
    assert caught.value.code == "TRACKING_UNAVAILABLE"
    assert f"127.0.0.1:{port}" in caught.value.message


@pytest.mark.parametrize(
    "content",
    [b"these are not the runs you are looking for" * 100, "sqlite-but-not-mlflow"],
    ids=["not-sqlite", "foreign-sqlite"],
)
def test_corrupt_store_is_reported_and_left_byte_for_byte(
    bare_workspace: Path, content: bytes | str
) -> None:
    db = bare_workspace / "mlflow.db"
    if isinstance(content, bytes):
        db.write_bytes(content)
    else:
        with sqlite3.connect(db) as connection:
            connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
            connection.execute("INSERT INTO notes (text) VALUES ('my data')")
        connection.close()
    before = digest(db)
    script = write_script(bare_workspace, "train.py", "print('hi')\n")
    with pytest.raises(TrackingStoreCorruptError) as caught:
        start_run(script, workspace=bare_workspace)
    assert caught.value.code == "TRACKING_STORE_CORRUPT"
    assert str(db) in caught.value.message
    assert digest(db) == before
    assert sorted(p.name for p in bare_workspace.iterdir()) == ["mlflow.db", "train.py"]


def test_store_of_another_mlflow_version_is_not_migrated(workspace: Path) -> None:
    """MLflow would create the missing tables and upgrade the schema while opening the file."""
    db = workspace / "mlflow.db"
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TABLE webhooks")  # as if written before webhooks existed
    connection.close()
    before = digest(db)
    script = write_script(workspace, "train.py", "print('hi')\n")
    with pytest.raises(TrackingStoreCorruptError) as caught:
        start_run(script, workspace=workspace)
    assert "webhooks" in caught.value.message and "mlflow db upgrade" in caught.value.message
    assert digest(db) == before


def test_read_only_store_on_a_read_only_mount(workspace: Path) -> None:
    """A real read-only file system (a bind mount in a private mount namespace): permission
    bits would not do, the tests run as root."""
    script = write_script(workspace, "train.py", "print('hi')\n")
    before = digest(workspace / "mlflow.db")
    helper = SCRIPTS / "readonly_store_probe.py"
    probe = subprocess.run(
        ["unshare", "--mount", sys.executable, str(helper), str(workspace), str(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stdout + probe.stderr
    outcome = json.loads(probe.stdout)
    assert outcome["code"] == "TRACKING_STORE_READ_ONLY"
    assert "Read-only file system" in outcome["message"]
    assert digest(workspace / "mlflow.db") == before
    assert all_runs(workspace) == []


def test_store_below_a_file_cannot_be_written(bare_workspace: Path) -> None:
    blocker = bare_workspace / "not-a-folder"
    blocker.write_text("")
    script = write_script(bare_workspace, "train.py", "print('hi')\n")
    with pytest.raises(TrackingStoreReadOnlyError) as caught:
        start_run(script, workspace=bare_workspace, tracking_uri=f"sqlite:///{blocker}/mlflow.db")
    assert caught.value.code == "TRACKING_STORE_READ_ONLY"


def test_interpreter_without_mlflow(workspace: Path, tmp_path: Path) -> None:
    venv = tmp_path / "bare-venv"  # a real interpreter that has only the standard library
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    script = write_script(workspace, "train.py", "print('hi')\n")
    with pytest.raises(MissingPackageError) as caught:
        start_run(script, workspace=workspace, python=str(venv / "bin" / "python"))
    assert caught.value.code == "MISSING_PACKAGE"
    assert "mlworkbench[tracking]" in caught.value.message
    assert all_runs(workspace) == []


def test_tracking_uri_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = make_workspace(tmp_path, monkeypatch, store=False)
    default = f"sqlite:///{workspace / 'mlflow.db'}"
    assert resolve_tracking_uri(workspace) == default
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert resolve_tracking_uri(workspace) == "http://127.0.0.1:5000"
    assert resolve_tracking_uri(workspace, "sqlite:///runs/store.db") == (
        f"sqlite:///{workspace / 'runs' / 'store.db'}"  # relative to the workspace, not cwd
    )


@pytest.mark.slow
def test_concurrent_runs_on_a_new_store_lose_nothing(bare_workspace: Path) -> None:
    script = write_script(
        bare_workspace,
        "train.py",
        """
        import argparse, mlflow
        parser = argparse.ArgumentParser()
        parser.add_argument("--seed", type=int)
        args = parser.parse_args()
        for step in range(20):
            mlflow.log_metric("value", args.seed * 100 + step, step=step)
        """,
    )
    seeds = [1, 2, 3]
    barrier = threading.Barrier(len(seeds))
    results: dict[int, RunResult] = {}
    errors: list[BaseException] = []

    def launch(seed: int) -> None:
        try:
            barrier.wait()  # all three start in the same instant, on a store nobody created
            results[seed] = start_run(
                script, ["--seed", str(seed)], workspace=bare_workspace
            ).wait()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=launch, args=(seed,)) for seed in seeds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    runs = {r.info.run_id: r for r in all_runs(bare_workspace)}
    assert sorted(runs) == sorted(r.run_id for r in results.values())
    client = client_for(bare_workspace)
    for seed, result in results.items():
        run = runs[result.run_id]
        assert run.info.status == "FINISHED"
        assert run.data.params == {"seed": str(seed)}
        history = client.get_metric_history(result.run_id, "value")
        assert sorted(m.value for m in history) == [seed * 100 + s for s in range(20)]


def test_busy_sqlite_is_retried_until_the_lock_goes(tmp_path: Path) -> None:
    db = tmp_path / "busy.db"
    holder = sqlite3.connect(db, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.commit()
    holder.execute("BEGIN EXCLUSIVE")
    attempts: list[int] = []

    def write() -> str:
        attempts.append(1)
        try:
            with sqlite3.connect(db, timeout=0) as connection:
                connection.execute("INSERT INTO t VALUES (1)")
            connection.close()
        except sqlite3.OperationalError as error:
            raise RuntimeError("the store refused") from error  # wrapped, as MLflow does
        return "written"

    with pytest.raises(RuntimeError) as caught:
        write()
    assert is_sqlite_busy(caught.value)
    release = threading.Timer(0.3, holder.commit)
    release.start()
    assert call_with_retry(write) == "written"
    release.join()
    holder.close()
    assert len(attempts) > 2
    assert not is_sqlite_busy(RuntimeError("unrelated"))


def test_the_store_lock_lives_where_only_this_user_can_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$XDG_RUNTIME_DIR when it is a private folder of ours, else `<temp>/mlworkbench-<uid>`;
    and a symlink planted at the lock's name is refused instead of followed."""
    from mlworkbench.launch.child.store_open import StoreOpenError, lock_folder, store_lock

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    fallback = temp / f"mlworkbench-{os.getuid()}"
    private = tmp_path / "runtime"
    private.mkdir(mode=0o700)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (tmp_path / "link").symlink_to(private, target_is_directory=True)
    for runtime, expected in [
        (private, private),
        (shared, fallback),
        (tmp_path / "link", fallback),
        (tmp_path / "missing", fallback),
    ]:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        assert lock_folder() == expected
    assert stat.S_IMODE(fallback.stat().st_mode) == 0o700

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(private))
    uri = "sqlite:////nowhere/mlflow.db"
    digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
    victim = tmp_path / "victim"
    (private / f"mlworkbench-store-{digest}.lock").symlink_to(victim)
    with pytest.raises(StoreOpenError) as raised, store_lock(uri):
        pass
    assert raised.value.kind == "store_lock" and "store lock" in raised.value.message
    assert not victim.exists()


def test_the_store_check_keeps_this_process_sqlite_locks(tmp_path: Path) -> None:
    """A plain open()/close() of the database file drops every POSIX lock this process holds on
    it, SQLite's included: another process could then write (or checkpoint the WAL away) under
    this process's open MLflow connection. The check must leave the read lock held here."""
    from mlworkbench.launch.preflight import check_sqlite_readable

    store = tmp_path / "mlflow.db"
    with contextlib.closing(sqlite3.connect(store)) as setup:
        setup.execute("PRAGMA user_version = 1")  # a non-empty database without tables
        setup.commit()
    reader = sqlite3.connect(store, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT * FROM sqlite_master").fetchall()  # holds SHARED until COMMIT
        check_sqlite_readable(store, need_write=True)
        writer = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys\n"
                "c = sqlite3.connect(sys.argv[1], timeout=0.2, isolation_level=None)\n"
                "c.execute('BEGIN EXCLUSIVE')",
                str(store),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        reader.close()
    assert writer.returncode != 0 and "locked" in writer.stderr, writer.stderr
