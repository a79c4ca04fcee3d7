"""The environment variables that shape what an interpreter imports, and how.

A warm pool (and its model-requirements helper) imported mlflow, the frameworks and matplotlib
under the environment it started with; a run whose environment differs in one of these would
have imported them differently (another tracking setup, BLAS thread count, matplotlib style or
config folder, scikit-learn defaults, `sys.path`), so such a run must not be served by it.
Stdlib only: the warm pool's client, the pool and the helper all read it.
"""

from __future__ import annotations

from collections.abc import Mapping

IMPORT_ENV_PREFIXES = (
    "MLFLOW_",
    "MLWORKBENCH_",
    "PYTHON",
    "MPL",  # MPLBACKEND, MPLCONFIGDIR: read when matplotlib is imported
    "MATPLOTLIB",  # MATPLOTLIBRC
    "SKLEARN_",  # scikit-learn's global config defaults, read at import
    "OMP_",  # BLAS/OpenMP thread pools, sized when numpy/torch load them
    "MKL_",
    "OPENBLAS_",
)
"""Prefixes of the variables read at import time by mlflow, the workbench, Python itself and
the libraries a pool preloads."""

PER_RUN_ENV = frozenset(
    {
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "MLFLOW_EXPERIMENT_NAME",
        "MLFLOW_EXPERIMENT_ID",
        "MLFLOW_RUN_ID",
        "MLWORKBENCH_WARM_IDLE_S",
    }
)
"""Read by a run at run time, not at import: one pool serves every workspace and store, and its
environment holds no secret."""

IGNORED = frozenset({"MLWORKBENCH_WARM"})
"""The opt-out switch itself: a pool only ever serves runs that have it on."""


def import_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The variables of `env` that shape imports (see IMPORT_ENV_PREFIXES), per-run ones out."""
    return {
        name: value
        for name, value in env.items()
        if name.startswith(IMPORT_ENV_PREFIXES) and name not in PER_RUN_ENV | IGNORED
    }
