"""Long requests the client can cancel by a job id it chose (a report, an image build, a sweep).

The handler runs in a worker thread; its cancel request runs on the event loop (`thread=False`)
so it never queues behind the job it cancels. Each job gets an event the handler's child-process
runner watches (`mlworkbench.cli_child.run_cli(cancelled=…)`); the server cancels every job when
it exits, so no child session outlives it.
"""

from __future__ import annotations

import threading

from lsprotocol import types
from pygls.exceptions import JsonRpcException


class CancellableJobs:
    """The jobs of one kind running now, by the client's job id."""

    def __init__(self, kind: str) -> None:
        self._kind = kind  # "report", "build", "sweep": for the duplicate-id message
        self._lock = threading.Lock()
        self._jobs: dict[str, threading.Event] = {}

    def start(self, job_id: str) -> threading.Event:
        """The new job's cancel event; InvalidParams when the id is already running."""
        with self._lock:
            if job_id in self._jobs:
                raise JsonRpcException(
                    code=types.ErrorCodes.InvalidParams,
                    message=f"a {self._kind} with job id {job_id!r} is already running",
                )
            event = self._jobs[job_id] = threading.Event()
            return event

    def end(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)

    def cancel(self, job_id: str) -> bool:
        """Ask the job to stop; False when no such job runs (it ended, or never started)."""
        with self._lock:
            event = self._jobs.get(job_id)
        if event is not None:
            event.set()
        return event is not None

    def cancel_all(self) -> None:
        with self._lock:
            events = list(self._jobs.values())
        for event in events:
            event.set()
