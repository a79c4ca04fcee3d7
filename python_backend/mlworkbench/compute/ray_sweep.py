"""A sweep's trials on a Ray cluster: each trial a Ray job through `ray_jobs.submit_run`.

Why jobs and not Ray Tune: every trial must be the user's unchanged script, in its own
process, as its own MLflow child run with the autologging, parameter capture, provenance, log
and end state that `mlworkbench run` records. A job runs exactly that (the same bootstrap a
local run uses), and brings `submit_run`'s checks, the run created before the job starts, and
the Jobs API's stop for cancel. A Tune trial is a function or class called inside a Tune actor:
running an unchanged script there means re-implementing the bootstrap inside Tune's process
model, with Tune's own result folders beside MLflow. So the trials are Ray jobs scheduled by
the cluster, not Tune trials: the grid or random sample is the sweep's own (`sweep_space`), at
most `--max-concurrent` jobs are in flight (one thread of the sweep follows each), and Tune's
schedulers (early stopping such as ASHA) and search algorithms are not used.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from mlworkbench.compute.ray_errors import (
    ComputeTargetUnreachableError,
    RayNotInstalledError,
)
from mlworkbench.compute.sweep_runner import TrialEnd, TrialRun

if TYPE_CHECKING:
    from mlworkbench.compute.ray_jobs import RayRunHandle
    from mlworkbench.compute.sweep_plan import SweepPlan
    from mlworkbench.compute.sweep_space import Trial


class _RayTrial:
    def __init__(self, handle: RayRunHandle) -> None:
        self._handle = handle
        self.run_id = handle.run_id

    def cancel(self, grace_s: float) -> None:
        # Ray's stop_job has its own SIGTERM-then-SIGKILL: no grace of ours to apply.
        self._handle.cancel()

    def wait(self) -> TrialEnd:
        try:
            result = self._handle.wait()
        except ComputeTargetUnreachableError as error:
            # The cluster went away mid-trial: `wait` already ended the run FAILED with the
            # reason; this trial failed, the sweep goes on (and records the others).
            return TrialEnd(self.run_id, "FAILED", None, {}, error.message)
        error_text = None
        if result.status != "FINISHED":
            error_text = result.error_tail or result.message
        return TrialEnd(result.run_id, result.status, result.exit_code, result.metrics, error_text)


class RayTrials:
    """Trials as jobs on the Ray cluster whose dashboard is `address` (already resolved from
    `--target`), tracking to the plan's tracking server."""

    target = "ray"

    def __init__(
        self, address: str, *, probe_timeout_s: float = 5.0, size_limit_mb: int = 100
    ) -> None:
        self.address = address
        self.probe_timeout_s = probe_timeout_s
        self.size_limit_mb = size_limit_mb

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

    def start(
        self,
        plan: SweepPlan,
        trial: Trial,
        *,
        tracking_uri: str,
        run_name: str,
        tags: dict[str, str],
    ) -> TrialRun:
        from mlworkbench.compute.ray_jobs import submit_run, tracking_env

        handle = submit_run(
            self.address,
            plan.script,
            [*trial.args, *plan.fixed_args],
            workspace=plan.workspace,
            tracking_uri=tracking_uri,
            experiment=plan.experiment,
            run_name=run_name,
            env=tracking_env(tracking_uri),  # the token for that server only, nothing else
            size_limit_mb=self.size_limit_mb,
            tags=tags,
            probe_timeout_s=self.probe_timeout_s,
        )
        return _RayTrial(handle)
