"""The job registry reports, builds and sweeps share: a cancel reaches its job, and only it."""

from __future__ import annotations

import pytest
from pygls.exceptions import JsonRpcException

from mlworkbench_server.cancellable_jobs import CancellableJobs


def test_a_cancel_reaches_its_own_job_only() -> None:
    jobs = CancellableJobs("build")
    first, second = jobs.start("a"), jobs.start("b")
    assert jobs.cancel("a") is True
    assert first.is_set() and not second.is_set()
    assert jobs.cancel("gone") is False


def test_a_running_job_id_is_refused_until_it_ends() -> None:
    jobs = CancellableJobs("sweep")
    jobs.start("a")
    with pytest.raises(JsonRpcException, match="a sweep with job id 'a' is already running"):
        jobs.start("a")
    jobs.end("a")
    assert not jobs.start("a").is_set()  # a fresh event, not the old one


def test_exit_cancels_every_job() -> None:
    jobs = CancellableJobs("report")
    events = [jobs.start(name) for name in ("a", "b", "c")]
    jobs.cancel_all()
    assert all(event.is_set() for event in events)
