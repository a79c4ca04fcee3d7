"""The run explorer benchmark's store: 10,000 runs plus a few long histories, made once.

Creating ten thousand runs through MLflow takes minutes, so the store is built once and reused
from a PRIVATE per-user cache (`$XDG_CACHE_HOME/mlworkbench-bench/explorer/`, by default
`~/.cache/...`, folders 0700 and owned by this user), never a fixed shared /tmp name another
user could pre-create or swap. The `complete` marker records the size and SHA-256 of `mlflow.db`;
a store whose bytes no longer match (tampered, truncated, half-written) is rebuilt, never trusted.
MLflow's client creates the database and
experiments; the runs are then inserted in bulk with SQL, as the rows MLflow's create_run,
log_batch and set_terminated write, and a sample is read back through `search_runs` to prove
it (100,000 runs in minutes; through the client it took hours). The quick mode's small store
is built by `build_store` into a fresh private folder instead, and thrown away.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sqlite3
import stat
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    MLflow's client creates the database (its schema, at its alembic head) and the experiments;
    the bench runs are then inserted in bulk with SQL, the rows MLflow's own create_run /
    log_batch / set_terminated would write (a store of 100,000 runs in about a minute instead
    of hours), and a sample is read back through `search_runs` and compared with what was
    meant. The long histories are logged through the client.
    """
    os.environ.update(ENV)
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    database = workspace / "mlflow.db"
    client = MlflowClient(f"sqlite:///{database}")
    artifacts = ((final or workspace) / "mlruns").as_uri()
    experiment = client.create_experiment(BENCH_EXPERIMENT, artifact_location=artifacts)
    rng = random.Random(0)
    expected = _insert_runs(database, experiment, artifacts, spec.runs, rng)
    _verify_sample(client, experiment, expected, rng)
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


@dataclass(frozen=True)
class _Meant:
    """What one bulk-inserted run should read back as through MLflow."""

    name: str
    start: int
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]


def _insert_runs(
    database: Path, experiment: str, artifacts: str, runs: int, rng: random.Random
) -> dict[str, _Meant]:
    """Insert `runs` finished runs (5 metrics, 5 params, 3 tags each) in one transaction."""
    base = 1_700_000_000_000
    meant: dict[str, _Meant] = {}
    run_rows, tag_rows, param_rows, metric_rows, latest_rows = [], [], [], [], []
    for i in range(runs):
        run_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        start, name = base + i * 1_000, f"run-{i}"
        tags = {"t0": f"team-{i % 7}", "t1": f"stage-{i % 3}", "t2": rng.choice("abcde")}
        metrics = {f"m{k}": rng.random() for k in range(5)}
        params = {f"p{k}": str(rng.randint(0, 20)) for k in range(5)}
        meant[run_id] = _Meant(name, start, metrics, params, tags)
        run_rows.append(
            (run_id, name, "UNKNOWN", "", "", "unknown", "FINISHED", start, start + 500, "",
             "active", f"{artifacts}/{run_id}/artifacts", int(experiment))
        )  # fmt: skip
        tag_rows += [(k, v, run_id) for k, v in {**tags, "mlflow.runName": name}.items()]
        param_rows += [(k, v, run_id) for k, v in params.items()]
        metric_rows += [(k, v, start, run_id, 0, 0) for k, v in metrics.items()]
        latest_rows += [(k, v, start, 0, 0, run_id) for k, v in metrics.items()]
    with sqlite3.connect(database) as connection:
        connection.executemany(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
            "artifact_uri, experiment_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            run_rows,
        )
        connection.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tag_rows)
        connection.executemany(
            "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", param_rows
        )
        connection.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            metric_rows,
        )
        connection.executemany(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            latest_rows,
        )
    connection.close()
    return meant


class StoreBuildError(RuntimeError):
    """The bulk-inserted runs do not read back through MLflow as meant: the store is unusable."""


def _verify_sample(
    client: object, experiment: str, meant: dict[str, _Meant], rng: random.Random
) -> None:
    """Read up to 50 random runs and the newest page back through `search_runs`."""
    from mlflow.tracking import MlflowClient

    assert isinstance(client, MlflowClient)
    sample = rng.sample(sorted(meant), min(50, len(meant)))
    ids = ", ".join(f"'{run_id}'" for run_id in sample)
    found = client.search_runs([experiment], f"attributes.run_id IN ({ids})", max_results=100)
    newest = client.search_runs([experiment], max_results=10)
    wanted_newest = sorted(meant, key=lambda run_id: -meant[run_id].start)[:10]
    problems = [] if len(found) == len(sample) else [f"{len(found)} of {len(sample)} found"]
    if [run.info.run_id for run in newest] != wanted_newest:
        problems.append("the newest page is not in start-time order")
    for run in found:
        want = meant[run.info.run_id]
        got = _Meant(
            run.info.run_name,
            run.info.start_time,
            dict(run.data.metrics),
            dict(run.data.params),
            {k: v for k, v in run.data.tags.items() if k != "mlflow.runName"},
        )
        if got != want or run.info.status != "FINISHED" or run.info.lifecycle_stage != "active":
            problems.append(f"run {run.info.run_id}: {got} != {want}")
    if problems:
        raise StoreBuildError("; ".join(problems[:3]))


_COPIED = {  # table: columns copied as they are (booleans converted), in this order
    "runs": (
        "run_uuid", "name", "source_type", "source_name", "entry_point_name", "user_id",
        "status", "start_time", "end_time", "source_version", "lifecycle_stage", "artifact_uri",
        "experiment_id",
    ),
    "tags": ("key", "value", "run_uuid"),
    "params": ("key", "value", "run_uuid"),
    "metrics": ("key", "value", "timestamp", "run_uuid", "step", "is_nan"),
    "latest_metrics": ("key", "value", "timestamp", "step", "is_nan", "run_uuid"),
}  # fmt: skip


def copy_to_postgres(workspace: Path, uri: str) -> float:
    """Copy the SQLite store in `workspace` (built by `ensure_store`) into the empty PostgreSQL
    database at `uri` (postgresql+psycopg://...): MLflow's client creates the schema and the
    experiments (same names and artifact locations), the rows go in with COPY, and a sample is
    read back through `search_runs` on both stores and compared. Seconds taken.

    Why a copy: the PostgreSQL figures are then measured on exactly the SQLite bench's runs.
    """
    import psycopg
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    started = time.perf_counter()
    source = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    target = MlflowClient(uri)  # creates MLflow's schema at its head
    ids: dict[int, int] = {}
    for experiment in source.search_experiments(view_type=ViewType.ALL):
        found = target.get_experiment_by_name(experiment.name)
        new_id = (
            found.experiment_id
            if found is not None
            else target.create_experiment(
                experiment.name, artifact_location=experiment.artifact_location
            )
        )
        ids[int(experiment.experiment_id)] = int(new_id)
    plain = uri.replace("postgresql+psycopg://", "postgresql://", 1)
    with sqlite3.connect(workspace / "mlflow.db") as reader, psycopg.connect(plain) as writer:
        for table, columns in _COPIED.items():
            rows = reader.execute(f"SELECT {', '.join(columns)} FROM {table}")
            nan_at = columns.index("is_nan") if "is_nan" in columns else None
            experiment_at = columns.index("experiment_id") if table == "runs" else None
            with writer.cursor() as cursor:
                names = ", ".join(f'"{c}"' for c in columns)
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        if nan_at is not None or experiment_at is not None:
                            row = list(row)
                            if nan_at is not None:
                                row[nan_at] = bool(row[nan_at])
                            if experiment_at is not None:
                                row[experiment_at] = ids[row[experiment_at]]
                        copy.write_row(row)
    reader.close()
    # As a server that has run a while holds its store: vacuumed and analyzed. Left to
    # autovacuum, that work ran during the cold starts measured next (load 2 on 2 cores) and
    # its transactions moved the snapshot the gate keeps its answers by.
    with psycopg.connect(plain, autocommit=True) as maintainer:
        maintainer.execute("VACUUM ANALYZE")
    _same_sample(source, target, ids)
    return time.perf_counter() - started


def _same_sample(source: object, target: object, ids: dict[int, int]) -> None:
    """The newest runs and a sample of random ones read the same from both stores."""
    from mlflow.tracking import MlflowClient

    assert isinstance(source, MlflowClient) and isinstance(target, MlflowClient)
    experiment = source.get_experiment_by_name(BENCH_EXPERIMENT).experiment_id
    mine = source.search_runs([experiment], max_results=100)
    theirs = target.search_runs([str(ids[int(experiment)])], max_results=100)
    picked = random.Random(1).sample([r.info.run_id for r in mine], 20)
    problems = []
    if [r.info.run_id for r in mine] != [r.info.run_id for r in theirs]:
        problems.append("the newest page differs")
    by_id = {r.info.run_id: r for r in theirs}
    for run in mine:
        other = by_id.get(run.info.run_id)
        if run.info.run_id in picked and (other is None or _data(other) != _data(run)):
            problems.append(f"run {run.info.run_id} differs")
    if problems:
        raise StoreBuildError("PostgreSQL copy: " + "; ".join(problems[:3]))


def _data(run: Any) -> tuple[object, ...]:
    info = run.info
    return (
        dict(run.data.metrics), dict(run.data.params), dict(run.data.tags), info.run_name,
        info.status, info.start_time, info.end_time, info.lifecycle_stage, info.artifact_uri,
    )  # fmt: skip


if __name__ == "__main__":
    print(ensure_store(StoreSpec()))
