"""Fixtures shared by the library's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_tracking_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the machine's MLFLOW_TRACKING_URI for one test.

    The library resolves a workspace's store from that variable before the workspace's own
    `mlflow.db`, so a developer's shell (or a CI job) that sets it would point these tests at
    a real tracking server instead of the temporary store they build. Modules whose every test
    reads such a store use it with `pytestmark = pytest.mark.usefixtures("no_tracking_env")`.
    """
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
