"""Open the workspace's MLflow store for reading and editing, with the same safety checks.

Every explorer entry point (listing, details, edits, comparison, the registry) goes through
`open_client`: it never creates a store, never lets MLflow migrate or touch a corrupt one, and
fails fast on an unreachable tracking server. MLflow is imported inside: start-up stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


def open_client(workspace: Path, tracking_uri: str | None = None) -> MlflowClient | None:
    """A client on the workspace's store, or None when the (local) store does not exist yet.

    Raises the library's typed errors: `TrackingStoreCorruptError` (bad or other-schema sqlite
    file, bytes left unchanged), `TrackingStoreTooNewError` (schema revision from a newer
    MLflow, bytes left unchanged), `TrackingStoreReadOnlyError`, `TrackingUnavailableError`.
    """
    from mlflow.tracking import MlflowClient

    uri = checked_tracking_uri(workspace, tracking_uri)
    if uri is None:
        return None
    return MlflowClient(tracking_uri=uri)


def checked_tracking_uri(workspace: Path, tracking_uri: str | None = None) -> str | None:
    """The resolved tracking URI after the pre-open checks; None when no local store exists."""
    from mlworkbench.errors import TrackingStoreCorruptError, TrackingStoreTooNewError
    from mlworkbench.launch.child.store_open import (
        StoreOpenError,
        StoreTooNewError,
        refuse_silent_migration,
        sqlite_path,
    )
    from mlworkbench.launch.preflight import check_reachable, check_sqlite_readable
    from mlworkbench.tracking.network_access import require_local
    from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

    uri = resolve_tracking_uri(workspace, tracking_uri)
    db_path = sqlite_path(uri)
    if db_path is not None:
        if not db_path.exists() or db_path.stat().st_size == 0:
            return None
        check_sqlite_readable(db_path)
        try:
            refuse_silent_migration(db_path)
        except StoreTooNewError as error:
            raise TrackingStoreTooNewError(db_path, error.revision) from error
        except StoreOpenError as error:
            raise TrackingStoreCorruptError(db_path, error.message) from error
    else:
        require_local(uri, "the tracking store")  # Restricted Mode: before anything connects
        if uri.startswith(("http://", "https://")):
            check_reachable(uri)
    return uri
