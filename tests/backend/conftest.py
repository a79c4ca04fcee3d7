"""Fixtures shared by the library's tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_engine import engine  # noqa: F401 - a fixture, shared with tests/server

# A warm pool (launch/warm_pool.py) outlives the run that started it by its idle timeout (10 min):
# tests that start runs would each leave one behind. The pool's own tests switch it on
# (tests/backend/test_warm_pool.py); everywhere else runs are cold, as the bench's peers are.
os.environ["MLWORKBENCH_WARM"] = "0"

# MLflow's `set_tracking_uri` and `set_experiment` also write these to os.environ, for the
# processes a script starts; the report commands' `--json`/`--progress` write MLWORKBENCH_PROGRESS
# (commands/report_common.set_progress), which silences the progress lines later CLI tests read.
MLFLOW_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID")
PROCESS_ENV = (*MLFLOW_ENV, "MLWORKBENCH_PROGRESS")


@pytest.fixture(scope="module", autouse=True)
def mlflow_state_restored() -> Iterator[None]:
    """Put MLflow's process-wide tracking URI and experiment (and the CLI's progress mode) back
    as they were after each module.

    A module that logs in-process through MLflow's fluent API (or calls library code that does)
    would otherwise leave them set for every later module in the same process: a fluent run
    there goes to an experiment its store lacks, and the servers and runs those modules start
    inherit the variables and read another module's store. Which modules share a process
    depends on the order and, under pytest-xdist, on the worker, so the leak made failures that
    came and went.
    """
    saved = {name: os.environ.get(name) for name in PROCESS_ENV}
    yield
    mlflow = sys.modules.get("mlflow")
    if mlflow is not None:
        mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])
        # MLflow has no call that forgets `set_experiment`; its own tests reset this too.
        mlflow.tracking.fluent._active_experiment_id = None
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def no_tracking_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the machine's MLFLOW_TRACKING_URI for one test.

    The library resolves a workspace's store from that variable before the workspace's own
    `mlflow.db`, so a developer's shell (or a CI job) that sets it would point these tests at
    a real tracking server instead of the temporary store they build. Modules whose every test
    reads such a store use it with `pytestmark = pytest.mark.usefixtures("no_tracking_env")`.
    """
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="session", autouse=True)
def _private_working_directory(outside_the_checkout: Path) -> Path:
    """Every test here runs outside the checkout (tests/conftest.py says why)."""
    return outside_the_checkout
