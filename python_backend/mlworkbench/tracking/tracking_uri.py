"""Which tracking store a workspace uses: the one place that decides it.

The launcher, the explorer, the monitors and the server all resolve the same URI from the same
inputs, so a run started from the editor lands where the Runs view and the MLflow UI look.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlworkbench.launch.child.store_open import sqlite_path

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"


def default_tracking_uri(workspace: Path) -> str:
    """Where runs are tracked: $MLFLOW_TRACKING_URI, else MLflow's SQLite default for the
    workspace, as an absolute URI so runs started from any directory land in the same place."""
    configured = os.environ.get(TRACKING_URI_ENV)
    if configured:
        return configured
    return f"sqlite:///{(workspace / 'mlflow.db').resolve().as_posix()}"


def resolve_tracking_uri(workspace: Path, explicit: str | None = None) -> str:
    """The tracking URI a run in `workspace` uses: `explicit`, else $MLFLOW_TRACKING_URI, else
    MLflow's SQLite default `<workspace>/mlflow.db`.

    A relative SQLite path is taken relative to the workspace, where the script runs, so the
    launcher (whose working directory may be anywhere) and the script open the same file.
    """
    uri = explicit or default_tracking_uri(workspace)
    path = sqlite_path(uri)
    if path is not None and not path.is_absolute():
        query = uri[uri.index("?") :] if "?" in uri else ""
        uri = f"sqlite:///{(workspace / path).resolve().as_posix()}{query}"
    return uri
