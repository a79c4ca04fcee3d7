"""Framework detection: which libraries a script trains with, from its imports alone."""

from __future__ import annotations

import textwrap

import pytest

from mlworkbench.analysis.script_analysis import FRAMEWORK_LABELS, analyze_source


def frameworks(code: str) -> list[str]:
    return analyze_source(textwrap.dedent(code)).frameworks


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import sklearn", ["sklearn"]),
        ("from sklearn.ensemble import RandomForestClassifier", ["sklearn"]),
        ("import sklearn.linear_model as lm", ["sklearn"]),
        ("import torch", ["pytorch"]),
        ("from torch import nn", ["pytorch"]),
        ("import torch.nn.functional as F", ["pytorch"]),
        ("import torchvision", ["pytorch"]),
        ("import pytorch_lightning as pl", ["lightning"]),
        ("import lightning as L", ["lightning"]),
        ("from lightning.pytorch import Trainer", ["lightning"]),
        ("import tensorflow as tf", ["tensorflow"]),
        ("from tensorflow import keras", ["tensorflow", "keras"]),
        ("from tensorflow.keras import layers", ["tensorflow", "keras"]),
        ("import tensorflow.keras", ["tensorflow", "keras"]),
        ("import keras", ["keras"]),
        ("from keras.layers import Dense", ["keras"]),
        ("from ray.rllib.algorithms.ppo import PPOConfig", ["rllib"]),
        ("from ray import rllib", ["rllib"]),
        ("import ray.rllib", ["rllib"]),
        ("import xgboost as xgb", ["xgboost"]),
        ("from lightgbm import LGBMClassifier", ["lightgbm"]),
    ],
)
def test_each_framework_import_form_is_detected(code: str, expected: list[str]) -> None:
    assert frameworks(code) == expected


@pytest.mark.parametrize(
    "code",
    [
        "import ray",
        "from ray import tune",
        "import numpy as np\nimport pandas as pd",
        "from . import sklearn",  # the script's own module, not scikit-learn
        "from .torch import helpers",
        "import sklearnish",
        "x = 'import torch'",
    ],
)
def test_non_framework_imports_are_not_frameworks(code: str) -> None:
    assert frameworks(code) == []


def test_imports_inside_functions_and_branches_count() -> None:
    code = """
    def train():
        import torch
        from xgboost import XGBClassifier

    try:
        import lightgbm
    except ImportError:
        lightgbm = None

    class Trainer:
        def fit(self):
            from sklearn.svm import SVC
    """
    assert frameworks(code) == ["sklearn", "pytorch", "xgboost", "lightgbm"]


def test_frameworks_are_reported_in_the_stable_order_whatever_the_import_order() -> None:
    code = """
    import lightgbm, xgboost
    from ray.rllib import algorithms
    import keras
    import tensorflow
    import lightning
    import torch
    import sklearn
    """
    assert frameworks(code) == list(FRAMEWORK_LABELS)


def test_repeated_imports_are_reported_once() -> None:
    assert frameworks("import torch\nimport torch.nn\nfrom torch import optim") == ["pytorch"]


def test_every_framework_id_has_a_label() -> None:
    assert FRAMEWORK_LABELS == {
        "sklearn": "scikit-learn",
        "pytorch": "PyTorch",
        "lightning": "Lightning",
        "tensorflow": "TensorFlow",
        "keras": "Keras",
        "rllib": "Ray RLlib",
        "xgboost": "XGBoost",
        "lightgbm": "LightGBM",
    }


@pytest.mark.parametrize(
    "code",
    [
        """
        from ray.rllib.algorithms.ppo import PPOConfig

        algo = PPOConfig().environment("CartPole-v1").build_algo()
        for _ in range(3):
            print(algo.train()["env_runners"]["episode_return_mean"])
        """,
        """
        import ray.rllib.algorithms.algorithm as rl

        def main(path):
            algo = rl.Algorithm.from_checkpoint(path)
            algo.train()
        """,
    ],
)
def test_an_rllib_training_script_is_recognised_by_its_imports_and_train_call(code: str) -> None:
    analysis = analyze_source(textwrap.dedent(code))
    assert analysis.frameworks == ["rllib"]
    assert analysis.is_training_script
