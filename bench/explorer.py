"""Run explorer benchmark: the server's summary cache and comparison against MLflow's client.

On a store of 10,000 runs (5 params, 5 metrics, 3 tags each; built once and cached in
the private per-user ~/.cache/mlworkbench-bench/ by explorer_store.py) prints, as medians of
several tries:
  (a) the first page of 100 runs through the real server's queryRuns vs a warm in-process
      `MlflowClient.search_runs(max_results=100)` (goal <= 1.0x), and the cold load separately;
  (b) `metrics.m0 < 0.5` ordered by `metrics.m1 DESC` the same two ways (goal <= 0.3 s; ratio
      reported), checking both return the same run ids in the same order;
  (c) compareRuns of 10 runs x 1,000 steps x 3 metrics (goal <= 1 s);
and the first page from a server started on the workspace, a few seconds after `initialized`
(its start-up warm-up has read the store by then).
Run: `make bench-explorer` (or .venv/bin/python bench/explorer.py [--repeat N] [--runs N]).
`--quick` (what `make bench-quick` and so `make test` run) builds a store of 300 runs and 3
short histories in a fresh private temp folder (deleted afterwards), takes one sample of each
figure and prints the same rows without checking the goals; the answers are still compared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from explorer_store import (
    BENCH_EXPERIMENT,
    ENV,
    HISTORY_EXPERIMENT,
    StoreSpec,
    build_store,
    ensure_store,
)
from lsp_wire import WireClient

SERVER = [sys.executable, "-m", "mlworkbench_server"]  # this checkout, not the .vsix bundle
FILTER = "metrics.m0 < 0.5"
ORDER = "metrics.m1 DESC"


def timed(action: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    samples, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=9, help="samples per figure (median)")
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the bench experiment")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="300 runs in a throw-away store, one sample each, goals not checked (make test)",
    )
    args = parser.parse_args()
    os.environ.update(ENV)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    if not args.quick:
        return measure(ensure_store(StoreSpec(runs=args.runs)), args)
    args.repeat, args.runs = 1, 300
    workspace = Path(tempfile.mkdtemp(prefix="mlworkbench-bench-explorer-"))
    try:
        build_store(StoreSpec(runs=args.runs, history_runs=3, steps=200), workspace)
        return measure(workspace, args)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def measure(workspace: Path, args: argparse.Namespace) -> int:
    """Print the figures for the store in `workspace`; 1 when a goal is missed (full mode)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(BENCH_EXPERIMENT).experiment_id
    history = client.get_experiment_by_name(HISTORY_EXPERIMENT).experiment_id
    compare_ids = [r.info.run_id for r in client.search_runs([history], max_results=10)]

    server = WireClient(SERVER)
    server.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    server.send("initialized", {}, notify=True)
    base = {"workspaceUri": workspace.as_uri(), "experimentId": experiment}

    def query(**options: Any) -> Any:
        return server.request("mlworkbench/queryRuns", {**base, **options})

    cold_s, _ = timed(lambda: query(limit=100), 1)
    ours_a, page = timed(lambda: query(limit=100), args.repeat)
    client.search_runs([experiment], max_results=100)  # warm MLflow's engine and caches
    peer_a, runs = timed(lambda: client.search_runs([experiment], max_results=100), args.repeat)
    assert [r["run_id"] for r in page["page"]["runs"]] == [r.info.run_id for r in runs]

    first_b, _ = timed(lambda: query(filter=FILTER, orderBy=ORDER, limit=100), 1)
    ours_b, page = timed(lambda: query(filter=FILTER, orderBy=ORDER, limit=100), args.repeat)
    peer_b, runs = timed(
        lambda: client.search_runs([experiment], FILTER, order_by=[ORDER], max_results=100),
        args.repeat,
    )
    same = [r["run_id"] for r in page["page"]["runs"]] == [r.info.run_id for r in runs]

    request = {"workspaceUri": workspace.as_uri(), "runIds": compare_ids}
    ours_c, data = timed(
        lambda: server.request("mlworkbench/compareRuns", request), min(3, args.repeat)
    )
    points = sum(len(s["values"]) for s in data["series"])
    server.close()

    # The same first page from a server started on the workspace (as the editor starts it): it
    # reads the store in the background after `initialized`, so a Runs view opened a few
    # seconds later finds the cache ready.
    opened = WireClient(SERVER)
    opened.request(
        "initialize", {"processId": None, "rootUri": workspace.as_uri(), "capabilities": {}}
    )
    opened.send("initialized", {}, notify=True)
    wait_s = 1.5 * cold_s + 1
    time.sleep(wait_s)
    warmed_s, _ = timed(lambda: opened.request("mlworkbench/queryRuns", {**base, "limit": 100}), 1)
    opened.close()

    print(f"python {sys.version.split()[0]}, {args.runs} runs, medians of {args.repeat}")
    if args.quick:
        print("quick mode: a small throw-away store, one sample per figure, goals not checked")
    print(f"cold load (first queryRuns: import MLflow, read every run): {cold_s:.3f} s")
    print(
        f"first page from a server started on the workspace, asked {wait_s:.1f} s after "
        f"`initialized` (warmed in the background): {warmed_s:.4f} s"
    )
    print(f"{'figure':44} {'ours':>8} {'peer':>8} {'ratio':>7}  goal")
    rows = [
        ("(a) first page, 100 runs (s)", ours_a, peer_a, "<= 1.0x", ours_a / peer_a <= 1.0),
        (
            f"(b) {FILTER} by {ORDER} (s)",
            ours_b,
            peer_b,
            "<= 0.3 s",
            ours_b <= 0.3 and same,
        ),
    ]
    for name, ours, peer, goal, met in rows:
        mark = "" if args.quick else " ok" if met else " OVER"
        print(f"{name:44} {ours:8.4f} {peer:8.4f} {ours / peer:6.2f}x  {goal}{mark}")
    print(f"    (b) first time this query was asked: {first_b:.4f} s; same ids in order: {same}")
    mark = "" if args.quick else " ok" if ours_c <= 1 else " OVER"
    print(
        f"(c) compareRuns, {len(compare_ids)} runs x {len(data['metric_keys'])} metrics, "
        f"{points} points: {ours_c:.3f} s  goal <= 1 s{mark}"
    )
    failed = not (rows[0][4] and rows[1][4] and ours_c <= 1)
    return 1 if failed and not args.quick else 0


if __name__ == "__main__":
    raise SystemExit(main())
