"""Rename, annotate, tag, delete and restore one run, through MLflow's client.

Every edit is checked before anything is written, so a refused edit leaves the run as it was;
each returns the run's details after the change, which the editor shows and the CLI prints.
Delete is MLflow's soft delete: `restore_run` brings the run back with everything it had.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlworkbench.errors import InvalidRunEditError
from mlworkbench.explorer.run_details import NOTE_TAG, SYSTEM_PREFIXES, RunDetails, details_of

if TYPE_CHECKING:
    from mlflow.entities import Experiment, Run
    from mlflow.tracking import MlflowClient

MAX_NAME = 250


def rename_run(
    workspace: Path, run_id: str, name: str, *, tracking_uri: str | None = None
) -> RunDetails:
    """Give the run a new display name (surrounding whitespace dropped)."""
    wanted = name.strip()
    if not wanted:
        raise InvalidRunEditError(run_id, "the new name is empty")
    if len(wanted) > MAX_NAME:
        raise InvalidRunEditError(
            run_id, f"the new name has {len(wanted)} characters; at most {MAX_NAME} are allowed"
        )
    client, run, experiment = _open_active(workspace, run_id, tracking_uri)
    _apply(run, lambda: client.update_run(run.info.run_id, name=wanted))
    return _reread(client, run, experiment)


def set_note(
    workspace: Path, run_id: str, text: str, *, tracking_uri: str | None = None
) -> RunDetails:
    """Set the run's note (MLflow's `mlflow.note.content`, shown by the MLflow UI too).

    Empty or blank text removes the note.
    """
    client, run, experiment = _open_active(workspace, run_id, tracking_uri)
    if text.strip():
        _apply(run, lambda: client.set_tag(run.info.run_id, NOTE_TAG, text))
    elif NOTE_TAG in run.data.tags:
        _apply(run, lambda: client.delete_tag(run.info.run_id, NOTE_TAG))
    return _reread(client, run, experiment)


def set_tag(
    workspace: Path, run_id: str, key: str, value: str, *, tracking_uri: str | None = None
) -> RunDetails:
    return edit_tags(workspace, run_id, {key: value}, (), tracking_uri=tracking_uri)


def remove_tag(
    workspace: Path, run_id: str, key: str, *, tracking_uri: str | None = None
) -> RunDetails:
    return edit_tags(workspace, run_id, {}, (key,), tracking_uri=tracking_uri)


def edit_tags(
    workspace: Path,
    run_id: str,
    set_tags: Mapping[str, str],
    remove: Sequence[str],
    *,
    tracking_uri: str | None = None,
) -> RunDetails:
    """Set and remove user tags in one go: every key is checked before any is written.

    The new tags go in one `log_batch`, which MLflow validates as a whole before writing.
    """
    for key in [*set_tags, *remove]:
        check_tag_key(run_id, key)
    both = sorted(set(set_tags) & set(remove))
    if both:
        raise InvalidRunEditError(run_id, f"tag {both[0]!r} is both set and removed")
    if not set_tags and not remove:
        raise InvalidRunEditError(run_id, "no tag to set or remove")
    client, run, experiment = _open_active(workspace, run_id, tracking_uri)
    absent = [key for key in remove if key not in run.data.tags]
    if absent:
        raise InvalidRunEditError(run_id, f"the run has no tag {absent[0]!r}")
    if set_tags:
        from mlflow.entities import RunTag

        tags = [RunTag(key, value) for key, value in set_tags.items()]
        _apply(run, lambda: client.log_batch(run.info.run_id, tags=tags))
    for key in remove:
        _apply(run, functools.partial(client.delete_tag, run.info.run_id, key))
    return _reread(client, run, experiment)


def delete_run(workspace: Path, run_id: str, *, tracking_uri: str | None = None) -> RunDetails:
    """MLflow's soft delete: the run leaves the lists and can be restored."""
    from mlworkbench.explorer.run_lookup import open_run

    client, run, experiment = open_run(workspace, run_id, tracking_uri)
    if run.info.lifecycle_stage == "deleted":
        raise InvalidRunEditError(run_id, "it is already deleted (restore it to bring it back)")
    _apply(run, lambda: client.delete_run(run.info.run_id))
    return _reread(client, run, experiment)


def restore_run(workspace: Path, run_id: str, *, tracking_uri: str | None = None) -> RunDetails:
    from mlworkbench.explorer.run_lookup import open_run

    client, run, experiment = open_run(workspace, run_id, tracking_uri)
    if run.info.lifecycle_stage != "deleted":
        raise InvalidRunEditError(run_id, "it is not deleted, so there is nothing to restore")
    _apply(run, lambda: client.restore_run(run.info.run_id))
    return _reread(client, run, experiment)


def check_tag_key(run_id: str, key: str) -> None:
    """Refuse keys a user cannot own: empty ones and MLflow's / ML Workbench's own."""
    if not key.strip():
        raise InvalidRunEditError(run_id, "the tag key is empty")
    if key.startswith(SYSTEM_PREFIXES):
        raise InvalidRunEditError(
            run_id,
            f"tag {key!r} is reserved (keys starting with 'mlflow.' or 'mlworkbench.' belong "
            "to MLflow and ML Workbench); choose another key",
        )


def _open_active(
    workspace: Path, run_id: str, tracking_uri: str | None
) -> tuple[MlflowClient, Run, Experiment]:
    """MLflow refuses to change a deleted run; say so in our words, before trying."""
    from mlworkbench.explorer.run_lookup import open_run

    client, run, experiment = open_run(workspace, run_id, tracking_uri)
    if run.info.lifecycle_stage == "deleted":
        raise InvalidRunEditError(run_id, "it is deleted; restore it first")
    return client, run, experiment


def _apply(run: Run, write: Callable[[], object]) -> None:
    """Run one client write, turning MLflow's refusal of a value into our typed error."""
    from mlflow.exceptions import MlflowException

    try:
        write()
    except MlflowException as error:
        if error.error_code != "INVALID_PARAMETER_VALUE":
            raise
        raise InvalidRunEditError(run.info.run_id, f"MLflow refused it: {error.message}") from error


def _reread(client: MlflowClient, run: Run, experiment: Experiment) -> RunDetails:
    return details_of(client, client.get_run(run.info.run_id), experiment)
