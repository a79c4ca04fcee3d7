"""Run a planned sweep: one parent MLflow run, each trial a real tracked run nested under it.

Where trials run is the sweep's target. `LocalTrials` (the default) starts each trial through
`launcher.start_run`, so a trial records exactly what `mlworkbench run` would (autologging,
parsed params, provenance, log); at most `max_concurrent` are in flight (a pool of threads,
each following one trial). `compute/ray_sweep.RayTrials` hands the whole sweep to Ray Tune in
one Ray job (`ScheduledTrials`): Tune schedules the trials on the cluster and the target reports
each start and end. Either way MLflow's own nesting tag `mlflow.parentRunId` is set when the
trial's run is created, so MLflow's UI shows it under the parent, and the parent, progress
events, best trial and cancel are this module's, the same for every target.
A failing trial does not stop the others; `cancel()` stops them all.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from mlworkbench.compute.sweep_plan import SweepPlan
from mlworkbench.compute.sweep_space import SweepValue, Trial
from mlworkbench.errors import MlWorkbenchError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlworkbench.launch.launcher import RunHandle

PARENT_TAG = "mlflow.parentRunId"  # MLflow's own: its UI nests runs by it
SWEEP_TAG = "mlworkbench.sweep"
TRIAL_TAG = "mlworkbench.sweep.trial"
NOT_RUN = "NOT_RUN"  # a trial the sweep never started (cancelled first): it has no run
POLL_S = 0.1

TrialStatus = Literal["FINISHED", "FAILED", "KILLED", "NOT_RUN"]


@dataclass(frozen=True)
class TrialOutcome:
    """How one trial went. `run_id` is None when no run exists (not run, or refused at start)."""

    index: int
    values: dict[str, SweepValue]
    args: list[str]
    status: str  # FINISHED | FAILED | KILLED | NOT_RUN, or RUNNING in a start event
    run_id: str | None = None
    metric: float | None = None
    exit_code: int | None = None
    error: str | None = None  # the end of the output, or why the run could not start
    started_s: float | None = None  # wall clock (time.time()) of the trial's start and end
    ended_s: float | None = None


@dataclass(frozen=True)
class SweepResult:
    """The sweep as recorded: the parent run, every trial in plan order, the best one."""

    parent_run_id: str
    experiment_id: str
    tracking_uri: str
    status: str  # FINISHED | FAILED (every trial failed) | KILLED (cancelled)
    strategy: str
    seed: int | None
    metric: str | None
    mode: str
    trials: list[TrialOutcome]
    best: TrialOutcome | None

    def count(self, status: str) -> int:
        return sum(1 for trial in self.trials if trial.status == status)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


TrialCallback = Callable[[TrialOutcome, int], None]  # (outcome, number of trials)


@dataclass(frozen=True)
class TrialEnd:
    """How a started trial's run ended, as stored: what the sweep needs of any target."""

    run_id: str | None  # None: the trial failed before its run existed
    status: str  # FINISHED | FAILED | KILLED
    exit_code: int | None
    metrics: dict[str, float]
    error: str | None  # the end of the output, or the target's reason, when it did not finish


class TrialRun(Protocol):
    """A started trial: its run exists. `cancel` may come from any thread and never blocks."""

    @property
    def run_id(self) -> str: ...

    def cancel(self, grace_s: float) -> None: ...

    def wait(self) -> TrialEnd: ...


class TrialLauncher(Protocol):
    """Where a sweep's trials run. `check` comes before the parent run exists (a target that
    cannot take trials costs no run); `start` returns once the trial's run exists, created
    with `tags`, or raises a typed error (that trial fails, the others go on)."""

    target: str  # recorded on the parent run (`mlworkbench.compute_target`)

    def check(self, plan: SweepPlan) -> None: ...

    def parent_tags(self) -> dict[str, str]: ...

    def start(
        self,
        plan: SweepPlan,
        trial: Trial,
        *,
        tracking_uri: str,
        run_name: str,
        tags: dict[str, str],
    ) -> TrialRun: ...


@dataclass(frozen=True)
class TrialRequest:
    """A trial as the sweep asks a target to run it: its run's name and creation tags."""

    trial: Trial
    run_name: str
    tags: dict[str, str]


@dataclass(frozen=True)
class ParentRun:
    run_id: str
    experiment_id: str
    tracking_uri: str


@runtime_checkable
class ScheduledTrials(Protocol):
    """A target that schedules the whole sweep itself (Ray Tune on a Ray cluster). `check` as
    for `TrialLauncher`; `run_all` blocks until every trial it started has ended, calling
    `on_start(index, run_id)` once a trial's run exists (created with its request's tags) and
    `on_end(index, end)` when it ended; a trial it never started gets neither (NOT_RUN), unless
    the target failed it (`on_end` with no run). Raises a typed error when nothing could start.
    `cancel` may come from any thread, never blocks, and stops every trial: `run_all` then
    returns once the trials in flight have ended KILLED."""

    target: str

    def check(self, plan: SweepPlan) -> None: ...

    def parent_tags(self) -> dict[str, str]: ...

    def run_all(
        self,
        plan: SweepPlan,
        requests: list[TrialRequest],
        parent: ParentRun,
        on_start: Callable[[int, str], None],
        on_end: Callable[[int, TrialEnd], None],
    ) -> None: ...

    def cancel(self) -> None: ...


class _LocalTrial:
    def __init__(self, handle: RunHandle) -> None:
        self._handle = handle
        self.run_id = handle.run_id

    def cancel(self, grace_s: float) -> None:
        self._handle.cancel(grace_s)

    def wait(self) -> TrialEnd:
        run = self._handle.wait()
        return TrialEnd(run.run_id, run.status, run.exit_code, run.metrics, run.error_tail)


class LocalTrials:
    """Each trial a process of this machine through `launcher.start_run`, in its own group."""

    target = "local"

    def check(self, plan: SweepPlan) -> None:
        return None  # `start_run`'s own checks are the parent's (`_open_parent`)

    def parent_tags(self) -> dict[str, str]:
        return {}

    def start(
        self,
        plan: SweepPlan,
        trial: Trial,
        *,
        tracking_uri: str,
        run_name: str,
        tags: dict[str, str],
    ) -> TrialRun:
        from mlworkbench.launch.launcher import start_run

        handle = start_run(
            plan.script,
            [*trial.args, *plan.fixed_args],
            workspace=plan.workspace,
            python=plan.python,
            experiment=plan.experiment,
            run_name=run_name,
            tracking_uri=tracking_uri,
            env=plan.env,
            tags=tags,
        )
        return _LocalTrial(handle)


class Sweep:
    """One sweep of a plan. `run()` blocks until every trial ended; `cancel()` may come from
    any thread (or a signal handler) and stops the trials in flight through the target's own
    cancel; trials not yet started are marked NOT_RUN."""

    def __init__(
        self,
        plan: SweepPlan,
        *,
        cancel_grace_s: float = 5.0,
        launcher: TrialLauncher | ScheduledTrials | None = None,
    ) -> None:
        self.plan = plan
        self.launcher: TrialLauncher | ScheduledTrials = launcher or LocalTrials()
        self.cancelled = threading.Event()
        self._grace_s = cancel_grace_s
        self._lock = threading.RLock()  # cancel() may run in a signal handler of a holder
        self._in_flight: dict[int, TrialRun] = {}
        self._outcomes: dict[int, TrialOutcome] = {}  # by trial index, as trials end
        self.parent_run_id: str | None = None

    def cancel(self, grace_s: float | None = None) -> None:
        """Stop the sweep: no trial starts any more, the running ones are interrupted (locally
        SIGINT, then SIGTERM and SIGKILL after the grace; on Ray, the sweep's job is stopped)
        and end KILLED. A second call may shorten the grace. Never blocks."""
        with self._lock:
            if grace_s is not None:
                self._grace_s = min(self._grace_s, grace_s)
            self.cancelled.set()
            handles = list(self._in_flight.values())
        if isinstance(self.launcher, ScheduledTrials):
            self.launcher.cancel()
        for handle in handles:
            handle.cancel(self._grace_s)

    def run(self, on_event: TrialCallback | None = None) -> SweepResult:
        """Create the parent run, run the trials, record the outcome on the parent.

        Typed errors about the target and the store come before the parent run exists.
        `on_event` is called (from worker threads, one call at a time) when a trial starts
        (status RUNNING) and when it ends.
        """
        plan = self.plan
        self.launcher.check(plan)
        parent_tags = {"mlworkbench.compute_target": self.launcher.target}
        parent_tags.update(self.launcher.parent_tags())
        client, uri, experiment_id, parent_id = _open_parent(plan, parent_tags)
        self.parent_run_id = parent_id
        parent = ParentRun(parent_id, experiment_id, uri)
        report = _serialised(on_event, len(plan.trials))
        futures: dict[int, Future[None]] = {}  # by trial index; one future for all when scheduled
        try:
            with ThreadPoolExecutor(plan.max_concurrent, thread_name_prefix="sweep") as pool:
                launcher = self.launcher
                if isinstance(launcher, ScheduledTrials):
                    everything = pool.submit(self._run_scheduled, launcher, parent, report)
                    futures = {trial.index: everything for trial in plan.trials}
                else:
                    futures = {
                        trial.index: pool.submit(self._run_trial, launcher, trial, parent, report)
                        for trial in plan.trials
                    }
                try:
                    pending = set(futures.values())
                    while pending:  # polled, so a signal handler's cancel() runs promptly
                        _, pending = wait(pending, timeout=POLL_S)
                except BaseException:  # Ctrl+C without a handler: stop the trials, not leak them
                    self.cancel(grace_s=0.0)
                    raise
        finally:
            trials = [
                self._outcomes.get(trial.index) or _not_run(trial, futures.get(trial.index))
                for trial in plan.trials
            ]
            result = _conclude(plan, trials, parent_id, experiment_id, uri, self.cancelled)
            _record_parent(client, result, plan)
        for future in set(futures.values()):
            future.result()  # a bug in a worker is raised, after the parent was recorded
        return result

    def _request(self, trial: Trial, parent: ParentRun) -> TrialRequest:
        return TrialRequest(
            trial,
            run_name=f"{self.plan.run_name or 'trial'}-{trial.index}",
            tags={PARENT_TAG: parent.run_id, TRIAL_TAG: str(trial.index)},
        )

    def _ended(
        self, trial: Trial, end: TrialEnd, started_s: float, report: Callable[[TrialOutcome], None]
    ) -> None:
        metric = self.plan.metric
        ended = TrialOutcome(
            trial.index,
            trial.values,
            trial.args,
            status=end.status,
            run_id=end.run_id,
            metric=end.metrics.get(metric) if metric else None,
            exit_code=end.exit_code,
            error=end.error,
            started_s=started_s,
            ended_s=time.time(),
        )
        self._outcomes[trial.index] = ended
        report(ended)

    def _report_start(
        self, trial: Trial, run_id: str, started_s: float, report: Callable[[TrialOutcome], None]
    ) -> None:
        running = TrialOutcome(trial.index, trial.values, trial.args, "RUNNING", run_id)
        report(replace(running, started_s=started_s))

    def _run_trial(
        self,
        launcher: TrialLauncher,
        trial: Trial,
        parent: ParentRun,
        report: Callable[[TrialOutcome], None],
    ) -> None:
        if self.cancelled.is_set():
            return
        started = time.time()
        request = self._request(trial, parent)
        try:
            handle = launcher.start(
                self.plan,
                trial,
                tracking_uri=parent.tracking_uri,
                run_name=request.run_name,
                tags=request.tags,
            )
        except MlWorkbenchError as error:  # this trial could not start; the others may
            self._ended(trial, TrialEnd(None, "FAILED", None, {}, error.message), started, report)
            return
        with self._lock:
            self._in_flight[trial.index] = handle
            cancel_now = self.cancelled.is_set()  # cancel() came while the run was starting
        if cancel_now:
            handle.cancel(self._grace_s)
        try:
            self._report_start(trial, handle.run_id, started, report)
            run = handle.wait()
        except BaseException:  # a failing callback must not leave the trial running unseen
            handle.cancel(0.0)
            handle.wait()
            raise
        finally:
            with self._lock:
                self._in_flight.pop(trial.index, None)
        self._ended(trial, run, started, report)

    def _run_scheduled(
        self,
        launcher: ScheduledTrials,
        parent: ParentRun,
        report: Callable[[TrialOutcome], None],
    ) -> None:
        """The whole sweep through a target that schedules its trials (Ray Tune)."""
        trials = {trial.index: trial for trial in self.plan.trials}
        started: dict[int, float] = {}

        def on_start(index: int, run_id: str) -> None:
            started[index] = time.time()
            self._report_start(trials[index], run_id, started[index], report)

        def on_end(index: int, end: TrialEnd) -> None:
            self._ended(trials[index], end, started.get(index, time.time()), report)

        if self.cancelled.is_set():
            return
        requests = [self._request(trial, parent) for trial in self.plan.trials]
        try:
            launcher.run_all(self.plan, requests, parent, on_start, on_end)
        except MlWorkbenchError as error:  # nothing could start: every trial failed with it
            for index in trials.keys() - self._outcomes.keys():
                on_end(index, TrialEnd(None, "FAILED", None, {}, error.message))
        except BaseException:  # a failing callback must not leave the trials running unseen
            launcher.cancel()
            raise


def _serialised(on_event: TrialCallback | None, total: int) -> Callable[[TrialOutcome], None]:
    """`on_event` for worker threads: one call at a time, so progress lines never interleave."""
    lock = threading.Lock()

    def report(outcome: TrialOutcome) -> None:
        if on_event is not None:
            with lock:
                on_event(outcome, total)

    return report


def _not_run(trial: Trial, future: Future[None] | None) -> TrialOutcome:
    """A trial that never ended: NOT_RUN (the sweep stopped first, or its worker failed)."""
    error = None
    if future is not None and future.done() and future.exception() is not None:
        error = f"{type(future.exception()).__name__}: {future.exception()}"
    return TrialOutcome(trial.index, trial.values, trial.args, NOT_RUN, error=error)


def _open_parent(
    plan: SweepPlan, target_tags: dict[str, str]
) -> tuple[MlflowClient, str, str, str]:
    """Check the store as a run would, then create the parent run (under the store lock, as
    the bootstrap creates runs: two creators of a fresh SQLite store would both migrate it).

    The parent carries this process's identity tags, so if the sweep itself dies the
    stale-run check ends the parent as it would any run."""
    from mlflow.tracking import MlflowClient

    from mlworkbench.errors import RunStartError
    from mlworkbench.launch.child import proc_info
    from mlworkbench.launch.child.retry import call_with_retry
    from mlworkbench.launch.child.store_open import (
        StoreOpenError,
        enable_wal,
        refuse_silent_migration,
        resolve_experiment,
        sqlite_path,
        store_lock,
    )
    from mlworkbench.launch.preflight import check_tracking_store
    from mlworkbench.launch.provenance import sha256_of
    from mlworkbench.tracking.tracking_client import checked_tracking_uri
    from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

    uri = checked_tracking_uri(plan.workspace, plan.tracking_uri) or resolve_tracking_uri(
        plan.workspace, plan.tracking_uri
    )
    check_tracking_store(uri, plan.workspace)
    pid = os.getpid()
    tags = {
        SWEEP_TAG: "1",
        "mlworkbench.script": str(plan.script),
        "mlworkbench.script_sha256": sha256_of(plan.script),
        "mlworkbench.workspace": str(plan.workspace),
        "mlworkbench.python": plan.python,
        "mlworkbench.sweep.args": json.dumps(plan.fixed_args),
        "mlworkbench.pid": str(pid),
        "mlworkbench.host": proc_info.host_name(),
        "mlworkbench.pid_start_time": proc_info.start_time(pid) or "",
        "mlworkbench.boot_id": proc_info.boot_id() or "",
        **target_tags,
    }
    try:
        with store_lock(uri):
            db_path = sqlite_path(uri)
            if db_path is not None:
                refuse_silent_migration(db_path)
                # WAL before MLflow opens it: a connection this process opened in rollback
                # mode, left idle while the trials write in WAL mode, later read the file as
                # "malformed". On a new store this makes an empty WAL database for MLflow.
                enable_wal(db_path)
            client = MlflowClient(uri)
            experiment_id = resolve_experiment(client, plan.experiment)
            run = call_with_retry(
                lambda: client.create_run(
                    experiment_id,
                    run_name=plan.run_name,
                    tags={k: v for k, v in tags.items() if v},
                )
            )
    except StoreOpenError as error:
        raise RunStartError(error.message) from error
    parent_id = str(run.info.run_id)
    params = {
        "sweep.strategy": plan.strategy,
        "sweep.trials": str(len(plan.trials)),
        "sweep.max_concurrent": str(plan.max_concurrent),
        **({"sweep.seed": str(plan.seed)} if plan.seed is not None else {}),
        **({"sweep.metric": plan.metric, "sweep.mode": plan.mode} if plan.metric else {}),
        **{f"space.{name}": values for name, values in plan.space.describe().items()},
    }
    _log(client, parent_id, params=params)
    return client, uri, experiment_id, parent_id


def _conclude(
    plan: SweepPlan,
    trials: list[TrialOutcome],
    parent_id: str,
    experiment_id: str,
    uri: str,
    cancelled: threading.Event,
) -> SweepResult:
    judged = [t for t in trials if t.status == "FINISHED" and t.metric is not None]
    best: TrialOutcome | None = None
    if judged:
        sign = 1.0 if plan.mode == "min" else -1.0
        # Ties go to the earlier trial: the grid's order is the user's own.
        best = min(judged, key=lambda t: (sign * (t.metric or 0.0), t.index))
    finished = sum(1 for t in trials if t.status == "FINISHED")
    if cancelled.is_set():
        status = "KILLED"
    elif finished == 0:
        status = "FAILED"
    else:
        status = "FINISHED"
    return SweepResult(
        parent_run_id=parent_id,
        experiment_id=experiment_id,
        tracking_uri=uri,
        status=status,
        strategy=plan.strategy,
        seed=plan.seed,
        metric=plan.metric,
        mode=plan.mode,
        trials=trials,
        best=best,
    )


def _record_parent(client: MlflowClient, result: SweepResult, plan: SweepPlan) -> None:
    """The sweep's outcome on the parent: counts, the best trial, and its end status."""
    from mlworkbench.launch.child.retry import call_with_retry

    metrics = {
        f"trials_{status.lower()}": float(result.count(status))
        for status in ("FINISHED", "FAILED", "KILLED", NOT_RUN)
    }
    params: dict[str, str] = {}
    tags: dict[str, str] = {}
    best = result.best
    if best is not None and best.metric is not None and plan.metric:
        metrics[f"best_{plan.metric}"] = best.metric
        params = {f"best.{name}": str(value) for name, value in best.values.items()}
        tags = {"mlworkbench.sweep.best_run_id": best.run_id or ""}
    _log(client, result.parent_run_id, metrics=metrics, params=params, tags=tags)
    call_with_retry(lambda: client.set_terminated(result.parent_run_id, result.status))


def _log(
    client: MlflowClient,
    run_id: str,
    *,
    metrics: dict[str, float] | None = None,
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    from mlflow.entities import Metric, Param, RunTag

    from mlworkbench.launch.child.retry import call_with_retry

    now = int(time.time() * 1000)
    call_with_retry(
        lambda: client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in (metrics or {}).items()],
            params=[Param(k, v) for k, v in (params or {}).items()],
            tags=[RunTag(k, v) for k, v in (tags or {}).items() if v],
        )
    )
