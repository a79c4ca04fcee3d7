"""Fixture: Keras 3 on the TensorFlow backend, on scikit-learn's bundled digits (no download)."""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
from sklearn.datasets import load_digits


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    features, labels = load_digits(return_X_y=True)
    features = (features / 16.0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(features, labels, epochs=args.epochs, batch_size=args.batch_size, verbose=2)


if __name__ == "__main__":
    main()
