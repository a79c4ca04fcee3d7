"""Train a random forest on scikit-learn's bundled iris data set.

The demo script the ML Workbench walkthrough opens: plain argparse, no MLflow calls, so the
workbench's tracking comes entirely from outside the script.
"""

import argparse

from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-estimators", type=int, default=100, help="trees in the forest")
    parser.add_argument("--max-depth", type=int, default=None, help="maximum tree depth")
    parser.add_argument("--test-size", type=float, default=0.25, help="held-out fraction")
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    x, y = load_iris(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=args.test_size, random_state=args.seed, stratify=y
    )
    model = RandomForestClassifier(
        n_estimators=args.n_estimators, max_depth=args.max_depth, random_state=args.seed
    )
    model.fit(x_train, y_train)
    predictions = model.predict(x_test)
    print(f"accuracy: {accuracy_score(y_test, predictions):.4f}")
    print(f"f1_macro: {f1_score(y_test, predictions, average='macro'):.4f}")


if __name__ == "__main__":
    main()
