"""Train a credit-approval classifier on synthetic applicants, then check it for fairness.

The data is made here (scikit-learn's make_classification, fixed seed) and written to
`data/credit.csv` with two sensitive columns the model never sees, `sex` and `age_group`, whose
groups differ in their label rates: a model can be accurate and still treat them differently.
After a run, `Report…` on this file (or on the run in the Runs view) opens the fairness report
on `data/credit.csv` with target `approved` and sensitive features `sex`, `age_group`.
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

FEATURES = ["income", "debt_ratio", "credit_history", "savings", "employment_years", "open_loans"]
DATA = Path(__file__).resolve().parent / "data" / "credit.csv"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--rows", type=int, default=4000, help="applicants to generate")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    return parser.parse_args()


def applicants(rows: int, seed: int) -> pd.DataFrame:
    x, y = make_classification(
        n_samples=rows, n_features=len(FEATURES), n_informative=4, random_state=seed
    )
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(x, columns=FEATURES)
    # Group membership leans on the label, so the model's selection rates differ by group.
    frame["sex"] = np.where(rng.random(rows) < 0.35 + 0.3 * y, "male", "female")
    frame["age_group"] = rng.choice(
        ["18-25", "26-40", "41-60", "60+"], size=rows, p=[0.2, 0.4, 0.3, 0.1]
    )
    frame["approved"] = y
    return frame


def main() -> None:
    args = parse_args()
    frame = applicants(args.rows, args.seed)
    DATA.parent.mkdir(exist_ok=True)
    frame.to_csv(DATA, index=False)
    train, test = train_test_split(frame, test_size=0.25, random_state=args.seed)
    model = LogisticRegression(C=args.c, max_iter=1000)
    model.fit(train[FEATURES], train["approved"])
    print(f"accuracy: {accuracy_score(test['approved'], model.predict(test[FEATURES])):.4f}")
    print(f"data: {DATA}")


if __name__ == "__main__":
    main()
