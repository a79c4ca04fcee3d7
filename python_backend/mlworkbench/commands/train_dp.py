"""`mlworkbench train-dp`: a differentially private classifier as a new tracked run.

DP-SGD logistic regression (`privacy/dp_training.py`, Opacus) on a CSV or Parquet file, logged
with MLflow as a scikit-learn pipeline (so reports, `serve` and `deploy` take it as is), with
its epsilon, delta and noise as params and metrics, and the spend recorded in the data set's
privacy ledger before training starts: past the budget, nothing is trained.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlworkbench.commands import Subcommand, report_common


def _bounds(text: str) -> dict[str, tuple[float, float]]:
    bounds: dict[str, tuple[float, float]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, span = item.partition("=")
        low, _, high = span.partition(":")
        try:
            lo, hi = float(low), float(high)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected COL=LOW:HIGH, got {item!r}") from None
        if not lo < hi:
            raise argparse.ArgumentTypeError(f"{name}: LOW must be below HIGH")
        bounds[name.strip()] = (lo, hi)
    return bounds


def _configure(parser: argparse.ArgumentParser) -> None:
    report_common.add_data_args(parser)
    parser.add_argument(
        "--epsilon", type=float, required=True, metavar="E", help="the privacy budget to spend"
    )
    parser.add_argument("--delta", type=float, default=1e-5, help="default: 1e-5")
    parser.add_argument("--epochs", type=int, default=10, help="default: 10")
    parser.add_argument(
        "--features", default=None, metavar="COL[,COL]", help="default: every column but the target"
    )
    parser.add_argument(
        "--bounds",
        type=_bounds,
        default={},
        metavar="COL=LO:HI[,…]",
        help="public value ranges for feature scaling (else scaling leaks, and the run says so)",
    )
    parser.add_argument(
        "--budget", type=float, default=None, help="the data set's total epsilon budget"
    )
    parser.add_argument("--experiment", default="dp-training", help="default: dp-training")
    parser.add_argument(
        "--workspace", type=Path, default=None, help="workspace folder (default: cwd)"
    )
    parser.add_argument("--json", action="store_true", help="print the run as JSON")


def _run(args: argparse.Namespace) -> int:
    import mlflow
    import mlflow.sklearn

    from mlworkbench.launch.child.store_open import create_if_missing
    from mlworkbench.privacy import privacy_ledger
    from mlworkbench.privacy.dp_training import check_epsilon, train_dp_logistic
    from mlworkbench.reports.report_data import load_table, require_columns
    from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

    workspace = report_common.workspace_of(args)
    check_epsilon(args.epsilon)
    loaded = load_table(args.data, workspace=workspace, max_bytes=report_common.max_bytes(args))
    features = [f.strip() for f in args.features.split(",")] if args.features else None
    require_columns(loaded.frame, [args.target, *(features or [])], "column")
    privacy_ledger.charge(
        workspace,
        loaded.source,
        args.epsilon,
        mechanism="dp-sgd logistic regression (opacus)",
        budget=args.budget,
        delta=args.delta,
        run_name=f"train-dp ε={args.epsilon:g} {loaded.source['path']}",
    )
    result = train_dp_logistic(
        loaded.frame,
        args.target,
        epsilon=args.epsilon,
        delta=args.delta,
        epochs=args.epochs,
        bounds=args.bounds,
        features=features,
    )
    uri = resolve_tracking_uri(workspace)
    mlflow.set_tracking_uri(uri)
    create_if_missing(uri, args.experiment)
    mlflow.set_experiment(args.experiment)
    tags = {
        "mlworkbench.privacy.dataset": loaded.source["sha256"],
        "mlworkbench.privacy.datasetPath": loaded.source["path"],
        "mlworkbench.privacy.epsilon": str(result.epsilon),
        "mlworkbench.script": "train-dp",
    }
    if result.warnings:
        tags["mlworkbench.privacy.warning"] = " ".join(result.warnings)
    with mlflow.start_run(run_name=f"dp-logreg ε={args.epsilon:g}", tags=tags) as run:
        mlflow.log_params(
            {
                "epsilon": args.epsilon,
                "delta": args.delta,
                "epochs": args.epochs,
                "noise_multiplier": round(result.noise_multiplier, 6),
                "max_grad_norm": 1.0,
                "target": args.target,
            }
        )
        mlflow.log_metrics({"accuracy": result.accuracy, "epsilon_spent": result.epsilon})
        example = loaded.frame[result.features].head(5)
        mlflow.sklearn.log_model(result.pipeline, name="model", input_example=example)
        run_id = run.info.run_id
    payload = {
        "runId": run_id,
        "epsilon": result.epsilon,
        "delta": result.delta,
        "noiseMultiplier": result.noise_multiplier,
        "accuracy": result.accuracy,
        "warnings": result.warnings,
    }
    if args.json:
        json.dump(payload, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(f"run {run_id}: accuracy {result.accuracy:.4f}, epsilon spent {result.epsilon:.4g}")
        for warning in result.warnings:
            print(f"warning: {warning}")
    return 0


COMMAND = Subcommand(
    "train-dp",
    "train a differentially private classifier (DP-SGD logistic regression) as a new run",
    _configure,
    _run,
)
