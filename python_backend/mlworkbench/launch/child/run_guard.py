"""Keep a script's own `mlflow.start_run()` / `end_run()` inside the workbench's one run.

MLflow refuses a second un-nested `start_run()` while a run is active, and a script's
`end_run()` (or leaving its `with mlflow.start_run():` block) would end the workbench's run
before the script has finished. So, while the script runs:

- its first un-nested `start_run()` (or one naming our run id) returns our run, with any tags,
  description or name it passed applied to it;
- its `end_run()` of our run only marks the run "released" and keeps it open;
- an un-nested `start_run()` after that release (a sweep over `with mlflow.start_run():`)
  becomes a nested run under ours, because reusing ours would make MLflow reject the next
  iteration's params (a param's value may not change) and crash the script.

Everything else (nested runs, other run ids) goes to MLflow unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from mlflow.tracking.fluent import ActiveRun


class RunGuard:
    """Installs the patched `start_run`/`end_run`; `close()` ends the run for real."""

    def __init__(self, run_id: str, tracking_uri: str, *, keep_run_name: bool) -> None:
        import mlflow
        from mlflow.tracking import fluent

        self.run_id = run_id
        self._tracking_uri = tracking_uri
        self.released = False
        self._keep_run_name = keep_run_name  # the user named the run: the script may not rename
        self._fluent = fluent
        self._original_start = fluent.start_run
        self._original_end = fluent.end_run
        self._attached = _attached_run_class(self)
        # ActiveRun.__exit__ and MLflow's atexit hook look `end_run` up in the fluent module,
        # so patching the module attribute covers them too.
        for module in (mlflow, fluent):
            setattr(module, "start_run", self._start_run)  # noqa: B010 - mlflow's stubs
            setattr(module, "end_run", self._end_run)  # noqa: B010 - lack these names

    def _is_ours_active(self) -> bool:
        active = self._fluent.active_run()
        return active is not None and active.info.run_id == self.run_id

    def _start_run(
        self,
        run_id: str | None = None,
        experiment_id: str | None = None,
        run_name: str | None = None,
        nested: bool = False,
        parent_run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        description: str | None = None,
        log_system_metrics: bool | None = None,
    ) -> ActiveRun:
        top_level = not nested and parent_run_id is None
        if self._is_ours_active() and top_level and run_id in (None, self.run_id):
            if self.released and run_id is None:
                return self._original_start(
                    experiment_id=experiment_id,
                    run_name=run_name,
                    nested=True,
                    tags=tags,
                    description=description,
                    log_system_metrics=log_system_metrics,
                )
            return self._attach(run_name, tags, description)
        return self._original_start(
            run_id=run_id,
            experiment_id=experiment_id,
            run_name=run_name,
            nested=nested,
            parent_run_id=parent_run_id,
            tags=tags,
            description=description,
            log_system_metrics=log_system_metrics,
        )

    def _attach(
        self, run_name: str | None, tags: dict[str, Any] | None, description: str | None
    ) -> ActiveRun:
        import mlflow
        from mlflow.tracking import MlflowClient

        applied = {key: str(value) for key, value in (tags or {}).items()}
        if description:
            applied["mlflow.note.content"] = description
        if applied:
            mlflow.set_tags(applied)
        if run_name and not self._keep_run_name:
            MlflowClient(self._tracking_uri).update_run(self.run_id, name=run_name)
        active = self._fluent.active_run()
        assert active is not None
        return self._attached(active)

    def _end_run(self, status: str = "FINISHED") -> None:
        if self._is_ours_active():
            self.released = True  # the script is done with "its" run; the process is not
            return
        self._original_end(status)

    def close(self, status: str) -> None:
        """End every run still open in this process (the script's nested ones, then ours) and
        restore MLflow's functions. Never raises: the caller records our run's status itself."""
        import mlflow

        for module in (mlflow, self._fluent):
            setattr(module, "start_run", self._original_start)  # noqa: B010
            setattr(module, "end_run", self._original_end)  # noqa: B010
        for _ in range(100):  # bounded: a run the store refuses to end must not loop forever
            if self._fluent.active_run() is None:
                return
            # MLflow pops the run before writing its status, so a failed write still moves on.
            with contextlib.suppress(Exception):
                self._original_end(status)


def _attached_run_class(guard: RunGuard) -> Callable[[ActiveRun], ActiveRun]:
    """A subclass of MLflow's ActiveRun, made after mlflow is imported (never at module top)."""
    from mlflow.tracking.fluent import ActiveRun

    class AttachedRun(ActiveRun):
        """Our run as the script's `with mlflow.start_run():` sees it: leaving the block
        releases the run instead of ending it."""

        def __exit__(self, exc_type: object, exc_val: object, exc_tb: object) -> Literal[False]:
            guard.released = True
            return False  # never swallow the script's exception

    return AttachedRun
