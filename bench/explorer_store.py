"""The run explorer benchmark's store: 10,000 runs plus a few long histories, made once.

Creating ten thousand runs through MLflow takes minutes, so the store is built in a folder
under /tmp named after its parameters and reused; it is written through MLflow's own client
(one create_run with tags, one log_batch, one set_terminated per run) so it is exactly what a
real workspace would hold. The quick mode's small store is built by `build_store` into a fresh
private folder instead, and thrown away.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
BENCH_EXPERIMENT = "bench"
HISTORY_EXPERIMENT = "bench-history"


@dataclass(frozen=True)
class StoreSpec:
    runs: int = 10_000
    history_runs: int = 10
    steps: int = 1_000
    history_metrics: int = 3

    @property
    def folder(self) -> Path:
        name = f"{self.runs}r-{self.history_runs}h-{self.steps}s-{self.history_metrics}m"
        return Path(tempfile.gettempdir()) / "mlworkbench-bench-explorer" / name


def ensure_store(spec: StoreSpec) -> Path:
    """The workspace folder holding `mlflow.db` for `spec`, built now if not cached yet."""
    workspace = spec.folder
    if (workspace / "complete").exists():
        return workspace
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir(parents=True)
    started = time.perf_counter()
    build_store(spec, workspace)
    (workspace / "complete").write_text(f"{time.perf_counter() - started:.1f} s\n")
    return workspace


def build_store(spec: StoreSpec, workspace: Path) -> None:
    """Write `spec`'s runs into a new `mlflow.db` in the existing folder `workspace`."""
    os.environ.update(ENV)
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    artifacts = (workspace / "mlruns").as_uri()
    experiment = client.create_experiment(BENCH_EXPERIMENT, artifact_location=artifacts)
    rng = random.Random(0)
    base = 1_700_000_000_000
    for i in range(spec.runs):
        start = base + i * 1_000
        tags = {"t0": f"team-{i % 7}", "t1": f"stage-{i % 3}", "t2": rng.choice("abcde")}
        run = client.create_run(experiment, start_time=start, tags=tags, run_name=f"run-{i}")
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(f"m{k}", rng.random(), start, 0) for k in range(5)],
            params=[Param(f"p{k}", str(rng.randint(0, 20))) for k in range(5)],
        )
        client.set_terminated(run_id, "FINISHED", end_time=start + 500)
    history = client.create_experiment(HISTORY_EXPERIMENT, artifact_location=artifacts)
    for i in range(spec.history_runs):
        run_id = client.create_run(history, run_name=f"history-{i}").info.run_id
        points = [
            Metric(f"h{k}", rng.random() / (step + 1), 1_700_000_000_000 + step, step)
            for k in range(spec.history_metrics)
            for step in range(spec.steps)
        ]
        for chunk in range(0, len(points), 1000):  # MLflow's per-batch metric limit
            client.log_batch(run_id, metrics=points[chunk : chunk + 1000])
        client.set_terminated(run_id, "FINISHED")


if __name__ == "__main__":
    print(ensure_store(StoreSpec()))
