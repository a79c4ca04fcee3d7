"""Log Ray RLlib training to the tracked run: MLflow has no autologging for RLlib, so this is it.

Installed by a post-import hook on `ray.rllib.algorithms.algorithm` (see autolog.py), it wraps
three methods of RLlib's `Algorithm`:

- `train()`: after each iteration, one `log_batch` with the iteration's scalar results
  (flattened with `/`, at step `training_iteration`) and, on an algorithm's first iteration,
  a small set of its config values as params;
- `save_to_path()` (what `save()` and `save_to_path()` both end in): notes a checkpoint the
  script saved itself, so it is not saved twice;
- `stop()`: saves the algorithm's final state first, because a stopped algorithm has nothing
  left to save.

The checkpoint of the last trained algorithm is logged as the run's `checkpoint/` artifact
folder by an exit handler, registered at the first `train()`: after `import ray`, so it runs
before Ray's own exit handler shuts Ray down, and after the bootstrap's, so it runs before the
run's end is recorded (exit handlers run last-registered first). Nothing here assumes a local
process: in a Ray job the driver is the process that trains, and everything goes to the run
and tracking URI that were active at the first `train()`.

Failures are warned about, never raised: a run without this logging is still a run. Like the
rest of `child/`, only the standard library is imported at the top, and nothing of mlworkbench.
"""

from __future__ import annotations

import atexit
import functools
import math
import numbers
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .retry import call_with_retry

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

# What the issue asks to see per iteration, in the names RLlib's new API stack returns.
KEY_METRICS = (
    "env_runners/episode_return_mean",
    "env_runners/episode_len_mean",
    "num_env_steps_sampled_lifetime",
)
CHECKPOINT_ARTIFACT = "checkpoint"
MAX_METRICS_PER_BATCH = 1000  # MLflow's limit for one log_batch call
MODULE = "ray.rllib.algorithms.algorithm"

# Result keys that are not training metrics: bookkeeping, the step itself, the whole config
# (logged once as params instead), and per-component timers that would bury the curves that
# matter under a hundred lines nobody compares across runs.
_SKIPPED_KEYS = frozenset(
    {
        "config",
        "timers",
        "fault_tolerance",
        "env_runner_group",
        "training_iteration",
        "iterations_since_restore",
        "num_training_step_calls_per_iteration",
        "done",
        "trial_id",
        "date",
        "timestamp",
        "pid",
        "hostname",
        "node_ip",
    }
)
_SKIPPED_WORDS = ("connector", "throughput", "_timer", "weights_seq_no")
# MLflow refuses other characters in metric names (the colon only on Windows).
_BAD_NAME_CHARACTERS = re.compile(r"[^/\w.\- ]")

# AlgorithmConfig attribute -> param name. The config has ~260 entries, most of them plumbing;
# these are the ones people tune and compare. Attributes an algorithm lacks are left out.
CONFIG_PARAMS = {
    "env": "env",
    "framework_str": "framework",
    "lr": "lr",
    "gamma": "gamma",
    "train_batch_size_per_learner": "train_batch_size_per_learner",
    "minibatch_size": "minibatch_size",
    "num_epochs": "num_epochs",
    "num_env_runners": "num_env_runners",
    "num_envs_per_env_runner": "num_envs_per_env_runner",
    "num_learners": "num_learners",
    "rollout_fragment_length": "rollout_fragment_length",
    "batch_mode": "batch_mode",
    "seed": "seed",
    "grad_clip": "grad_clip",
    "lambda_": "lambda",
    "clip_param": "clip_param",
    "vf_clip_param": "vf_clip_param",
    "vf_loss_coeff": "vf_loss_coeff",
    "entropy_coeff": "entropy_coeff",
    "use_kl_loss": "use_kl_loss",
    "kl_coeff": "kl_coeff",
    "kl_target": "kl_target",
    "target_network_update_freq": "target_network_update_freq",
    "n_step": "n_step",
    "tau": "tau",
}
MAX_PARAM_LENGTH = 6000  # MLflow's limit for a param value


def _default_warn(message: str) -> None:
    print(f"[mlworkbench] {message}", file=sys.stderr, flush=True)


def _scalar(value: Any) -> float | None:
    """A finite float for an int/float (numpy's included) or a 0-d array/tensor, else None."""
    if isinstance(value, bool):
        return None
    if not isinstance(value, numbers.Real):
        if getattr(value, "ndim", None) != 0 or not hasattr(value, "item"):
            return None
        try:
            value = value.item()
        except Exception:
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return None
    number = float(value)
    return number if math.isfinite(number) else None


def _flatten(result: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in result.items():
        name = str(key)
        if not name or name == "timers" or (not prefix and name in _SKIPPED_KEYS):
            continue
        if any(word in name for word in _SKIPPED_WORDS):
            continue
        path = f"{prefix}{_BAD_NAME_CHARACTERS.sub('_', name)}"
        if isinstance(value, Mapping):
            yield from _flatten(value, path + "/")
        else:
            yield path, value


def iteration_metrics(result: Mapping[str, Any]) -> dict[str, float]:
    """The metrics one `Algorithm.train()` result contributes: flattened with `/`, finite
    scalars only, the key metrics first (so they survive the per-batch limit)."""
    found = {
        name: number for name, value in _flatten(result) if (number := _scalar(value)) is not None
    }
    ordered = {name: found[name] for name in KEY_METRICS if name in found}
    for name, number in found.items():
        if len(ordered) >= MAX_METRICS_PER_BATCH:
            break
        ordered.setdefault(name, number)
    return ordered


def _param_text(value: Any) -> str | None:
    if value is None or isinstance(value, (list, tuple, dict, set)):
        return None
    if isinstance(value, type):
        return value.__name__  # an env given as a class
    if isinstance(value, (bool, int, float, str)):
        text = str(value)
        return text if len(text) <= MAX_PARAM_LENGTH else None
    return None


def _attribute(config: Any, name: str) -> Any:
    try:
        return getattr(config, name, None)
    except Exception:  # a property that cannot be computed for this config
        return None


def config_params(config: Any, algorithm: str) -> dict[str, str]:
    """The algorithm's name and the tuned, scalar part of its `AlgorithmConfig`, as params."""
    params = {"algorithm": algorithm}
    for attribute, name in CONFIG_PARAMS.items():
        text = _param_text(_attribute(config, attribute))
        if text is not None:
            params[name] = text
    return params


@dataclass
class _Tracked:
    """Where one process's RLlib training is logged, and what is left to do at its end."""

    client: MlflowClient
    run_id: str
    warn: Callable[[str], None]
    params_logged: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)
    last: Any = None  # the algorithm trained last
    last_dirty: bool = False  # trained since its last checkpoint
    pending: Path | None = None  # our own save of `last`, made when it was stopped
    script_checkpoint: Path | None = None  # the script's own save of `last`, after training
    finished: bool = False
    warned: set[str] = field(default_factory=set)

    def warn_once(self, what: str, message: str) -> None:
        if what not in self.warned:
            self.warned.add(what)
            self.warn(message)


class RllibLogger:
    """The state behind the wrapped methods; one per process (see `install`)."""

    def __init__(self, warn: Callable[[str], None] = _default_warn) -> None:
        self.warn = warn
        self.tracked: _Tracked | None = None
        self._lock = threading.RLock()
        self._saving = False  # our own save_to_path calls are not the script's
        self._no_run = False

    # -- train() -----------------------------------------------------------------------------

    def _tracking(self) -> _Tracked | None:
        """The run to log to, fixed at the first iteration: the active run (the one the
        bootstrap created), else MLFLOW_RUN_ID as MLflow itself would use."""
        if self.tracked is not None or self._no_run:
            return self.tracked
        import mlflow
        from mlflow.tracking import MlflowClient

        active = mlflow.active_run()
        run_id = active.info.run_id if active is not None else os.environ.get("MLFLOW_RUN_ID")
        if not run_id:
            self._no_run = True
            self.warn("no active MLflow run: RLlib's training iterations are not logged")
            return None
        self.tracked = _Tracked(MlflowClient(mlflow.get_tracking_uri()), run_id, self.warn)
        atexit.register(self.finish)
        return self.tracked

    def after_train(self, algo: Any, result: Mapping[str, Any]) -> None:
        with self._lock:
            tracked = self._tracking()
            if tracked is None:
                return
            if tracked.last is not algo:
                self._drop_pending(tracked)
            tracked.last, tracked.last_dirty, tracked.script_checkpoint = algo, True, None
            params = {}
            if algo not in tracked.params_logged:
                tracked.params_logged.add(algo)
                params = self._fresh_params(tracked, algo)
            step = result.get("training_iteration")
            log_iteration(
                tracked.client,
                tracked.run_id,
                result,
                step=int(step) if isinstance(step, numbers.Integral) else 0,
                params=params,
            )

    def _fresh_params(self, tracked: _Tracked, algo: Any) -> dict[str, str]:
        """Config params not yet on the run. MLflow refuses to change a param's value, and the
        script (its argparse `--lr`, its own log_param) may have logged one first: that value
        stays, and this one is left out with a warning if they differ."""
        wanted = config_params(algo.config, type(algo).__name__)
        existing = call_with_retry(lambda: tracked.client.get_run(tracked.run_id)).data.params
        for name in sorted(k for k in wanted if k in existing and existing[k] != wanted[k]):
            tracked.warn_once(
                f"param {name}",
                f"RLlib's {name}={wanted[name]} is not logged: the run already has "
                f"{name}={existing[name]}",
            )
        return {k: v for k, v in wanted.items() if k not in existing}

    # -- save_to_path() and stop() ----------------------------------------------------------

    def after_save(self, algo: Any, path: Any) -> None:
        """The script saved a checkpoint itself: if that is the final state, log it instead of
        saving another (only a local folder can be logged; a cloud URI is left alone)."""
        with self._lock:
            tracked = self.tracked
            if self._saving or tracked is None or tracked.last is not algo:
                return
            folder = Path(str(path))
            if folder.is_dir():
                self._drop_pending(tracked)
                tracked.last_dirty, tracked.script_checkpoint = False, folder

    def before_stop(self, algo: Any) -> None:
        with self._lock:
            tracked = self.tracked
            if tracked is not None and tracked.last is algo and tracked.last_dirty:
                self._save_final(tracked)

    def _save_final(self, tracked: _Tracked) -> None:
        folder = Path(tempfile.mkdtemp(prefix="mlworkbench-rllib-checkpoint-"))
        self._saving = True
        try:
            tracked.last.save_to_path(str(folder))
        except Exception as error:
            shutil.rmtree(folder, ignore_errors=True)
            tracked.warn_once("save", f"the final RLlib checkpoint could not be saved: {error}")
            return
        finally:
            self._saving = False
        self._drop_pending(tracked)
        tracked.pending, tracked.last_dirty = folder, False

    @staticmethod
    def _drop_pending(tracked: _Tracked) -> None:
        if tracked.pending is not None:
            shutil.rmtree(tracked.pending, ignore_errors=True)
            tracked.pending = None

    # -- exit --------------------------------------------------------------------------------

    def finish(self) -> None:
        """At exit: log the last trained algorithm's final checkpoint as `checkpoint/`, unless
        the run already has one (the script logged its own)."""
        with self._lock:
            tracked = self.tracked
            if tracked is None or tracked.finished or tracked.last is None:
                return
            tracked.finished = True
            try:
                if tracked.last_dirty:
                    self._save_final(tracked)  # trained but never stopped
                folder = tracked.pending or tracked.script_checkpoint
                if folder is None:
                    return
                client, run_id = tracked.client, tracked.run_id
                if call_with_retry(lambda: client.list_artifacts(run_id, CHECKPOINT_ARTIFACT)):
                    return
                call_with_retry(
                    lambda: client.log_artifacts(run_id, str(folder), CHECKPOINT_ARTIFACT)
                )
            except Exception as error:
                self.warn(f"the final RLlib checkpoint was not logged: {error}")
            finally:
                self._drop_pending(tracked)
                tracked.last = None  # let the algorithm go


def log_iteration(
    client: MlflowClient,
    run_id: str,
    result: Mapping[str, Any],
    *,
    step: int,
    params: Mapping[str, str] | None = None,
) -> int:
    """One `log_batch` with an iteration's metrics (and params, if any); returns how many
    metrics it logged."""
    from mlflow.entities import Metric, Param

    timestamp = int(time.time() * 1000)
    metrics = [
        Metric(name, value, timestamp, step) for name, value in iteration_metrics(result).items()
    ]
    param_list = [Param(name, value) for name, value in (params or {}).items()]
    if metrics or param_list:
        call_with_retry(
            functools.partial(client.log_batch, run_id, metrics=metrics, params=param_list)
        )
    return len(metrics)


_PATCHED = "_mlworkbench_rllib_logging"


def install(module: ModuleType, warn: Callable[[str], None] = _default_warn) -> RllibLogger:
    """Wrap `module.Algorithm` (module: `ray.rllib.algorithms.algorithm`); idempotent."""
    algorithm = module.Algorithm
    existing = getattr(algorithm, _PATCHED, None)
    if isinstance(existing, RllibLogger):
        return existing
    logger = RllibLogger(warn)
    original_train = algorithm.train
    original_stop = algorithm.stop
    original_save = algorithm.save_to_path

    @functools.wraps(original_train)
    def train(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original_train(self, *args, **kwargs)
        _guarded(logger, "metrics", logger.after_train, self, result)
        return result

    @functools.wraps(original_save)
    def save_to_path(self: Any, *args: Any, **kwargs: Any) -> Any:
        path = original_save(self, *args, **kwargs)
        _guarded(logger, "save", logger.after_save, self, path)
        return path

    @functools.wraps(original_stop)
    def stop(self: Any, *args: Any, **kwargs: Any) -> Any:
        _guarded(logger, "stop", logger.before_stop, self)
        return original_stop(self, *args, **kwargs)

    algorithm.train = train
    algorithm.save_to_path = save_to_path
    algorithm.stop = stop
    setattr(algorithm, _PATCHED, logger)
    return logger


def _guarded(logger: RllibLogger, what: str, step: Callable[..., None], *args: Any) -> None:
    try:
        step(*args)
    except Exception as error:
        tracked = logger.tracked
        message = f"RLlib {what} logging failed: {type(error).__name__}: {error}"
        if tracked is not None:
            tracked.warn_once(what, message)
        else:
            logger.warn(message)
