"""The fixed entrypoint of a sweep's Ray job: Ray Tune runs the sweep's trials on the cluster.

`python -m _mlworkbench_ray_job.ray_tune_entry` (no user text, as for a run's job): the sweep's
trials, the script and the run settings come from `job.json` beside this file, shipped with the
job's private `py_modules` package (`compute/ray_sweep.py` writes it). The job's driver itself
asks for no CPU; `ray.tune.Tuner` runs one trial per planned combination (a grid over the
trials' indexes: the grid or random sample is the sweep's own), each in a Tune actor holding one
CPU, at most `max_concurrent` at a time, anywhere on the cluster.

A trial (`run_trial`, in its actor) starts the workbench's bootstrap on the unchanged script in
a subprocess, exactly as a run's job does (`ray_job_entry.bootstrap_command`): the bootstrap
creates the trial's MLflow run with the tags the sweep gave it (parent run, trial index), so
autologging, parameter capture and the run's end are recorded as for any run. The trial reports
to Tune twice: its run's id once the run exists, then how it ended with the sweep's metric as
the run recorded it (`--metric`, NaN when absent). The driver prints one line per trial start and
end and the best trial (`EVENT_PREFIX` + JSON) in the job's log, which the submitting side
follows; the script's output goes to its run's log file, not to the job's log.

Stopping the job (the sweep's cancel) ends the driver; Ray then ends its trial actors, and each
trial's guard (`ray_trial_guard.py`, in a session of its own) sees its actor gone and sends the
bootstrap SIGTERM, so the bootstrap records its run KILLED, then ends what the script started.

Standard library and Ray only: this runs in the cluster's interpreter, which need not have
mlworkbench.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from . import ray_job_entry as job_entry

HERE = Path(__file__).resolve().parent
SPEC_FILE = "job.json"
EVENT_PREFIX = "[mlworkbench-sweep] "  # a line of the job's log that carries one JSON event
TUNE_TRIAL_TAG = "mlworkbench.ray_tune_trial_id"
# What a trial reports to Tune besides the sweep's metric (prefixed: Tune adds keys of its own).
RUN_ID_KEY = "mlworkbench/run_id"
STATUS_KEY = "mlworkbench/status"
EXIT_CODE_KEY = "mlworkbench/exit_code"
ERROR_KEY = "mlworkbench/error"
# Settings for the job's driver and every trial actor (the job's runtime_env): the trial's
# folder is the workspace copy, not a Tune trial folder; Tune writes no result files of its own
# (CSV, JSON, TensorBoard) and prints no progress tables into the job's log; and Ray leaves a
# trial's direct child to the trial's guard (`ray_trial_guard.py`) instead of sending it SIGKILL
# as the actor exits, so the bootstrap is ended gracefully and records its run KILLED.
TUNE_ENV = {
    "RAY_CHDIR_TO_TRIAL_DIR": "0",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_AIR_NEW_OUTPUT": "0",
    "RAY_kill_child_processes_on_worker_exit": "0",
}
GUARD_MODULE = "ray_trial_guard"
HANDSHAKE_POLL_S = 0.2
ERROR_TAIL_CHARS = 2000
# Tune's chatter at the end of a sweep: its state written, and (with no result files, see
# TUNE_ENV) that it found none to read back. Its warnings and errors stay.
QUIET_LOGGERS = {"ray.tune.tune": "WARNING", "ray.tune.analysis.experiment_analysis": "ERROR"}


def load_job() -> dict[str, Any]:
    return dict(json.loads((HERE / SPEC_FILE).read_text(encoding="utf-8")))


def emit(event: Mapping[str, Any]) -> None:
    print(EVENT_PREFIX + json.dumps(event, sort_keys=True), flush=True)


def parse_event(line: str) -> dict[str, Any] | None:
    """The event a line of the job's log carries, or None (any other line)."""
    if not line.startswith(EVENT_PREFIX):
        return None
    try:
        event = json.loads(line[len(EVENT_PREFIX) :])
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _trial_job(job: Mapping[str, Any], index: int, tune_trial_id: str) -> dict[str, Any]:
    """A run's `job.json` shape for one trial: no run id, so the bootstrap creates the run."""
    trial = next(t for t in job["trials"] if t["index"] == index)
    return {
        "script": job["script"],
        "args": trial["args"],
        "run_id": None,
        "tracking_uri": job["tracking_uri"],
        "experiment": job["experiment"],
        "run_name": trial["run_name"],
        "frameworks": job["frameworks"],
        "tags": {**trial["tags"], TUNE_TRIAL_TAG: tune_trial_id},
        "env": job["env"],
    }


def _await_run_id(folder: Path, child: subprocess.Popen[bytes]) -> tuple[str | None, str | None]:
    """(run id, None) once the bootstrap created the run; (None, why) if it could not."""
    handshake = folder / job_entry.HANDSHAKE_FILE
    while not handshake.exists():
        if child.poll() is not None and not handshake.exists():
            return None, None
        time.sleep(HANDSHAKE_POLL_S)
    shaken = json.loads(handshake.read_text())
    if "run_id" in shaken:
        return str(shaken["run_id"]), None
    return None, str(shaken.get("error", {}).get("message") or shaken)


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-ERROR_TAIL_CHARS:]
    except OSError:
        return ""


def run_trial(config: dict[str, Any]) -> None:
    """One trial, in its Tune actor: the bootstrap on the script with this trial's arguments."""
    import ray

    _, report, get_context = _tune_api()
    job = load_job()
    index = int(config["trial"])
    metric = job["metric"]
    folder = Path(tempfile.mkdtemp(prefix="mlwb-trial-"))
    command, env = job_entry.bootstrap_command(
        _trial_job(job, index, get_context().get_trial_id()), folder
    )
    # A script that calls ray.init() joins this cluster, as it would in a run's job.
    env.setdefault("RAY_ADDRESS", ray.get_runtime_context().gcs_address)
    # The guard ends the bootstrap, and what the script started, when this actor dies.
    guard = [sys.executable, "-S", str(HERE / f"{GUARD_MODULE}.py"), str(os.getpid()), str(folder)]
    log_path = folder / job_entry.LOG_FILE
    try:
        with open(log_path, "ab") as log:
            child = subprocess.Popen(
                [*guard, *command],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=os.environ.get("TUNE_ORIG_WORKING_DIR") or os.getcwd(),
                start_new_session=True,  # out of the actor's group, which Ray kills outright
            )
            copier = threading.Thread(target=job_entry.copy_output, args=(child, log, None))
            copier.start()
            run_id, refused = _await_run_id(folder, child)
            if run_id is not None:
                report({RUN_ID_KEY: run_id, **({metric: math.nan} if metric else {})})
            code = job_entry.exit_status(child.wait())
            copier.join()
        ended: dict[str, Any] = {}
        result_path = folder / job_entry.RESULT_FILE
        if result_path.exists():
            ended = json.loads(result_path.read_text())
        status = str(ended.get("status") or "FAILED")
        final: dict[str, Any] = {RUN_ID_KEY: run_id or "", STATUS_KEY: status, EXIT_CODE_KEY: code}
        if metric:
            final[metric] = float(ended.get("metrics", {}).get(metric, math.nan))
        if not ended:  # the run's end was not recorded: say why from here
            final[ERROR_KEY] = refused or _tail(log_path) or f"the bootstrap exited with {code}"
        report(final)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _tune_api() -> tuple[Any, Any, Any]:
    """(RunConfig, report, get_context) of the installed Ray: `ray.tune`'s since Tune's API
    left Ray Train (2.41+), `ray.train`'s before."""
    from ray import tune

    if hasattr(tune, "RunConfig"):
        return tune.RunConfig, tune.report, tune.get_context
    from ray import train

    return train.RunConfig, train.report, train.get_context


def _events_callback(job: Mapping[str, Any]) -> Any:
    from ray import tune

    metric = job["metric"]

    class Events(tune.Callback):
        """One log line per trial start (its run exists) and end, for the submitting side."""

        def __init__(self) -> None:
            self.announced: set[str] = set()

        def on_trial_result(
            self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
        ) -> None:
            run_id = result.get(RUN_ID_KEY)
            if run_id and trial.trial_id not in self.announced and STATUS_KEY not in result:
                self.announced.add(trial.trial_id)
                emit(self._event("started", trial, run_id=run_id))

        def on_trial_complete(
            self, iteration: int, trials: list[Any], trial: Any, **info: Any
        ) -> None:
            emit(self._ended(trial, None))

        def on_trial_error(
            self, iteration: int, trials: list[Any], trial: Any, **info: Any
        ) -> None:
            # The trial function itself failed (a script that fails is a result, not this).
            emit(self._ended(trial, str(trial.get_error() or "the Tune trial failed")))

        def _ended(self, trial: Any, failure: str | None) -> dict[str, Any]:
            result = trial.last_result or {}
            event = self._event("ended", trial, run_id=result.get(RUN_ID_KEY) or None)
            event["status"] = "FAILED" if failure else result.get(STATUS_KEY, "FAILED")
            event["exit_code"] = result.get(EXIT_CODE_KEY)
            error = failure or result.get(ERROR_KEY)
            if error:
                event["error"] = str(error)[-ERROR_TAIL_CHARS:]
            if metric and _finite(result.get(metric)):
                event["metric"] = result[metric]
            return event

        @staticmethod
        def _event(name: str, trial: Any, **fields: Any) -> dict[str, Any]:
            return {
                "event": name,
                "trial": int(trial.config["trial"]),
                "tune_trial_id": trial.trial_id,
                **fields,
            }

    return Events()


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def main() -> int:
    import logging

    for name, value in TUNE_ENV.items():
        os.environ.setdefault(name, value)
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    import ray

    try:
        from ray import tune
    except ImportError as error:  # `ray[default]` without Tune's own packages
        print(f"[mlworkbench] Ray Tune does not import on the cluster: {error}", flush=True)
        print("[mlworkbench] its Python needs `pip install 'ray[tune]'`", flush=True)
        return 1
    job = load_job()
    run_config_type = _tune_api()[0]
    metric, mode = job["metric"], job["mode"]
    # The trial function by reference, from this package as every actor imports it: run as
    # `python -m`, this file is `__main__`, which Ray would pickle by value.
    trial_fn = importlib.import_module(__spec__.name if __spec__ else __name__).run_trial
    ray.init(log_to_driver=False)  # the job's cluster; trial actors' output stays in their logs
    storage = tempfile.mkdtemp(prefix="mlwb-tune-")  # Tune's own state, gone at the end

    def on_stop(signum: int, frame: FrameType | None) -> None:
        # The job is stopped (the sweep's cancel): Ray ends the trials' actors once this
        # process is gone, and their guards end the bootstraps. Quietly, instead of Ray's
        # own handler's stack dump, and without Tune's state left behind.
        emit({"event": "stopped"})
        shutil.rmtree(storage, ignore_errors=True)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_stop)
    try:
        tuner = tune.Tuner(
            tune.with_resources(trial_fn, {"cpu": 1}),
            param_space={"trial": tune.grid_search([t["index"] for t in job["trials"]])},
            tune_config=tune.TuneConfig(
                metric=metric or None,
                mode=mode if metric else None,
                max_concurrent_trials=int(job["max_concurrent"]),
            ),
            run_config=run_config_type(
                name="sweep",
                storage_path=storage,
                verbose=0,
                callbacks=[_events_callback(job)],
            ),
        )
        emit({"event": "tune", "trials": len(job["trials"]), "ray": ray.__version__})
        results = tuner.fit()
        best = None
        if metric:
            try:
                best = results.get_best_result(metric=metric, mode=mode, filter_nan_and_inf=True)
            except RuntimeError:  # no trial reported a finite value
                best = None
        if best is not None:
            config, metrics = best.config or {}, best.metrics or {}
            emit(
                {
                    "event": "best",
                    "trial": int(config["trial"]),
                    "run_id": metrics.get(RUN_ID_KEY),
                    "metric": metrics.get(metric),
                }
            )
        emit({"event": "done", "errors": len(results.errors)})
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
