"""The collector pause: counted across threads and nesting, and never turns on a collector that
was off. The run cache's reads happen inside it (the speed-up is measured in bench/explorer.py)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlworkbench.tracking.gc_pause import collector_paused


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_pause_and_resume() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pauses_resume_only_at_the_outermost() -> None:
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_resumed_after_an_error() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_overlapping_pauses_in_threads_resume_when_the_last_ends() -> None:
    first_in, second_in, first_may_leave = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_in.set()
            first_may_leave.wait(10)
        seen.append(gc.isenabled())  # the second is still inside: still paused

    def second() -> None:
        first_in.wait(10)
        with collector_paused():
            second_in.set()
            threads[0].join(10)
            seen.append(gc.isenabled())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    second_in.wait(10)
    first_may_leave.set()
    for thread in threads:
        thread.join(10)
    assert seen == [False, False]
    assert gc.isenabled()


def test_the_run_cache_reads_the_store_with_the_collector_paused(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from mlworkbench.explorer.run_cache import RunCache

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    run = client.create_run(client.create_experiment("e"), run_name="r")
    client.set_terminated(run.info.run_id)
    cache = RunCache(uri)
    during: list[bool] = []
    read_whole = cache._read_whole  # the tables or MLflow's client, whichever reads the store

    def watched() -> Any:
        during.append(gc.isenabled())
        return read_whole()

    cache._read_whole = watched  # type: ignore[method-assign]
    page = cache.query()
    assert [r.run_name for r in page.runs] == ["r"]
    assert during and not any(during)
    cache.wait_checked(60)  # the table read's check against MLflow runs in the background
    assert gc.isenabled()
