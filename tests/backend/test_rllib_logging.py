"""Ray RLlib training logged to the run: a real PPO run on CartPole through the launcher, and the
choice of metrics and params on a real RLlib result."""

from __future__ import annotations

import atexit
import json
import math
import shutil
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from scripts.run_support import artifact_paths, artifact_text, client_for, make_workspace

from mlworkbench.launch.child import autolog
from mlworkbench.launch.child.rllib_logging import (
    KEY_METRICS,
    MAX_METRICS_PER_BATCH,
    RllibLogger,
    config_params,
    install,
    iteration_metrics,
    log_iteration,
)

DEMO = Path(__file__).resolve().parents[2] / "demo" / "train_cartpole_ppo.py"
# A real `Algorithm.train()` result of PPO on CartPole (RLlib 2.60, new API stack), the config
# part trimmed; numpy ints written as ints.
RESULT = json.loads((Path(__file__).parent / "data" / "rllib_ppo_result.json").read_text())


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_workspace(tmp_path, monkeypatch)


# -- which metrics an iteration logs -------------------------------------------------------------


def test_key_metrics_come_first_under_rllib_new_stack_names() -> None:
    metrics = iteration_metrics(RESULT)
    assert list(metrics)[:3] == list(KEY_METRICS)
    assert metrics["env_runners/episode_return_mean"] == pytest.approx(30.46153846153846)
    assert metrics["env_runners/episode_len_mean"] == pytest.approx(30.53846153846154)
    assert metrics["num_env_steps_sampled_lifetime"] == 800.0


def test_learner_stats_are_flattened_with_slashes_and_bookkeeping_is_left_out() -> None:
    metrics = iteration_metrics(RESULT)
    for name in (
        "learners/default_policy/total_loss",
        "learners/default_policy/policy_loss",
        "learners/default_policy/vf_loss",
        "learners/default_policy/entropy",
        "learners/default_policy/mean_kl_loss",
        "learners/__all_modules__/num_env_steps_trained_lifetime",
        "env_runners/episode_return_max",
        "env_runners/num_episodes",
        "time_this_iter_s",
    ):
        assert name in metrics, name
    assert metrics["learners/default_policy/num_module_steps_trained"] == 12544.0  # numpy int
    for name in metrics:
        assert not name.startswith(("config/", "timers/", "fault_tolerance/")), name
        assert "connector" not in name and "throughput" not in name, name
    for left_out in ("training_iteration", "done", "timestamp", "pid", "date", "trial_id"):
        assert left_out not in metrics
    # A sensible set, not every number RLlib reports.
    assert 30 <= len(metrics) <= 80
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())


def test_non_finite_and_non_scalar_values_are_skipped() -> None:
    result: dict[str, Any] = {
        "nan": float("nan"),
        "inf": float("inf"),
        "minus_inf": -math.inf,
        "flag": True,
        "text": "3.0",
        "values": [1.0, 2.0],
        "vector": np.array([1.0, 2.0]),
        "nan_array": np.array(np.nan),
        "none": None,
        "zero_d": np.array(2.5),
        "np_int": np.int64(7),
        "np_float": np.float32(0.5),
        "nested": {"ok": 1, "bad": float("nan"), "agent:1": 2.0, "": 3.0},
    }
    assert iteration_metrics(result) == {
        "zero_d": 2.5,
        "np_int": 7.0,
        "np_float": 0.5,
        "nested/ok": 1.0,
        "nested/agent_1": 2.0,  # a character MLflow refuses in a metric name
    }
    # The real result's NaN parameter counts are skipped, not logged as NaN.
    assert "learners/__all_modules__/num_trainable_parameters" not in iteration_metrics(RESULT)


def test_a_huge_result_keeps_the_key_metrics_within_one_batch() -> None:
    result: dict[str, Any] = {"learners": {f"module_{i}": {"loss": 1.0} for i in range(1500)}}
    result.update({"num_env_steps_sampled_lifetime": 5.0})
    result["env_runners"] = {"episode_return_mean": 1.0, "episode_len_mean": 2.0}
    metrics = iteration_metrics(result)
    assert len(metrics) == MAX_METRICS_PER_BATCH
    assert list(metrics)[:3] == list(KEY_METRICS)


# -- params --------------------------------------------------------------------------------------


class _Config:
    """The attributes `config_params` reads, as an AlgorithmConfig has them."""

    env = "CartPole-v1"
    framework_str = "torch"
    lr = 0.0003
    gamma = 0.99
    train_batch_size_per_learner = 400
    num_env_runners = 0
    lambda_ = 1.0
    use_kl_loss = True
    grad_clip = None  # not set: not a param
    seed = None

    @property
    def minibatch_size(self) -> int:
        raise ValueError("cannot be computed for this config")


def test_config_params_are_a_small_scalar_subset_with_the_algorithm_name() -> None:
    config = _Config()
    config.num_epochs = [(0, 30)]  # type: ignore[attr-defined]  # a schedule: not a scalar
    assert config_params(config, "PPO") == {
        "algorithm": "PPO",
        "env": "CartPole-v1",
        "framework": "torch",
        "lr": "0.0003",
        "gamma": "0.99",
        "train_batch_size_per_learner": "400",
        "num_env_runners": "0",
        "lambda": "1.0",
        "use_kl_loss": "True",
    }


def test_an_env_given_as_a_class_is_logged_by_name() -> None:
    class MyEnv:
        pass

    config = _Config()
    config.env = MyEnv  # type: ignore[assignment]
    assert config_params(config, "PPO")["env"] == "MyEnv"


# -- one log_batch per iteration, in a real store ------------------------------------------------


def test_an_iteration_is_one_log_batch_at_its_step(workspace: Path) -> None:
    client = client_for(workspace)
    run = client.create_run("0")
    batches: list[int] = []
    real_log_batch = client.log_batch

    def counting_log_batch(*args: Any, **kwargs: Any) -> Any:
        batches.append(len(kwargs.get("metrics", [])))
        return real_log_batch(*args, **kwargs)

    client.log_batch = counting_log_batch
    logged = log_iteration(client, run.info.run_id, RESULT, step=2, params={"algorithm": "PPO"})

    assert batches == [logged] and logged == len(iteration_metrics(RESULT))
    history = client.get_metric_history(run.info.run_id, "env_runners/episode_return_mean")
    assert [(m.step, m.value) for m in history] == [(2, pytest.approx(30.46153846153846))]
    assert client.get_run(run.info.run_id).data.params == {"algorithm": "PPO"}


# -- the wrapped Algorithm: checkpoint once, never twice -----------------------------------------


def _stand_in_rllib() -> ModuleType:
    """A module like `ray.rllib.algorithms.algorithm` whose `Algorithm` has RLlib's train /
    save_to_path / stop contract, for the bookkeeping of which checkpoint to log. The real
    Algorithm costs a Ray start per case; the slow test below runs it once, end to end."""

    class Algorithm:
        def __init__(self, name: str) -> None:
            self.config = _Config()
            self.name = name
            self.iteration = 0
            self.saves = 0
            self.stopped = False

        def train(self) -> dict[str, Any]:
            assert not self.stopped
            self.iteration += 1
            return {
                "training_iteration": self.iteration,
                "num_env_steps_sampled_lifetime": 400.0 * self.iteration,
                "env_runners": {"episode_return_mean": 10.0 * self.iteration},
            }

        def save_to_path(self, path: str) -> str:
            assert not self.stopped, "a stopped algorithm has nothing to save"
            self.saves += 1
            Path(path).mkdir(parents=True, exist_ok=True)
            state = {"name": self.name, "iteration": self.iteration}
            (Path(path) / "rllib_checkpoint.json").write_text(json.dumps(state))
            return path

        def stop(self) -> None:
            self.stopped = True

    module = ModuleType("stand_in_algorithm")
    module.Algorithm = Algorithm  # type: ignore[attr-defined]
    return module


@pytest.fixture
def active_run(workspace: Path) -> Iterator[str]:
    import mlflow
    from scripts.run_support import tracking_uri

    mlflow.set_tracking_uri(tracking_uri(workspace))
    with mlflow.start_run() as run:
        yield run.info.run_id


def _logged_checkpoint(workspace: Path, run_id: str) -> dict[str, Any]:
    assert artifact_paths(workspace, run_id, "checkpoint") == ["checkpoint/rllib_checkpoint.json"]
    return dict(json.loads(artifact_text(workspace, run_id, "checkpoint/rllib_checkpoint.json")))


def test_an_algorithm_never_stopped_is_saved_at_exit(workspace: Path, active_run: str) -> None:
    module = _stand_in_rllib()
    logger = install(module, warn=pytest.fail)
    assert install(module) is logger  # idempotent: a second hook call wraps nothing twice
    algo = module.Algorithm("a")
    algo.train()
    algo.train()
    logger.finish()

    assert _logged_checkpoint(workspace, active_run) == {"name": "a", "iteration": 2}
    client = client_for(workspace)
    steps = client.get_metric_history(active_run, "num_env_steps_sampled_lifetime")
    assert sorted((m.step, m.value) for m in steps) == [(1, 400.0), (2, 800.0)]
    assert client.get_run(active_run).data.params["algorithm"] == "Algorithm"


def test_the_final_state_is_saved_before_stop_and_the_last_algorithm_wins(
    workspace: Path, active_run: str
) -> None:
    module = _stand_in_rllib()
    logger = install(module, warn=pytest.fail)
    first, second = module.Algorithm("first"), module.Algorithm("second")
    first.train()
    first.stop()
    second.train()
    second.train()
    second.stop()
    logger.finish()
    assert _logged_checkpoint(workspace, active_run) == {"name": "second", "iteration": 2}


def test_a_checkpoint_the_script_saved_is_logged_instead_of_a_second_save(
    workspace: Path, active_run: str, tmp_path: Path
) -> None:
    module = _stand_in_rllib()
    logger = install(module, warn=pytest.fail)
    algo = module.Algorithm("a")
    algo.train()
    algo.save_to_path(str(tmp_path / "mine"))
    algo.stop()
    logger.finish()
    assert algo.saves == 1
    assert _logged_checkpoint(workspace, active_run) == {"name": "a", "iteration": 1}


def test_a_checkpoint_the_script_logged_itself_is_left_alone(
    workspace: Path, active_run: str, tmp_path: Path
) -> None:
    import mlflow

    module = _stand_in_rllib()
    logger = install(module, warn=pytest.fail)
    algo = module.Algorithm("a")
    algo.train()
    own = tmp_path / "own"
    own.mkdir()
    (own / "rllib_checkpoint.json").write_text(json.dumps({"name": "script's own"}))
    mlflow.log_artifacts(str(own), "checkpoint")
    algo.stop()
    logger.finish()
    assert _logged_checkpoint(workspace, active_run) == {"name": "script's own"}


def test_a_logging_failure_is_warned_once_and_training_goes_on(
    workspace: Path, active_run: str
) -> None:
    module = _stand_in_rllib()
    warnings: list[str] = []
    logger: RllibLogger = install(module, warn=warnings.append)
    algo = module.Algorithm("a")
    algo.train()
    assert logger.tracked is not None
    logger.tracked.run_id = "0" * 32  # a run the store does not have
    results = [algo.train(), algo.train()]
    assert [r["training_iteration"] for r in results] == [2, 3]
    assert len(warnings) == 1 and "RLlib metrics logging failed" in warnings[0]
    atexit.unregister(logger.finish)  # its exit handler would log to that run at pytest's exit


# -- hook registration ---------------------------------------------------------------------------


def test_the_rllib_hook_is_registered_only_for_rllib_scripts() -> None:
    assert autolog.autolog_hooks(["rllib"]) == {
        "ray.rllib.algorithms.algorithm": autolog._enable_rllib
    }
    for frameworks in ([], ["sklearn"], ["pytorch"], ["xgboost"]):
        assert "ray.rllib.algorithms.algorithm" not in autolog.autolog_hooks(frameworks)
    assert "sklearn" in autolog.autolog_hooks(["sklearn", "rllib"])


# -- a real PPO run through the launcher ---------------------------------------------------------


@pytest.mark.slow
def test_ppo_on_cartpole_logs_each_iteration_params_and_its_final_checkpoint(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """About 30 s on two cores: Ray starts, PPO trains two iterations of 400 steps."""
    from mlworkbench.launch.launcher import start_run

    home = tmp_path / "home"  # where Ray would leave ~/ray_results and ~/.ray/auth_token
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    script = workspace / DEMO.name
    shutil.copyfile(DEMO, script)

    handle = start_run(script, ["--iterations", "2"], workspace=workspace)
    result = handle.wait()

    assert result.status == "FINISHED", result.error_tail
    client = client_for(workspace)
    run_id = handle.run_id
    run = client.get_run(run_id)
    assert run.data.tags["mlworkbench.frameworks"] == "rllib"

    def history(name: str) -> list[tuple[int, float]]:
        return sorted((m.step, m.value) for m in client.get_metric_history(run_id, name))

    timesteps = history("num_env_steps_sampled_lifetime")
    assert timesteps == [(1, 400.0), (2, 800.0)]  # --train-batch-size 400 per iteration
    returns = history("env_runners/episode_return_mean")
    assert [step for step, _ in returns] == [1, 2]
    assert [step for step, _ in history("env_runners/episode_len_mean")] == [1, 2]
    assert [step for step, _ in history("learners/default_policy/total_loss")] == [1, 2]
    log = artifact_text(workspace, run_id, "mlworkbench/output.log")
    for step, value in returns:  # the values the script printed
        assert f"iteration {step} return {value:.2f}" in log

    params = run.data.params
    assert {k: params[k] for k in ("algorithm", "env", "framework", "num_env_runners")} == {
        "algorithm": "PPO",
        "env": "CartPole-v1",
        "framework": "torch",
        "num_env_runners": "0",
    }
    assert params["train_batch_size_per_learner"] == "400"
    assert params["lr"] == "0.0003" and params["gamma"] == "0.99"
    assert params["iterations"] == "2"  # the script's argparse, captured by the bootstrap
    assert len(params) < 40

    files = {p for p in artifact_paths(workspace, run_id) if p.startswith("checkpoint/")}
    for name in ("rllib_checkpoint.json", "algorithm_state.pkl", "class_and_ctor_args.pkl"):
        assert f"checkpoint/{name}" in files
    assert any(p.startswith("checkpoint/learner_group/") for p in files)
    # What RLlib reads to restore (`get_checkpoint_info`): its metadata and the files it names.
    # Restoring for real would start Ray and import RLlib here, 20-30 s more on this machine.
    checkpoint = Path(client.download_artifacts(run_id, "checkpoint", str(tmp_path / "dl")))
    metadata = json.loads((checkpoint / "rllib_checkpoint.json").read_text())
    assert metadata["ray_version"] == version("ray")
    assert metadata["checkpoint_version"]
    assert (checkpoint / f"{metadata['state_file']}.pkl").is_file()  # cloudpickle, not msgpack
    assert (checkpoint / metadata["class_and_ctor_args_file"]).is_file()

    assert "Traceback" not in log and "[mlworkbench]" not in log  # no logging failure warned
    # Nothing of Ray's left in HOME (TensorFlow, which RLlib imports when installed, may add
    # its ~/.keras; that is not Ray's doing).
    assert not (home / "ray_results").exists() and not (home / ".ray").exists()
