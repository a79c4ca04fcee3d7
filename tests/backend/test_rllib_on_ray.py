"""RLlib on the workbench's local Ray cluster, as `Run on…` sends it (slow: a cluster, a
tracking server and a real PPO job on CartPole).

The demo script (`demo/train_cartpole_ppo.py`) is sent unchanged as a Ray job; inside it RLlib
joins the job's cluster, each `Algorithm.train()` iteration is logged to the workspace's
tracking server and the final checkpoint lands in the server's artifacts, which the explorer
then lists from the workspace (`mlartifacts/`). The local-process version of this run is in
`test_rllib_logging.py`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mlworkbench.compute import ray_cluster, ray_jobs
from mlworkbench.compute.ray_tracking import tracking_for_ray
from mlworkbench.tracking import tracking_server
from mlworkbench.tracking.tracking_token import MLFLOW_AUTH_ENV, TOKEN_ENV, TOKEN_URI_ENV

if TYPE_CHECKING:
    from ray_cluster_support import SharedCluster

pytest_plugins = ["ray_cluster_support"]
pytestmark = pytest.mark.slow

DEMO = Path(__file__).resolve().parents[2] / "demo" / "train_cartpole_ppo.py"
# What the admission of the token and the job change in this process.
TOUCHED_ENV = (TOKEN_ENV, TOKEN_URI_ENV, MLFLOW_AUTH_ENV)


@pytest.fixture(scope="module")
def on_cluster(shared_ray_cluster: SharedCluster) -> Iterator[dict[str, object]]:
    """The session's cluster (`ray_cluster_support`) and this module's workspace server."""
    saved = {name: os.environ.get(name) for name in TOUCHED_ENV}
    folder = Path(tempfile.mkdtemp(prefix="mlwb-rllib-ray-"))
    workspace = folder / "ws"
    workspace.mkdir()
    shutil.copy(DEMO, workspace / DEMO.name)
    try:
        with shared_ray_cluster.state():
            uri, env = tracking_for_ray(workspace, None, start=True)  # as the editor does
            try:
                yield {
                    "info": shared_ray_cluster.info,
                    "uri": uri,
                    "env": env,
                    "workspace": workspace,
                }
            finally:
                tracking_server.stop_server(workspace)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(folder, ignore_errors=True)


def test_ppo_on_the_cluster_logs_every_iteration_and_its_checkpoint(
    on_cluster: dict[str, object],
) -> None:
    from mlflow.tracking import MlflowClient

    from mlworkbench.explorer.run_details import list_artifacts

    info, workspace = on_cluster["info"], on_cluster["workspace"]
    assert isinstance(info, ray_cluster.ClusterInfo) and isinstance(workspace, Path)
    env = on_cluster["env"]
    assert isinstance(env, dict)
    uri = str(on_cluster["uri"])
    handle = ray_jobs.submit_run(
        info.address,
        workspace / DEMO.name,
        ["--iterations", "2", "--train-batch-size", "200"],
        workspace=workspace,
        tracking_uri=uri,
        experiment="rllib-on-ray",
        run_name="ppo",
        env=env,
    )
    lines: list[str] = []
    result = handle.wait(on_output=lines.append)
    output = "".join(lines)
    assert (result.status, result.job_status) == ("FINISHED", "SUCCEEDED"), output[-3000:]

    client = MlflowClient(uri)
    run = client.get_run(handle.run_id)
    assert run.data.tags["mlworkbench.compute_target"] == "ray"
    assert run.data.params["iterations"] == "2"  # the script's own argparse value
    history = client.get_metric_history(handle.run_id, "env_runners/episode_return_mean")
    assert sorted(m.step for m in history) == [1, 2]  # one point per training iteration
    steps = client.get_metric_history(handle.run_id, "num_env_steps_sampled_lifetime")
    assert [m.value for m in sorted(steps, key=lambda m: m.step)] == [200.0, 400.0]
    assert any(key.startswith("learners/") for key in run.data.metrics)

    # The checkpoint, stored by the server, listed from the workspace as the Runs view lists it.
    top = {entry.path for entry in list_artifacts(workspace, handle.run_id)}
    assert "checkpoint" in top, top
    inside = {entry.path for entry in list_artifacts(workspace, handle.run_id, "checkpoint")}
    assert "checkpoint/rllib_checkpoint.json" in inside, inside
