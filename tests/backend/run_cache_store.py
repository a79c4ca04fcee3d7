"""A few hundred varied runs in a real MLflow sqlite store, for the run cache's identity tests.

Missing metrics, params and tags; NaN and +/-inf; names with quotes, `%` and `_`; start-time
ties; every status; deleted runs and a deleted experiment: the corners where a Python copy of
MLflow's search could drift from MLflow itself.
"""

from __future__ import annotations

import math
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

NAMES = ["it's", 'say "hi"', "50%_off", "50x_off", "a_b", "aXb", "Café", "café", "RUN", "run"]
ALPHAS = ["0.1", "0.10", "1", "x%y", "A", "a", "", "it's"]
TEAMS = ["red", "Red", "blue", "green", "r_d"]
STATUSES = ["FINISHED", "FINISHED", "FAILED", "KILLED", "RUNNING"]
SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -0.0, 0.5, 1e-9]


@dataclass
class VariedStore:
    uri: str
    client: MlflowClient
    active: list[str]  # active experiment ids
    deleted_experiment: str
    run_ids: list[str]


def build_varied_store(
    folder: Path, runs: int = 240, seed: int = 7, uri: str | None = None
) -> VariedStore:
    """The store in `folder`'s mlflow.db, or at `uri` (an empty PostgreSQL database)."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    uri = uri or f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(uri)
    artifacts = (folder / "mlruns").as_uri()
    experiments = [
        client.create_experiment(name, artifact_location=artifacts)
        for name in ("alpha", "beta", "gone")
    ]
    rng = random.Random(seed)
    run_ids = []
    for i in range(runs):
        experiment = experiments[i % 3]
        start = 1_000_000 + rng.randrange(60) * 1_000  # many runs share a start time
        name = rng.choice(NAMES) + ("" if i % 4 else f"-{i}")
        tags = {} if i % 5 == 0 else {"team": rng.choice(TEAMS)}
        if i % 3 == 1:
            tags["mlworkbench.script"] = f"/ws/train_{i % 4}.py"
        run = client.create_run(experiment, start_time=start, tags=tags, run_name=name)
        run_id = run.info.run_id
        run_ids.append(run_id)
        metrics = []
        if i % 6:
            value = rng.choice(SPECIAL) if i % 7 == 0 else round(rng.random(), 2)
            metrics.append(Metric("m", value, start, 0))
        if i % 4:
            metrics.append(Metric("loss", float(rng.randrange(5)), start, 0))
        params = [] if i % 8 == 0 else [Param("alpha", rng.choice(ALPHAS))]
        if i % 2:
            params.append(Param("depth", str(rng.randrange(1, 12))))
        extra = [RunTag("note", "50% done")] if i % 11 == 0 else []
        client.log_batch(run_id, metrics=metrics, params=params, tags=extra)
        status = STATUSES[i % len(STATUSES)]
        if status != "RUNNING":
            client.set_terminated(run_id, status, end_time=start + rng.randrange(1, 5) * 100)
        if i % 37 == 5:
            client.delete_run(run_id)
    client.delete_experiment(experiments[2])
    return VariedStore(uri, client, experiments[:2], experiments[2], run_ids)


def copy_store(store: VariedStore, folder: Path) -> VariedStore:
    """The same store in another folder (building one costs seconds, copying it nothing)."""
    from mlflow.tracking import MlflowClient

    shutil.copy(store.uri.removeprefix("sqlite:///"), folder / "mlflow.db")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    return VariedStore(
        uri, MlflowClient(uri), store.active, store.deleted_experiment, store.run_ids
    )
