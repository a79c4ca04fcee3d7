"""Fixtures shared by the library's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# MLflow's `set_tracking_uri` and `set_experiment` also write these to os.environ, for the
# processes a script starts; none of them undoes the experiment.
MLFLOW_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID")


@pytest.fixture(scope="module", autouse=True)
def mlflow_env_restored() -> Iterator[None]:
    """Put MLflow's variables back as they were after each module.

    A module that logs in-process through MLflow's fluent API (or calls library code that does)
    would otherwise leave them set for every later module in the same process, and the servers
    and runs those start inherit them: a run then names an experiment its store lacks, or the
    server reads another module's store. Which modules share a process depends on the order
    and, under pytest-xdist, on the worker, so the leak made failures that came and went.
    """
    saved = {name: os.environ.get(name) for name in MLFLOW_ENV}
    yield
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
