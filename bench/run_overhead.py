"""Run-launch benchmark: what `mlworkbench run` adds to a training script, and what the
TensorBoard mirror's batched logging costs against logging each step.

Prints figures with ratios measured in the same run (interleaved repeats, medians):
  `mlworkbench run` of a small scikit-learn script (autologging switched on from outside) vs
  `python` running the same training with the same MLflow logging written into the script
  (params, training metrics, model with signature) (goal <= 1.15x wall time);
  the same `mlworkbench run` vs `python` running the script with `mlflow.sklearn.autolog()`
  added to it, which isolates the launcher's own cost from autologging's (reported);
  10,000 metric steps read from a TensorBoard event file and logged through the mirror's
  batched log_batch vs `mlflow.log_metric` once per step (reported, no goal).
Warm pool (launch/warm_server.py), each sample with a fresh pool in a private folder:
  the first run when no pool exists (served cold while it starts the pool: what that costs);
  the first run a warm pool serves (mlflow loaded, sklearn not yet) (goal <= 1.0x);
  a repeat run (sklearn and its autologging preloaded) (goal <= 0.6x); all against the same
  `python` peer. The cold figures above run with MLWORKBENCH_WARM=0.
Both sides use the same SQLite store, created before timing; MLflow telemetry is off for both.
Run: .venv/bin/python bench/run_overhead.py [--repeat N] [--steps N]
`--quick` (what `make bench-quick` and so `make test` run) times each figure once, without the
warm-up runs, on 500 metric steps, and prints the same rows without checking the goal.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import types
from pathlib import Path

ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
ENV.pop("MLFLOW_TRACKING_URI", None)

TRAINING = """
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    features, labels = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=20, max_depth=3, random_state=0)
"""
# What autologging does for a classifier, written by hand into the script.
PEER = """
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn import metrics
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    features, labels = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=20, max_depth=3, random_state=0)
    with mlflow.start_run():
        mlflow.log_params(model.get_params())
        model.fit(features, labels)
        predicted = model.predict(features)
        probabilities = model.predict_proba(features)
        mlflow.log_metrics({
            "training_accuracy_score": metrics.accuracy_score(labels, predicted),
            "training_precision_score": metrics.precision_score(
                labels, predicted, average="weighted"),
            "training_recall_score": metrics.recall_score(labels, predicted, average="weighted"),
            "training_f1_score": metrics.f1_score(labels, predicted, average="weighted"),
            "training_log_loss": metrics.log_loss(labels, probabilities),
            "training_roc_auc": metrics.roc_auc_score(labels, probabilities, multi_class="ovr"),
            "training_score": model.score(features, labels),
        })
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(features, predicted),
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,  # as autolog
        )
"""


AUTOLOGGED = """
    import mlflow
    import mlflow.sklearn

    mlflow.sklearn.autolog(silent=True)
    with mlflow.start_run():
        exec(open("train.py").read())
"""


def prepare(workspace: Path) -> str:
    (workspace / "train.py").write_text(textwrap.dedent(TRAINING) + "model.fit(features, labels)\n")
    (workspace / "peer.py").write_text(textwrap.dedent(PEER))
    (workspace / "autologged.py").write_text(textwrap.dedent(AUTOLOGGED))
    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    create = f"import mlflow; mlflow.MlflowClient({uri!r}).search_experiments()"
    subprocess.run([sys.executable, "-c", create], cwd=workspace, env=ENV, check=True)
    return uri


def timed(command: list[str], workspace: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=workspace, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def _pool_pids(root: Path) -> list[int]:
    pids: list[int] = []
    for log in root.glob("*/*.log"):
        pids.extend(int(p) for p in re.findall(r"\[warm pool (\d+)\] ready", log.read_text()))
    return pids


def _stop_pools(root: Path) -> None:
    for pid in _pool_pids(root):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for log in root.glob("*/*.log"):
        log.unlink()


def warm_overhead(workspace: Path, uri: str, repeat: int) -> tuple[float, float, float, float]:
    """Medians of: first run with no pool (starts one), first run a pool serves, repeat run,
    and the python peer, interleaved; each sample starts from no pool."""
    runtime = Path(tempfile.mkdtemp(prefix="mlworkbench-bench-pools-"))
    env = {**ENV, "XDG_RUNTIME_DIR": str(runtime), "MLWORKBENCH_WARM_IDLE_S": "120"}
    ours_cmd = [sys.executable, "-m", "mlworkbench", "run", "train.py"]
    peer_cmd = [sys.executable, "peer.py"]
    peer_env = {**ENV, "MLFLOW_TRACKING_URI": uri}
    starting, first, again, peer = [], [], [], []
    try:
        for _ in range(repeat):
            _stop_pools(runtime)
            starting.append(timed(ours_cmd, workspace, env))
            deadline = time.monotonic() + 180
            while not _pool_pids(runtime):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no warm pool started; see {runtime}")
                time.sleep(0.1)
            first.append(timed(ours_cmd, workspace, env))
            # The pool imports sklearn between runs; a repeat run comes after that.
            while not any("preloaded" in p.read_text() for p in runtime.glob("*/*.log")):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the pool preloaded nothing; see {runtime}")
                time.sleep(0.1)
            again.append(timed(ours_cmd, workspace, env))
            peer.append(timed(peer_cmd, workspace, peer_env))
    finally:
        _stop_pools(runtime)
        shutil.rmtree(runtime, ignore_errors=True)
    return tuple(statistics.median(x) for x in (starting, first, again, peer))  # type: ignore[return-value]


def launch_overhead(
    workspace: Path, uri: str, repeat: int, *, warm: bool = True
) -> tuple[float, float, float]:
    """Medians of: mlworkbench run, python with hand-written logging, python with autolog."""
    ours_cmd = [sys.executable, "-m", "mlworkbench", "run", "train.py"]
    cold_env = {**ENV, "MLWORKBENCH_WARM": "0"}
    peer_cmd = [sys.executable, "peer.py"]
    auto_cmd = [sys.executable, "autologged.py"]
    peer_env = {**ENV, "MLFLOW_TRACKING_URI": uri}
    if warm:  # warm caches (bytecode, page cache) for all alike
        timed(ours_cmd, workspace, cold_env)
        timed(peer_cmd, workspace, peer_env)
        timed(auto_cmd, workspace, peer_env)
    ours, peer, auto = [], [], []
    for _ in range(repeat):  # interleaved so machine noise hits all alike
        ours.append(timed(ours_cmd, workspace, cold_env))
        peer.append(timed(peer_cmd, workspace, peer_env))
        auto.append(timed(auto_cmd, workspace, peer_env))
    return statistics.median(ours), statistics.median(peer), statistics.median(auto)


def write_events(folder: Path, steps: int) -> None:
    # tensorboard.compat would load all of TensorFlow just to write a file; the `notf` marker
    # keeps it on its own pure-Python writer (as the mirror does for reading).
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("notf"))
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(folder))
    for step in range(steps):
        writer.add_scalar("loss/train", 1.0 / (step + 1), step)
    writer.close()


def metric_logging(workspace: Path, uri: str, steps: int, repeat: int) -> tuple[float, float]:
    import mlflow
    from mlflow.tracking import MlflowClient

    from mlworkbench.launch.run_records import log_points
    from mlworkbench.launch.tensorboard_mirror import TensorBoardMirror

    write_events(workspace / "tb", steps)
    client = MlflowClient(uri)
    mlflow.set_tracking_uri(uri)
    ours, peer = [], []
    for _ in range(repeat):
        run_id = client.create_run("0").info.run_id
        start = time.perf_counter()
        mirror = TensorBoardMirror(
            workspace, host=socket.gethostname(), owner_pids=lambda: {os.getpid()}, since_s=0
        )
        points = mirror.poll()
        log_points(client, run_id, points)
        ours.append(time.perf_counter() - start)
        assert len(client.get_metric_history(run_id, "loss/train")) == steps

        with mlflow.start_run() as run:
            start = time.perf_counter()
            for step in range(steps):
                mlflow.log_metric("loss/train", 1.0 / (step + 1), step=step)
            peer.append(time.perf_counter() - start)
        assert len(client.get_metric_history(run.info.run_id, "loss/train")) == steps
    return statistics.median(ours), statistics.median(peer)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="samples of the launch figure")
    parser.add_argument("--steps", type=int, default=10_000, help="metric steps to log")
    parser.add_argument("--metric-repeat", type=int, default=3, help="samples of that figure")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one sample each, no warm-up, 500 steps, goal not checked (make test)",
    )
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.metric_repeat, args.steps = 1, 1, 500

    with tempfile.TemporaryDirectory(prefix="mlworkbench-bench-") as folder:
        workspace = Path(folder)
        uri = prepare(workspace)
        ours_run, peer_run, autolog_run = launch_overhead(
            workspace, uri, args.repeat, warm=not args.quick
        )
        starting, first, again, warm_peer = warm_overhead(workspace, uri, args.repeat)
        logging = metric_logging(workspace, uri, args.steps, args.metric_repeat)

    rows = [
        (
            "run a scikit-learn script (s)",
            ours_run,
            peer_run,
            "python, same logging written in the script",
            1.15,
        ),
        (
            "run a scikit-learn script (s)",
            ours_run,
            autolog_run,
            "python, mlflow.sklearn.autolog() in the script",
            None,
        ),
        (
            "first run, no pool yet: starts it (s)",
            starting,
            warm_peer,
            "python, same logging written in the script",
            None,
        ),
        (
            "first run served by a warm pool (s)",
            first,
            warm_peer,
            "python, same logging written in the script",
            1.0,
        ),
        (
            "repeat run, sklearn preloaded (s)",
            again,
            warm_peer,
            "python, same logging written in the script",
            0.6,
        ),
        (
            f"log {args.steps:,} metric steps (s)",
            *logging,
            "mlflow.log_metric per step",
            None,
        ),
    ]
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; launch: {args.repeat} "
        f"samples, metrics: {args.metric_repeat} samples; medians; "
        f"load average at the end {os.getloadavg()[0]:.2f}"
    )
    if args.quick:
        print("quick mode: one sample per figure, no warm-up, goal not checked")
    print(f"{'figure':36} {'ours':>9} {'peer':>9} {'ratio':>7} {'goal':>6}  peer")
    failed = False
    for name, ours, peer, peer_name, goal in rows:
        ratio = ours / peer
        verdict = ""
        if goal is not None:
            failed |= ratio > goal
            if not args.quick:
                verdict = " ok" if ratio <= goal else " OVER"
        goal_text = f"{goal:5.2f}x" if goal is not None else f"{'-':>6}"
        print(f"{name:36} {ours:9.3f} {peer:9.3f} {ratio:6.2f}x {goal_text}  {peer_name}{verdict}")
    return 1 if failed and not args.quick else 0


if __name__ == "__main__":
    raise SystemExit(main())
