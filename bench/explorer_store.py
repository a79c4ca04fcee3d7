"""The run explorer benchmark's store: 10,000 runs plus a few long histories, made once.

Creating ten thousand runs through MLflow takes minutes, so the store is built once and reused
from a PRIVATE per-user cache (`$XDG_CACHE_HOME/mlworkbench-bench/explorer/`, by default
`~/.cache/...`, folders 0700 and owned by this user), never a fixed shared /tmp name another
user could pre-create or swap. The `complete` marker records the size and SHA-256 of `mlflow.db`;
a store whose bytes no longer match (tampered, truncated, half-written) is rebuilt, never trusted.
It is written through MLflow's own client
(one create_run with tags, one log_batch, one set_terminated per run) so it is exactly what a
real workspace would hold. The quick mode's small store is built by `build_store` into a fresh
private folder instead, and thrown away.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import stat
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
        explorer = bench_cache_root() / "explorer"
        explorer.mkdir(mode=0o700, exist_ok=True)
        return explorer / name


class UnsafeCacheError(RuntimeError):
    """The bench cache folder exists but is not private to this user: refuse to use it."""


def bench_cache_root() -> Path:
    """This user's private bench cache, created 0700 and checked (owner, no group/other bits).

    Why: a store cached under a fixed /tmp name could be pre-created or replaced by another
    user on a shared machine, and the benchmark would then time (and trust) their data.
    """
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    root = base / "mlworkbench-bench"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = root.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise UnsafeCacheError(
            f"{root} must be a folder owned by you with mode 0700 (chmod 700 it or remove it)"
        )
    return root


def _fingerprint(database: Path) -> dict[str, object]:
    digest = hashlib.sha256()
    with database.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return {"size": database.stat().st_size, "sha256": digest.hexdigest()}


def cached_store_valid(workspace: Path) -> bool:
    """Whether `workspace` holds a finished store whose `mlflow.db` has its recorded bytes."""
    database = workspace / "mlflow.db"
    try:
        recorded = json.loads((workspace / "complete").read_text())
        return isinstance(recorded, dict) and recorded.get("fingerprint") == _fingerprint(database)
    except (OSError, ValueError):
        return False


def ensure_store(spec: StoreSpec) -> Path:
    """The workspace folder holding `mlflow.db` for `spec`, built now if not cached yet.

    A cached store is reused only if its marker's fingerprint matches the database's bytes;
    anything else (no marker, an old-style marker, edited or truncated database) is rebuilt.
    """
    workspace = spec.folder
    if cached_store_valid(workspace):
        return workspace
    # Built in a fresh sibling folder, then renamed into place: a half-written build never
    # sits at `workspace`, and the new database has a new path, so no SQLAlchemy engine that
    # MLflow cached for the old (deleted) file is reused by this process.
    building = Path(tempfile.mkdtemp(prefix=f".{workspace.name}-", dir=workspace.parent))
    started = time.perf_counter()
    build_store(spec, building, final=workspace)
    marker = {
        "build_s": round(time.perf_counter() - started, 1),
        "fingerprint": _fingerprint(building / "mlflow.db"),
    }
    (building / "complete").write_text(json.dumps(marker) + "\n")
    shutil.rmtree(workspace, ignore_errors=True)
    building.rename(workspace)
    return workspace


def build_store(spec: StoreSpec, workspace: Path, final: Path | None = None) -> None:
    """Write `spec`'s runs into a new `mlflow.db` in the existing folder `workspace`.

    `final` is where the folder will be renamed to afterwards (artifact locations point there).
    """
    os.environ.update(ENV)
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    artifacts = ((final or workspace) / "mlruns").as_uri()
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
