"""Train a small neural network on scikit-learn's bundled 8x8 digits images."""

import argparse

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--hidden", type=int, default=64, help="units in the hidden layer")
parser.add_argument("--alpha", type=float, default=1e-4, help="L2 penalty")
parser.add_argument("--max-iter", type=int, default=200, help="training epochs")


if __name__ == "__main__":
    args = parser.parse_args()
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
    model = make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=(args.hidden,), alpha=args.alpha,
                      max_iter=args.max_iter, random_state=0),
    )
    model.fit(x_train, y_train)
    print(f"accuracy: {model.score(x_test, y_test):.4f}")
