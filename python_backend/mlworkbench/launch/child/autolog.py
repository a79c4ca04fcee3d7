"""Switch on MLflow autologging for the frameworks a script uses, from outside the script.

Each integration is enabled by a post-import hook (MLflow's own mechanism behind
`mlflow.autolog()`), so a script that fails before importing its framework does not pay for
importing it, and an import the analysis missed costs nothing. Only the frameworks the script
was found to use are hooked, unlike `mlflow.autolog()`, which hooks dozens of libraries.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType


def _keras_major() -> int | None:
    try:
        return int(version("keras").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return None


def _lightning_installed() -> bool:
    return any(importlib.util.find_spec(name) for name in ("lightning", "pytorch_lightning"))


def _enable_sklearn(_: ModuleType) -> None:
    import mlflow.sklearn

    mlflow.sklearn.autolog(log_models=True, silent=True)


def _enable_keras(_: ModuleType) -> None:
    import mlflow.keras

    mlflow.keras.autolog(log_models=True, silent=True)


def _enable_tensorflow(_: ModuleType) -> None:
    import mlflow.tensorflow

    mlflow.tensorflow.autolog(log_models=True, silent=True)


def _enable_pytorch(_: ModuleType) -> None:
    import mlflow.pytorch

    mlflow.pytorch.autolog(log_models=True, silent=True)


def _enable_rllib(module: ModuleType) -> None:
    from . import rllib_logging

    rllib_logging.install(module)


def autolog_hooks(frameworks: Iterable[str]) -> dict[str, Callable[[ModuleType], None]]:
    """Module name -> enabler, for the frameworks (script_analysis ids) with autologging.

    - Keras 3 (what TensorFlow >= 2.16 ships as tf.keras) has its own integration,
      `mlflow.keras`; `mlflow.tensorflow` is for the older tf-keras. Enabling both would log
      every epoch twice.
    - `mlflow.pytorch.autolog` only instruments Lightning's Trainer; a plain PyTorch loop
      gets nothing from it, so it is enabled only when Lightning is installed.
    - MLflow has no RLlib integration: ours (`rllib_logging`) hooks the module that defines
      `Algorithm`, which every RLlib algorithm imports.
    """
    wanted = set(frameworks)
    hooks: dict[str, Callable[[ModuleType], None]] = {}
    if "sklearn" in wanted:
        hooks["sklearn"] = _enable_sklearn
    if wanted & {"tensorflow", "keras"}:
        major = _keras_major()
        if major is not None and major >= 3:
            hooks["keras"] = _enable_keras
        else:
            hooks["tensorflow"] = _enable_tensorflow
    if wanted & {"pytorch", "lightning"} and _lightning_installed():
        for module in ("lightning", "pytorch_lightning"):
            if importlib.util.find_spec(module):
                hooks[module] = _enable_pytorch
    if "rllib" in wanted:
        hooks["ray.rllib.algorithms.algorithm"] = _enable_rllib
    return hooks


def enable_autologging(frameworks: Iterable[str], warn: Callable[[str], None]) -> list[str]:
    """Register the hooks; returns the modules hooked. Failures are reported, never raised:
    a run without autologging is still a run."""
    from mlflow.utils.import_hooks import register_post_import_hook

    hooks = autolog_hooks(frameworks)
    for module_name, enable in hooks.items():

        def guarded(module: ModuleType, enable: Callable[[ModuleType], None] = enable) -> None:
            try:
                enable(module)
            except Exception as error:  # an integration that cannot load must not kill runs
                warn(f"autologging for {module.__name__} is off: {error}")

        register_post_import_hook(guarded, module_name, overwrite=True)
    return list(hooks)
