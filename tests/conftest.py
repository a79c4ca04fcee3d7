"""Checks over the whole test session, for every suite.

Tests keep their stores in temporary folders. A store or artifact folder that appears in the
repository's root (MLflow's defaults are `./mlruns` and `./mlflow.db` of the working directory)
means a test wrote where a user's checkout would keep its own runs: the session fails, naming it.
The backend and server suites also run in a private working directory (`outside_the_checkout`),
so a store a test builds with MLflow's defaults lands there; the product's own folder handling
is tested from another folder on purpose (test_experiment_location.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WATCHED = ("mlruns", "mlflow.db", "mlartifacts")
_present_at_start: set[str] = set()


def pytest_sessionstart(session: pytest.Session) -> None:
    _present_at_start.update(name for name in WATCHED if (ROOT / name).exists())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):  # xdist workers: the controller checks once
        return
    leaked = [n for n in WATCHED if (ROOT / n).exists() and n not in _present_at_start]
    if leaked:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"a test left {', '.join(leaked)} in {ROOT}: tests must use their own folders"
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def outside_the_checkout() -> Iterator[Path]:
    """The session's working directory: a private temporary folder, removed at the end."""
    before = Path.cwd()
    folder = Path(tempfile.mkdtemp(prefix="mlworkbench-tests-cwd-"))
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(before)
        shutil.rmtree(folder, ignore_errors=True)
