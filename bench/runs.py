"""Tracking-server benchmark: 200 concurrent short runs against `mlworkbench server` on
PostgreSQL (a throw-away cluster, tests/backend/postgres_cluster.py), and the same 200 against
the same server on the workspace's SQLite store as the peer, measured in the same run.

Clients: a process pool (8 workers) of plain MLflow clients, each run doing
create_run / log_param / log_metric / set_terminated through the server's bearer token (not the
launcher: this measures the server, not Python start-up). Afterwards every run is read back.
Prints, per store: runs/s, runs lost (goal 0: all read back with their param and metric),
failures (goal 0), and the PostgreSQL/SQLite throughput ratio (no goal: PostgreSQL is there for
many writers across machines, not for speed on one).
Run: .venv/bin/python bench/runs.py [--runs 200] [--workers 8]
`--quick` (what `make bench-quick` runs) does 20 runs and prints the same rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "backend"))
os.environ.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})


def _one_run(uri: str, index: int) -> str | None:
    """One short run; its id, or None when any call failed (MLflow's client already retries)."""
    from mlflow import MlflowClient

    try:
        client = MlflowClient(uri)
        run = client.create_run("0", run_name=f"bench-{index}")
        client.log_param(run.info.run_id, "index", index)
        client.log_metric(run.info.run_id, "loss", 1.0 / (index + 1))
        client.set_terminated(run.info.run_id)
        return str(run.info.run_id)
    except Exception:
        return None


def _init(token: str) -> None:
    os.environ["MLFLOW_TRACKING_TOKEN"] = token
    import mlflow  # noqa: F401 (imported before timing)


def _measure(workspace: Path, store: str | None, runs: int, workers: int) -> tuple[float, int, int]:
    from mlflow import MlflowClient

    from mlworkbench.tracking import tracking_server

    tracking_server.start_server(workspace, backend_store_uri=store)
    try:
        env = tracking_server.server_env(workspace)
        uri, token = env["MLFLOW_TRACKING_URI"], env["MLFLOW_TRACKING_TOKEN"]
        with ProcessPoolExecutor(workers, initializer=_init, initargs=(token,)) as pool:
            list(pool.map(_one_run, [uri] * workers, range(-workers, 0)))  # warm the workers
            started = time.perf_counter()
            ids = list(pool.map(_one_run, [uri] * runs, range(runs)))
            elapsed = time.perf_counter() - started
        os.environ["MLFLOW_TRACKING_TOKEN"] = token
        found = {
            run.info.run_id: run
            for run in MlflowClient(uri).search_runs(["0"], max_results=runs + workers + 10)
        }
        del os.environ["MLFLOW_TRACKING_TOKEN"]
        failures = sum(1 for run_id in ids if run_id is None)
        lost = sum(
            1
            for index, run_id in enumerate(ids)
            if run_id is not None
            and (
                run_id not in found
                or found[run_id].data.params.get("index") != str(index)
                or "loss" not in found[run_id].data.metrics
                or found[run_id].info.status != "FINISHED"
            )
        )
        return runs / elapsed, lost, failures
    finally:
        tracking_server.stop_server(workspace)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 20 if args.quick else args.runs
    from postgres_cluster import throwaway_postgres

    rows = {}
    folders = [Path(tempfile.mkdtemp(prefix="mlwb-bench-runs-")) for _ in range(2)]
    try:
        with throwaway_postgres() as cluster:
            rows["postgresql"] = _measure(folders[0], cluster.uri, runs, args.workers)
        rows["sqlite"] = _measure(folders[1], None, runs, args.workers)
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
    for kind, (rate, lost, failures) in rows.items():
        print(f"{kind:<10} {runs} runs, {args.workers} workers: {rate:6.1f} runs/s, "
              f"lost {lost}, failures {failures}")  # fmt: skip
    print(f"postgresql/sqlite throughput ratio: {rows['postgresql'][0] / rows['sqlite'][0]:.2f}x")
    return 0 if all(lost == 0 and failures == 0 for _, lost, failures in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
