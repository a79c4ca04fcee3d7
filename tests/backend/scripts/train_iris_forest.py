"""Fixture: a random forest on the iris data set that scikit-learn ships (no download)."""

import argparse

from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-estimators", type=int, default=100)
    parser.add_argument("--max-depth", type=int, default=3)
    args = parser.parse_args()
    features, labels = load_iris(return_X_y=True)
    model = RandomForestClassifier(
        n_estimators=args.n_estimators, max_depth=args.max_depth, random_state=0
    )
    model.fit(features, labels)
    print(f"train accuracy {model.score(features, labels):.3f}")


if __name__ == "__main__":
    main()
