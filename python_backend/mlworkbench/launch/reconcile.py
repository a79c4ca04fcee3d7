"""Mark runs FAILED whose process is gone: the editor crashed, the machine rebooted.

A run's process records its own end; a run still RUNNING whose process no longer exists will
never be ended by anyone, and would show as running forever. Runs carry host, boot id, pid
and the pid's kernel start time (tags), so a reused pid or a reboot is told from a live run.
Runs of other hosts, and runs not started by ML Workbench, are left alone.
"""

from __future__ import annotations

import functools

from mlworkbench.errors import TrackingStoreCorruptError
from mlworkbench.launch.child.proc_info import boot_id, host_name, is_same_process, start_time
from mlworkbench.launch.child.retry import call_with_retry
from mlworkbench.launch.child.store_open import StoreOpenError, refuse_silent_migration, sqlite_path
from mlworkbench.launch.preflight import check_reachable, check_sqlite_store

TAG = "mlworkbench."
PAGE = 1000


def stale_reason(tags: dict[str, str], current_boot: str | None) -> str | None:
    """Why the run with these tags can no longer be running, or None if it may be."""
    pid_text = tags.get(TAG + "pid")
    if pid_text is None or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    run_boot = tags.get(TAG + "boot_id")
    if run_boot and current_boot and run_boot != current_boot:
        return "the machine restarted while the run was running"
    started = tags.get(TAG + "pid_start_time")
    if is_same_process(pid, started):
        return None
    if start_time(pid) is not None:
        return f"the run's process (pid {pid}) ended; that pid now belongs to another process"
    return (
        f"the run's process (pid {pid}) ended without recording the end of the run "
        "(the editor or the machine stopped while it ran)"
    )


def reconcile_stale_runs(tracking_uri: str) -> list[str]:
    """Mark this host's dead RUNNING runs FAILED with tag `mlworkbench.error`; return their
    ids. A store that does not exist yet is not created."""
    from mlflow.entities import RunTag, ViewType
    from mlflow.tracking import MlflowClient

    db_path = sqlite_path(tracking_uri)
    if db_path is not None:
        if not db_path.exists() or db_path.stat().st_size == 0:
            return []
        check_sqlite_store(db_path)
        try:
            refuse_silent_migration(db_path)  # opening it with MLflow would migrate it
        except StoreOpenError as error:
            raise TrackingStoreCorruptError(db_path, error.message) from error
    elif tracking_uri.startswith(("http://", "https://")):
        check_reachable(tracking_uri)

    client = MlflowClient(tracking_uri)
    experiment_ids = [
        e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
    ]
    if not experiment_ids:
        return []
    query = f"attributes.status = 'RUNNING' and tags.`{TAG}host` = '{host_name()}'"
    current_boot = boot_id()
    ended: list[str] = []
    token: str | None = None
    while True:
        page = client.search_runs(
            experiment_ids, filter_string=query, max_results=PAGE, page_token=token
        )
        for run in page:
            reason = stale_reason(run.data.tags, current_boot)
            if reason is None:
                continue
            run_id = run.info.run_id
            tags = [RunTag(TAG + "error", reason)]
            call_with_retry(functools.partial(client.log_batch, run_id, tags=tags))
            call_with_retry(functools.partial(client.set_terminated, run_id, "FAILED"))
            ended.append(run_id)
        token = page.token
        if not token:
            return ended
