"""Fairness metrics benchmark: ML Workbench's group metrics against Fairlearn's MetricFrame.

100,000 rows, two sensitive features (2 by 5 = 10 intersectional groups). The peer is what a
Fairlearn user writes: a MetricFrame with scikit-learn's accuracy, balanced accuracy, precision
and recall and Fairlearn's false positive rate, false negative rate and selection rate, plus
`demographic_parity_difference` and `equalized_odds_difference`. Ours computes the same metrics
plus each sensitive feature alone (three groupings, more work than the peer does), and every
shared number must equal Fairlearn's to 1e-9 or the bench fails. Goal: <= 0.2x the peer's time.
Run: .venv/bin/python bench/report_fairness.py [--rows N] [--repeat N].
`--quick` (what `make bench-quick` runs): 5,000 rows, one sample each, goals not checked.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from mlworkbench.reports.fairness_metrics import FairnessMetrics, compute_fairness_metrics

GOAL = 0.2
TOLERANCE = 1e-9


def make_data(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Labels, predictions that lean on the groups, and the two sensitive features."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], size=rows, p=[0.45, 0.55])
    age = rng.choice(["18-25", "26-35", "36-45", "46-60", "60+"], size=rows)
    truth = (rng.random(rows) < 0.4).astype(np.int64)
    flip = rng.random(rows) < np.where(sex == "female", 0.25, 0.15)
    predicted = np.where(flip, 1 - truth, truth)
    return truth, predicted, pd.DataFrame({"sex": sex, "age": age})


def fairlearn_peer(truth: np.ndarray, predicted: np.ndarray, sensitive: pd.DataFrame) -> Any:
    import sklearn.metrics as skm
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        equalized_odds_difference,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
    )

    frame = MetricFrame(
        metrics={
            "accuracy": skm.accuracy_score,
            "balanced_accuracy": skm.balanced_accuracy_score,
            "precision": skm.precision_score,
            "recall": skm.recall_score,
            "false_positive_rate": false_positive_rate,
            "false_negative_rate": false_negative_rate,
            "selection_rate": selection_rate,
        },
        y_true=truth,
        y_pred=predicted,
        sensitive_features=sensitive,
    )
    dp = demographic_parity_difference(truth, predicted, sensitive_features=sensitive)
    eo = equalized_odds_difference(truth, predicted, sensitive_features=sensitive)
    return frame, dp, eo


def ours(truth: np.ndarray, predicted: np.ndarray, sensitive: pd.DataFrame) -> FairnessMetrics:
    return compute_fairness_metrics(truth, predicted, sensitive, task="binary")


def check_equal(mine: FairnessMetrics, peer: Any) -> float:
    """The largest difference between any shared number; raises past TOLERANCE."""
    frame, dp, eo = peer
    headline = mine.headline
    columns = list(frame.by_group.columns)
    gaps = [
        np.nanmax(np.abs(headline.by_group[columns].to_numpy() - frame.by_group.to_numpy())),
        np.max(np.abs(headline.overall[columns].to_numpy() - frame.overall.to_numpy())),
        np.max(np.abs(headline.difference()[columns].to_numpy() - frame.difference().to_numpy())),
        np.max(np.abs(headline.ratio()[columns].to_numpy() - frame.ratio().to_numpy())),
        abs(headline.parity["demographic_parity_difference"] - dp),
        abs(headline.parity["equalized_odds_difference"] - eo),
    ]
    gap = float(max(gaps))
    if not gap <= TOLERANCE:
        raise SystemExit(f"numbers differ from Fairlearn's by {gap:g} (> {TOLERANCE:g})")
    return gap


def best_of(repeat: int, work: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of data")
    parser.add_argument("--repeat", type=int, default=3, help="samples per figure (best of)")
    parser.add_argument(
        "--quick", action="store_true", help="5,000 rows, one sample, goals not checked"
    )
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeat = 5_000, 1

    truth, predicted, sensitive = make_data(args.rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's per-group warnings, not the bench's
        peer_s, peer = best_of(args.repeat, lambda: fairlearn_peer(truth, predicted, sensitive))
    ours_s, mine = best_of(args.repeat, lambda: ours(truth, predicted, sensitive))
    gap = check_equal(mine, peer)

    groups = len(mine.headline.labels)
    print(
        f"python {sys.version.split()[0]}, {args.rows:,} rows, {groups} intersectional groups, "
        f"best of {args.repeat}; largest difference from Fairlearn {gap:.1e}"
    )
    if args.quick:
        print("quick mode: small data, one sample, goals not checked")
    ratio = ours_s / peer_s
    mark = "" if args.quick else "ok" if ratio <= GOAL else "OVER"
    print(f"{'figure':44} {'ours':>8} {'peer':>8} {'ratio':>7} {'goal':>6}  peer")
    line = (
        f"{'7 metrics by group + DP + EO (s)':44} {ours_s:8.4f} {peer_s:8.4f} {ratio:6.3f}x "
        f"{GOAL:5.2f}x  Fairlearn MetricFrame + sklearn metrics {mark}"
    )
    print(line.rstrip())
    return 1 if ratio > GOAL and not args.quick else 0


if __name__ == "__main__":
    raise SystemExit(main())
