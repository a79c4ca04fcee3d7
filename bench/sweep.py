"""Sweep benchmark: an 8-trial grid of a small scikit-learn script with `mlworkbench sweep
--max-concurrent 2` vs the same 8 trials run one after another with `mlworkbench run`.

Prints the two wall times and their ratio, measured in the same run (goal <= 0.6x): both sides
start every trial through the launcher (one process and one MLflow run per trial, autologging
on), into the same kind of store (a fresh SQLite copy per side, made before timing), with
MLflow telemetry off. The sweep side also creates and ends its parent run.
Run: .venv/bin/python bench/sweep.py [--trials 8] [--max-concurrent 2]
`--quick` (what `make bench-quick` runs) uses 4 trials and prints the same rows without
checking the goal.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
ENV.pop("MLFLOW_TRACKING_URI", None)
GOAL = 0.6

TRAIN = """
    import argparse

    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    parser = argparse.ArgumentParser()
    parser.add_argument("--c", type=float, default=1.0)
    parser.add_argument("--max-iter", type=int, default=100)
    args = parser.parse_args()
    features, labels = load_breast_cancer(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(features, labels, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=args.c, max_iter=args.max_iter))
    model.fit(train_x, train_y)
    print("test accuracy", model.score(test_x, test_y))
"""
C_VALUES = ("0.01", "0.1", "1", "10")
MAX_ITER_VALUES = ("50", "200")


def workspace_with_store(root: Path, name: str, template: Path) -> Path:
    workspace = root / name
    workspace.mkdir()
    (workspace / "train.py").write_text(textwrap.dedent(TRAIN))
    shutil.copyfile(template, workspace / "mlflow.db")
    return workspace


def make_template(root: Path) -> Path:
    folder = root / "template"
    folder.mkdir()
    create = "import mlflow; mlflow.MlflowClient('sqlite:///mlflow.db').search_experiments()"
    subprocess.run([sys.executable, "-c", create], cwd=folder, env=ENV, check=True)
    return folder / "mlflow.db"


def grid(trials: int) -> list[tuple[str, str]]:
    points = [(c, it) for c in C_VALUES for it in MAX_ITER_VALUES]
    return points[:trials]


def sequential(workspace: Path, points: list[tuple[str, str]]) -> float:
    start = time.perf_counter()
    for c, max_iter in points:
        command = [sys.executable, "-m", "mlworkbench", "run", "train.py", "--"]
        command += ["--c", c, "--max-iter", max_iter]
        subprocess.run(command, cwd=workspace, env=ENV, check=True, capture_output=True)
    return time.perf_counter() - start


def swept(workspace: Path, points: list[tuple[str, str]], max_concurrent: int) -> float:
    """The sweep through its CLI module (the verb's own code path, started like the CLI)."""
    c_values = ",".join(dict.fromkeys(c for c, _ in points))
    iter_values = ",".join(dict.fromkeys(it for _, it in points))
    program = (
        "import argparse, sys\n"
        "from mlworkbench.commands import sweep\n"
        "parser = argparse.ArgumentParser()\n"
        "sweep.COMMAND.configure(parser)\n"
        "sys.exit(sweep.COMMAND.run(parser.parse_args(sys.argv[1:])))\n"
    )
    command = [sys.executable, "-c", program, "train.py", "--param", f"c={c_values}"]
    command += ["--param", f"max_iter={iter_values}", "--max-concurrent", str(max_concurrent)]
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=workspace, env=ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"the sweep failed ({completed.returncode}):\n{completed.stderr}")
    finished = completed.stderr.count(": FINISHED")
    if finished != len(points):
        raise SystemExit(f"{finished} of {len(points)} trials finished:\n{completed.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=8, help="trials per side (at most 8)")
    parser.add_argument("--max-concurrent", type=int, default=2)
    parser.add_argument(
        "--quick", action="store_true", help="4 trials, goal not checked (make bench-quick)"
    )
    args = parser.parse_args()
    trials = 4 if args.quick else min(args.trials, len(C_VALUES) * len(MAX_ITER_VALUES))
    points = grid(trials)

    with tempfile.TemporaryDirectory(prefix="mlworkbench-bench-") as folder:
        root = Path(folder)
        template = make_template(root)
        ours = swept(workspace_with_store(root, "sweep", template), points, args.max_concurrent)
        peer = sequential(workspace_with_store(root, "runs", template), points)

    ratio = ours / peer
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {trials} trials, one sample")
    if args.quick:
        print("quick mode: 4 trials, goal not checked")
    print(f"{'figure':40} {'ours':>9} {'peer':>9} {'ratio':>7} {'goal':>6}  peer")
    verdict = "" if args.quick else (" ok" if ratio <= GOAL else " OVER")
    print(
        f"{f'sweep of {trials} trials, {args.max_concurrent} at a time (s)':40} {ours:9.2f} "
        f"{peer:9.2f} {ratio:6.2f}x {GOAL:5.2f}x  {trials} x `mlworkbench run`, one after "
        f"another{verdict}"
    )
    return 1 if ratio > GOAL and not args.quick else 0


if __name__ == "__main__":
    raise SystemExit(main())
