"""A sweep on a Ray cluster: one Ray job whose driver runs the trials with Ray Tune.

The job's entrypoint is the fixed `ray_tune_entry` (no user text; the sweep travels as JSON in
the job's private package, as a run's job does): `ray.tune.Tuner` runs one trial per planned
combination, one CPU each, at most `--max-concurrent` at once, wherever the cluster has room;
the driver itself holds no CPU, so it never takes the one a trial waits for. Each trial runs
the unchanged script through the bootstrap a run's job uses, which creates the trial's MLflow
run with the sweep's tags (`mlflow.parentRunId`, the trial index) and the tags a run on a Ray
target carries (provenance, `compute_target`, `ray_job_id`), plus its Tune trial id.

This side follows the job: the driver's event lines in the job's log say when a trial's run
exists and when it ended, and the run as stored (status, metrics, error tail) is read from the
tracking server, so the sweep's progress, best trial and parent run are `sweep_runner`'s as for
a local sweep. Cancel stops the job through the Jobs API; each trial's bootstrap records KILLED
as Ray ends its actor, and whatever run is still open when the job has ended is ended here.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlworkbench.compute.ray_errors import (
    ComputeTargetUnreachableError,
    RayNotInstalledError,
)
from mlworkbench.compute.ray_tune_entry import GUARD_MODULE, TUNE_ENV, parse_event
from mlworkbench.compute.sweep_runner import PARENT_TAG, TRIAL_TAG, TrialEnd

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient
    from ray.job_submission import JobSubmissionClient

    from mlworkbench.compute.sweep_plan import SweepPlan
    from mlworkbench.compute.sweep_runner import ParentRun, TrialRequest

TUNE_MODULE = "ray_tune_entry"
POLL_S = 0.5
LOST_CONTACT_S = 30.0  # as for a run's job: longer than a dashboard restart
RUN_END_WAIT_S = 20.0  # after the job ended: the trials' bootstraps recording KILLED
TAG = "mlworkbench."


class RayTrials:
    """The trials of one sweep as Ray Tune trials in one job on the Ray cluster whose
    dashboard is `address` (already resolved from `--target`), tracking to the plan's tracking
    server. One sweep at a time per instance."""

    target = "ray"

    def __init__(
        self, address: str, *, probe_timeout_s: float = 5.0, size_limit_mb: int = 100
    ) -> None:
        self.address = address
        self.probe_timeout_s = probe_timeout_s
        self.size_limit_mb = size_limit_mb
        self.job_id: str | None = None
        self._cancelled = threading.Event()
        self._jobs: JobSubmissionClient | None = None

    def check(self, plan: SweepPlan) -> None:
        """Everything that would fail every trial, before the parent run exists: a tracking
        server URI, Ray itself, the workspace's size, and a cluster that answers (within
        `probe_timeout_s`). Raises TrackingServerRequiredError, RayNotInstalledError,
        WorkingDirTooLargeError, InvalidComputeTargetError, ComputeTargetUnreachableError."""
        import importlib.util

        from mlworkbench.compute.ray_cluster import normalize_address, require_reachable
        from mlworkbench.compute.ray_jobs import require_tracking_server
        from mlworkbench.compute.ray_workdir import plan_working_dir

        require_tracking_server(plan.tracking_uri)
        self.address = normalize_address(self.address)
        if importlib.util.find_spec("ray") is None:
            raise RayNotInstalledError(f"no `ray` module in {sys.executable}")
        plan_working_dir(plan.workspace, size_limit_mb=self.size_limit_mb)
        require_reachable(self.address, timeout_s=self.probe_timeout_s)

    def parent_tags(self) -> dict[str, str]:
        return {"mlworkbench.ray_address": self.address}

    def cancel(self) -> None:
        """Stop the sweep's job (every trial); `run_all` returns once their runs ended."""
        self._cancelled.set()
        self._stop_job()

    def _stop_job(self) -> None:
        jobs, job_id = self._jobs, self.job_id
        if jobs is not None and job_id is not None:
            with contextlib.suppress(Exception):  # already ended, or the cluster went away
                jobs.stop_job(job_id)

    def run_all(
        self,
        plan: SweepPlan,
        requests: list[TrialRequest],
        parent: ParentRun,
        on_start: Callable[[int, str], None],
        on_end: Callable[[int, TrialEnd], None],
    ) -> None:
        """Submit the sweep's job and follow it to its end. Raises ScriptNotFoundError,
        WorkingDirTooLargeError, ComputeTargetUnreachableError, TrackingUnavailableError,
        RayNotInstalledError when the job could not be submitted (no trial ran)."""
        from mlworkbench.launch.run_records import open_client

        mlflow = open_client(parent.tracking_uri)
        self._submit(plan, requests, parent)
        follower = _Follower(self, mlflow, parent, on_start, on_end)
        follower.follow()
        follower.close(requests)

    def _submit(self, plan: SweepPlan, requests: list[TrialRequest], parent: ParentRun) -> None:
        from mlworkbench.analysis.script_analysis import analyze_file
        from mlworkbench.compute.ray_cluster import require_reachable
        from mlworkbench.compute.ray_jobs import (
            JOB_PACKAGE,
            job_package,
            jobs_client,
            require_tracking_answers,
            tracking_env,
        )
        from mlworkbench.compute.ray_workdir import plan_working_dir
        from mlworkbench.launch.preflight import check_script

        script_path, workspace = check_script(plan.script, plan.workspace)
        upload = plan_working_dir(workspace, size_limit_mb=self.size_limit_mb)
        frameworks = analyze_file(script_path).frameworks
        require_reachable(self.address, timeout_s=self.probe_timeout_s)
        require_tracking_answers(parent.tracking_uri, self.probe_timeout_s)
        jobs = jobs_client(self.address)
        job_id = f"mlworkbench-sweep-{uuid.uuid4().hex[:16]}"
        spec = {
            "script": script_path.relative_to(workspace).as_posix(),
            "tracking_uri": parent.tracking_uri,
            "experiment": plan.experiment,
            "frameworks": list(frameworks),
            # Only the token of that very server, nothing else of this machine's environment.
            "env": tracking_env(parent.tracking_uri),
            "max_concurrent": plan.max_concurrent,
            "metric": plan.metric,
            "mode": plan.mode,
            "trials": [
                {
                    "index": request.trial.index,
                    "args": [*request.trial.args, *plan.fixed_args],
                    "run_name": request.run_name,
                    "tags": self._trial_tags(
                        plan, request, script_path, workspace, job_id, frameworks
                    ),
                }
                for request in requests
            ],
        }
        package = job_package(spec)
        try:
            for module in (TUNE_MODULE, GUARD_MODULE):
                shutil.copy2(Path(__file__).with_name(f"{module}.py"), package / f"{module}.py")
            try:
                jobs.submit_job(
                    entrypoint=f"python -m {JOB_PACKAGE}.{TUNE_MODULE}",  # fixed: no user text
                    submission_id=job_id,
                    runtime_env={
                        "working_dir": str(workspace),
                        "excludes": list(upload.excludes),
                        "py_modules": [str(package)],
                        "env_vars": dict(TUNE_ENV),
                    },
                    metadata={"mlworkbench.parent_run_id": parent.run_id},
                )
            except Exception as error:
                raise ComputeTargetUnreachableError(self.address, str(error)) from error
        finally:
            shutil.rmtree(package.parent, ignore_errors=True)
        self._jobs, self.job_id = jobs, job_id
        if self._cancelled.is_set():  # cancel() came while the job was being submitted
            self._stop_job()

    def _trial_tags(
        self,
        plan: SweepPlan,
        request: TrialRequest,
        script: Path,
        workspace: Path,
        job_id: str,
        frameworks: list[str],
    ) -> dict[str, str]:
        """The tags a run on a Ray target carries (`ray_jobs.submit_run`), and the sweep's."""
        from mlworkbench.launch.provenance import provenance_tags

        tags = {
            **request.tags,
            **provenance_tags(
                script,
                [*request.trial.args, *plan.fixed_args],
                workspace=workspace,
                python="python",  # the cluster's
                frameworks=frameworks,
                log_path=Path(f"ray-job:{job_id}"),
            ),
            TAG + "compute_target": "ray",
            TAG + "ray_address": self.address,
            TAG + "ray_job_id": job_id,
        }
        tags.pop(TAG + "log_path", None)  # the log is the run's artifact, no file of this machine
        return tags


class _Follower:
    """Follows one sweep's job: its events, and at its end the runs it left open."""

    def __init__(
        self,
        trials: RayTrials,
        mlflow: MlflowClient,
        parent: ParentRun,
        on_start: Callable[[int, str], None],
        on_end: Callable[[int, TrialEnd], None],
    ) -> None:
        assert trials._jobs is not None and trials.job_id is not None
        self.trials = trials
        self.jobs, self.job_id = trials._jobs, trials.job_id
        self.mlflow = mlflow
        self.parent = parent
        self.on_start, self.on_end = on_start, on_end
        self.started: dict[int, str] = {}  # trial index -> run id
        self.ended: set[int] = set()
        self.read = 0  # characters of the job's log already parsed
        self.job_status = "RUNNING"
        self.job_message = ""

    def follow(self) -> None:
        lost_since: float | None = None
        while True:
            try:
                status = str(self.jobs.get_job_status(self.job_id).value)
                self._read_events(self.jobs.get_job_logs(self.job_id))
                lost_since = None
            except Exception as error:  # the cluster restarts, or is gone
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > LOST_CONTACT_S:
                    self.job_status = "LOST"
                    self.job_message = (
                        f"lost contact with the cluster for {LOST_CONTACT_S:.0f} s: {error}"
                    )
                    return
                time.sleep(POLL_S)
                continue
            if status in ("SUCCEEDED", "FAILED", "STOPPED"):
                self.job_status = status
                with contextlib.suppress(Exception):
                    self._read_events(self.jobs.get_job_logs(self.job_id))
                    self.job_message = self.jobs.get_job_info(self.job_id).message or ""
                return
            time.sleep(POLL_S)

    def _read_events(self, logs: str) -> None:
        complete = logs.rfind("\n") + 1
        for line in logs[self.read : complete].splitlines():
            event = parse_event(line)
            if event is not None:
                self._on_event(event)
        self.read = max(self.read, complete)

    def _on_event(self, event: dict[str, Any]) -> None:
        index, run_id = event.get("trial"), event.get("run_id")
        if not isinstance(index, int) or index in self.ended:
            return
        if event.get("event") == "started" and isinstance(run_id, str):
            if index not in self.started:
                self.started[index] = run_id
                self.on_start(index, run_id)
        elif event.get("event") == "ended":
            if isinstance(run_id, str) and index not in self.started:
                self.started[index] = run_id
                self.on_start(index, run_id)
            self.ended.add(index)
            if isinstance(run_id, str):
                # Recorded by the bootstrap, unless its process died first: then ended here.
                why = str(event.get("error") or "the trial's process ended without its run's end")
                self._end_run(run_id, "FAILED", why)
                self.on_end(index, self._end_of(run_id, event.get("error")))
            else:
                error = str(event.get("error") or "the trial ended before its run existed")
                self.on_end(index, TrialEnd(None, "FAILED", event.get("exit_code"), {}, error))

    def close(self, requests: list[TrialRequest]) -> None:
        """After the job: every trial it started ends, as its run says (KILLED when the sweep
        was stopped); a trial it never started stays unstarted, or fails with the job's
        message if the job failed without cancel."""
        open_runs = self._children()
        for index, run_id in open_runs.items():
            if index not in self.started and index not in self.ended:
                self.started[index] = run_id
                self.on_start(index, run_id)
        cancelled = self.trials._cancelled.is_set() or self.job_status == "STOPPED"
        status = "KILLED" if cancelled else "FAILED"
        reason = {
            "STOPPED": "the sweep's Ray job was stopped",
            "LOST": self.job_message,
        }.get(self.job_status, f"the sweep's Ray job ended: {self.job_message or 'no message'}")
        waiting = [index for index in self.started if index not in self.ended]
        deadline = time.monotonic() + RUN_END_WAIT_S
        for index in waiting:
            run_id = self.started[index]
            self._await_end(run_id, deadline)
            self._end_run(run_id, status, reason)
            self.ended.add(index)
            self.on_end(index, self._end_of(run_id, None))
        if cancelled:
            return
        for request in requests:
            index = request.trial.index
            if index not in self.started and index not in self.ended:
                self.ended.add(index)
                self.on_end(index, TrialEnd(None, "FAILED", None, {}, reason))

    def _children(self) -> dict[int, str]:
        """The sweep's trial runs this job created, by trial index (an event may be missing:
        a trial that created its run just as the job was stopped)."""
        from mlworkbench.launch.child.retry import call_with_retry

        query = f"tags.`{PARENT_TAG}` = '{self.parent.run_id}' and tags.`{TAG}ray_job_id` = "
        query += f"'{self.job_id}'"
        try:
            runs = call_with_retry(
                lambda: self.mlflow.search_runs([self.parent.experiment_id], query)
            )
        except Exception:
            return {}
        found = {}
        for run in runs:
            index = run.data.tags.get(TRIAL_TAG, "")
            if index.isdigit():
                found[int(index)] = str(run.info.run_id)
        return found

    def _await_end(self, run_id: str, deadline: float) -> None:
        from mlworkbench.compute.ray_jobs import RUN_TERMINAL

        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if self.mlflow.get_run(run_id).info.status in RUN_TERMINAL:
                    return
            time.sleep(POLL_S)

    def _end_run(self, run_id: str, status: str, reason: str) -> None:
        from mlworkbench.compute.ray_jobs import end_run_as

        with contextlib.suppress(Exception):
            end_run_as(self.mlflow, run_id, status, reason, "")

    def _end_of(self, run_id: str, error: object) -> TrialEnd:
        """The trial's end as its run recorded it (the store is the truth, as for a run)."""
        from mlworkbench.launch.child.retry import call_with_retry

        try:
            run = call_with_retry(lambda: self.mlflow.get_run(run_id))
        except Exception as failure:
            return TrialEnd(run_id, "FAILED", None, {}, f"the trial's run is unreadable: {failure}")
        status = str(run.info.status)
        tags = run.data.tags
        exit_tag = tags.get(TAG + "exit_code", "")
        exit_code = int(exit_tag) if exit_tag.lstrip("-").isdigit() else None
        if exit_code is None:
            exit_code = {"FINISHED": 0, "KILLED": 130}.get(status, 1)
        shown = None
        if status != "FINISHED":
            shown = tags.get(TAG + "error_tail") or tags.get(TAG + "error") or str(error or "")
        return TrialEnd(run_id, status, exit_code, dict(run.data.metrics), shown or None)
