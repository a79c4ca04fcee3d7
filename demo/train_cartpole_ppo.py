"""Train PPO on Gymnasium's CartPole-v1 with Ray RLlib, small enough for two CPU cores.

No MLflow calls: run under the workbench, each `algo.train()` iteration's return, episode
length and timesteps are logged from outside the script, and the final checkpoint is kept as
the run's `checkpoint/` artifact. The same file runs as a Ray job: there `ray.init()` joins the
job's cluster; run plainly, it starts a private two-CPU Ray in its own temp folder (Ray's
default, /tmp/ray, is shared by every user of the machine).
"""

import argparse
import contextlib
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import ray
from ray.rllib.algorithms import Algorithm
from ray.rllib.algorithms.ppo import PPOConfig
from ray.train.constants import DEFAULT_STORAGE_PATH

# Ray puts Unix sockets under its temp folder (`<temp>/session_<date>_<pid>/sockets/...`);
# a socket path over ~107 bytes cannot be bound, so a long TMPDIR falls back to /tmp.
_MAX_TEMP_BASE = 48


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=5, help="training iterations")
    parser.add_argument("--lr", type=float, default=3e-4, help="learning rate")
    parser.add_argument(
        "--train-batch-size", type=int, default=400, help="environment steps per iteration"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    return parser.parse_args()


def start_ray() -> Path | None:
    """Join the cluster when submitted as a Ray job, else start a private local Ray.

    Returns the private temp folder to remove afterwards, or None when joining a cluster.
    """
    if ray.is_initialized():
        return None
    if os.environ.get("RAY_ADDRESS"):  # set by Ray's job supervisor for the entrypoint
        ray.init()
        return None
    base = tempfile.gettempdir()
    if len(base) > _MAX_TEMP_BASE:
        base = "/tmp"
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir=base))
    _private_auth_token(temp)
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(temp))
    return temp


def _private_auth_token(temp: Path) -> None:
    """Keep Ray's token authentication on, with the token in the private folder.

    Ray 2.60 turns token authentication on for a new local cluster and, unless told where a
    token is, writes one to ~/.ray/auth_token: outside this run's folders, and shared with
    every later Ray of this user. A token the user set up is left alone.
    """
    if any(
        os.environ.get(name) for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
    ):
        return
    token = temp / "auth_token"
    descriptor = os.open(token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_hex(32))
    os.environ["RAY_AUTH_TOKEN_PATH"] = str(token)  # the path, never the token itself


def remove_empty_results_folder(algo: Algorithm, results_existed: bool) -> None:
    """Ray's Trainable makes an (unused, empty) ~/ray_results/<date> folder for every
    Algorithm, with no public setting to move it; remove what it made here if still empty."""
    with contextlib.suppress(OSError):
        Path(algo.logdir).rmdir()
        if not results_existed:
            Path(DEFAULT_STORAGE_PATH).rmdir()


def main() -> None:
    args = parse_args()
    temp = start_ray()
    try:
        config = (
            PPOConfig()
            .environment("CartPole-v1")
            .env_runners(num_env_runners=0)
            .training(lr=args.lr, train_batch_size_per_learner=args.train_batch_size)
            .debugging(seed=args.seed)
        )
        results_existed = Path(DEFAULT_STORAGE_PATH).exists()
        algo = config.build_algo()
        try:
            for _ in range(args.iterations):
                result = algo.train()
                runners = result["env_runners"]
                print(
                    f"iteration {result['training_iteration']}"
                    f" return {runners.get('episode_return_mean', float('nan')):.2f}"
                    f" length {runners.get('episode_len_mean', float('nan')):.1f}"
                    f" timesteps {result['num_env_steps_sampled_lifetime']}",
                    flush=True,
                )
        finally:
            algo.stop()
            remove_empty_results_folder(algo, results_existed)
    finally:
        if temp is not None:
            ray.shutdown()
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
