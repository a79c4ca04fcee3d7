"""A cold server's start-up thread waits for the Runs view's first answers before it imports
MLflow and loads the caches: both hold the GIL for seconds, and a page asked right after
`initialized` waited for them (0.3-0.9 s more than the page itself at 100,000 runs)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest


def test_start_up_tasks_run_after_the_holds_and_mlflows_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pygls.workspace import Workspace

    from mlworkbench_server.request_path import Trust
    from mlworkbench_server.server import WorkbenchServer

    (tmp_path / "mlflow.db").write_bytes(b"")  # a store: the start-up thread runs
    server = WorkbenchServer()
    server.protocol._workspace = Workspace(tmp_path.as_uri())
    events: list[str] = []
    release = threading.Event()
    monkeypatch.setattr(
        "mlworkbench.tracking.mlflow_import.ensure_mlflow_imported",
        lambda: events.append("import"),
    )
    server.hold_start_tasks(lambda: (release.wait(10), events.append("hold")))
    server.after_start(lambda ls, folders: events.append(f"task {folders}"), Trust.READ_LOCAL)
    thread = server.start_background_tasks()
    assert thread is not None
    time.sleep(0.2)
    assert events == []  # held: nothing imported, nothing loaded
    release.set()
    thread.join(10)
    assert events == ["hold", "import", f"task {[tmp_path]}"]


def test_the_hold_waits_for_the_views_answers_then_a_quiet_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlworkbench_server import explorer_requests

    monkeypatch.setattr(explorer_requests, "FIRST_S", 0.3)
    caches = explorer_requests.RunCaches()
    began = time.monotonic()
    caches.wait_for_first_answers()  # no view asks: FIRST_S, then nothing to be quiet after
    assert 0.3 <= time.monotonic() - began < 1.5

    answered = threading.Event()
    asking = threading.Event()

    def answer() -> None:
        with caches.answering_quickly():
            asking.set()
            answered.wait(10)

    threading.Thread(target=answer).start()
    asking.wait(10)
    held = threading.Thread(target=caches.wait_for_first_answers)
    began = time.monotonic()
    held.start()
    held.join(0.5)
    assert held.is_alive()  # an answer is under way
    answered.set()
    held.join(10)
    waited = time.monotonic() - began
    assert explorer_requests.QUIET_S + 0.5 <= waited < explorer_requests.HOLD_S + 1.0


def test_the_heap_is_settled_after_the_load_and_again_after_the_check_against_mlflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check of the first table read imports MLflow with the collector paused; what that
    left is frozen too, or its first collection landed inside the next request (0.17 s)."""
    from mlflow.tracking import MlflowClient

    from mlworkbench.explorer.run_cache import RunCache
    from mlworkbench_server import explorer_requests

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client.set_terminated(client.create_run(client.create_experiment("e")).info.run_id)
    settled: list[int] = []
    made: list[RunCache] = []
    monkeypatch.setattr(
        explorer_requests, "settle_heap", lambda: settled.append(made[0].table_checks)
    )
    cache = explorer_requests.RunCaches().for_workspace(tmp_path, None)
    assert cache is not None
    made.append(cache)
    assert cache.query(limit=5).total == 1  # from the tables while the cache loads
    assert cache.wait_loaded(60) and cache.wait_checked(60) is True
    assert settled == [0, 1]  # after the load, then once the check is done
