"""Import MLflow once, from one thread at a time.

The language server answers requests in worker threads, and several of them reach for MLflow at
once right after start-up (the Runs view, the Models view, reconciliation). MLflow's package has
import cycles: two threads importing different parts of it at the same moment can trip
Python's import-deadlock detection, which leaves `mlflow` half-initialised in `sys.modules` and
breaks every later request. Importing the package whole under a lock first avoids that.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_imported = False


def ensure_mlflow_imported() -> None:
    """Import `mlflow` (and its tracking client) fully before any thread imports a part of it."""
    global _imported
    if _imported:
        return
    with _lock:
        if _imported:
            return
        import mlflow
        import mlflow.tracking  # noqa: F401

        _imported = True
