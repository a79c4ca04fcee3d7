"""Shared helpers for the tests/backend/test_run_*.py suites (imported as scripts.run_support).

Every test gets its own workspace with its own SQLite store. Creating an MLflow schema takes
seconds (dozens of migrations), so stores are copied from one made per session; the copy's
Default experiment is pointed at the test's own workspace, as MLflow would have set it had it
created the store there. One concurrency test creates its store from scratch on purpose.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SCRIPTS = Path(__file__).resolve().parent
# No usage reports from test processes (MLflow 3 sends them at exit and waits for the network).
TEST_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
_TEMPLATE: dict[str, Path] = {}


def template_store() -> Path:
    """An empty MLflow store made once per test session, by MLflow itself."""
    if "db" not in _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="mlworkbench-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import mlflow; mlflow.MlflowClient('sqlite:///mlflow.db').search_experiments()",
            ],
            cwd=folder,
            env={**os.environ, **TEST_ENV},
            check=True,
            capture_output=True,
        )
        _TEMPLATE["db"] = folder / "mlflow.db"
    return _TEMPLATE["db"]


def isolate_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No tracking settings from the machine; no telemetry from the processes tests start;
    the launcher's files (logs, locks) in the test's own temp folder, removed with it."""
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # forget the folder tempfile cached
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    for key, value in TEST_ENV.items():
        monkeypatch.setenv(key, value)


def make_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, store: bool = True) -> Path:
    """A workspace folder; with `store`, a fresh copy of the template store in it."""
    template = template_store()  # made before the temp folder moves, so it outlives the test
    isolate_environment(monkeypatch, tmp_path)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    if store:
        db = workspace / "mlflow.db"
        shutil.copyfile(template, db)
        with sqlite3.connect(db) as connection:
            connection.execute(
                "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
                (str(workspace / "mlruns" / "0"),),
            )
        connection.close()
    return workspace


def write_script(workspace: Path, name: str, source: str) -> Path:
    path = workspace / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip())
    return path


def copy_script(workspace: Path, name: str) -> Path:
    """Copy a fixture script from tests/backend/scripts/ into the workspace."""
    target = workspace / name
    shutil.copyfile(SCRIPTS / name, target)
    return target


def tracking_uri(workspace: Path) -> str:
    return f"sqlite:///{(workspace / 'mlflow.db').resolve().as_posix()}"


def client_for(workspace: Path) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri(workspace))


def all_runs(workspace: Path) -> list[Any]:
    from mlflow.entities import ViewType

    client = client_for(workspace)
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    return list(client.search_runs(ids, run_view_type=ViewType.ALL))


def artifact_text(workspace: Path, run_id: str, path: str) -> str:
    from mlflow.artifacts import download_artifacts

    local = download_artifacts(
        run_id=run_id, artifact_path=path, tracking_uri=tracking_uri(workspace)
    )
    return Path(local).read_text(encoding="utf-8", errors="replace")


def artifact_paths(workspace: Path, run_id: str, path: str | None = None) -> list[str]:
    """All artifact file paths of a run, recursively."""
    client = client_for(workspace)
    found: list[str] = []
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            found.extend(artifact_paths(workspace, run_id, info.path))
        else:
            found.append(info.path)
    return found


def wait_until(condition: Callable[[], Any], timeout_s: float = 60.0, what: str = "") -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout_s`.

    Used for states another process reaches (a run ending after its launcher was killed); the
    assertion is on the state, the polling only bounds how long to look for it.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


def pid_alive(pid: int) -> bool:
    """True if `pid` is a live (non-zombie) process."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
