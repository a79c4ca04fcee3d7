"""Rename, note, tag, delete and restore against a real store; refusals change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_details_store import Store, copy_store, make_store

from mlworkbench.errors import ExperimentDeletedError, InvalidRunEditError, RunNotFoundError
from mlworkbench.explorer.run_details import get_run_details
from mlworkbench.explorer.run_edits import (
    delete_run,
    edit_tags,
    remove_tag,
    rename_run,
    restore_run,
    set_note,
    set_tag,
)

pytestmark = pytest.mark.usefixtures("no_tracking_env")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return make_store(tmp_path_factory.mktemp("template"))


@pytest.fixture
def store(template: Store, tmp_path: Path) -> Store:
    return copy_store(template, tmp_path)


def _tags(store: Store) -> dict[str, str]:
    from mlflow.tracking import MlflowClient

    return dict(MlflowClient(store.uri).get_run(store.run_id).data.tags)


def test_rename_changes_the_name_mlflow_shows(store: Store) -> None:
    details = rename_run(store.workspace, store.run_id, "  baseline v2  ")
    assert details.run_name == "baseline v2"
    assert _tags(store)["mlflow.runName"] == "baseline v2"
    assert get_run_details(store.workspace, store.run_id).run_name == "baseline v2"


@pytest.mark.parametrize(("name", "why"), [("", "empty"), ("  \t ", "empty"), ("x" * 251, "251")])
def test_bad_names_are_refused_and_the_name_kept(store: Store, name: str, why: str) -> None:
    before = _tags(store)
    with pytest.raises(InvalidRunEditError) as raised:
        rename_run(store.workspace, store.run_id, name)
    assert raised.value.code == "INVALID_RUN_EDIT" and why in raised.value.message
    assert _tags(store) == before


def test_a_250_character_name_is_fine(store: Store) -> None:
    assert rename_run(store.workspace, store.run_id, "n" * 250).run_name == "n" * 250


def test_note_sets_mlflows_note_tag_and_empty_text_removes_it(store: Store) -> None:
    assert set_note(store.workspace, store.run_id, "line 1\nline 2").note == "line 1\nline 2"
    assert _tags(store)["mlflow.note.content"] == "line 1\nline 2"
    assert set_note(store.workspace, store.run_id, "").note is None
    assert "mlflow.note.content" not in _tags(store)
    assert set_note(store.workspace, store.plain_id, "  ").note is None  # no note: no-op


def test_set_and_remove_user_tags(store: Store) -> None:
    details = set_tag(store.workspace, store.run_id, "stage", "candidate")
    assert details.tags == {"team": "vision", "stage": "candidate"}
    details = remove_tag(store.workspace, store.run_id, "team")
    assert details.tags == {"stage": "candidate"}
    details = edit_tags(store.workspace, store.run_id, {"a": "1", "b": "2"}, ["stage"])
    assert details.tags == {"a": "1", "b": "2"}


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("mlflow.runName", "reserved"),
        ("mlflow.note.content", "reserved"),
        ("mlworkbench.script", "reserved"),
        ("bad\x00key", "MLflow refused it"),
        ("k" * 251, "MLflow refused it"),
        ("semi;colon", "MLflow refused it"),
    ],
)
def test_bad_tag_keys_are_refused_and_nothing_changes(store: Store, key: str, why: str) -> None:
    before = _tags(store)
    with pytest.raises(InvalidRunEditError) as raised:
        edit_tags(store.workspace, store.run_id, {"fine": "1", key: "v"}, [])
    assert why in raised.value.message
    assert _tags(store) == before  # not even the good key was written
    if why == "reserved":
        with pytest.raises(InvalidRunEditError):
            remove_tag(store.workspace, store.run_id, key)
        assert _tags(store) == before


def test_removing_a_tag_the_run_lacks_or_setting_and_removing_one_is_refused(
    store: Store,
) -> None:
    before = _tags(store)
    with pytest.raises(InvalidRunEditError, match="no tag 'nope'"):
        edit_tags(store.workspace, store.run_id, {"x": "1"}, ["nope"])
    with pytest.raises(InvalidRunEditError, match="both set and removed"):
        edit_tags(store.workspace, store.run_id, {"team": "a"}, ["team"])
    with pytest.raises(InvalidRunEditError, match="no tag to set or remove"):
        edit_tags(store.workspace, store.run_id, {}, [])
    assert _tags(store) == before


def test_delete_is_soft_and_restore_brings_everything_back(store: Store) -> None:
    before = get_run_details(store.workspace, store.run_id)
    deleted = delete_run(store.workspace, store.run_id)
    assert deleted.lifecycle_stage == "deleted"
    assert deleted.params == before.params and deleted.metrics == before.metrics
    restored = restore_run(store.workspace, store.run_id)
    assert restored == before


def test_deleting_twice_or_restoring_an_active_run_says_so(store: Store) -> None:
    with pytest.raises(InvalidRunEditError, match="not deleted"):
        restore_run(store.workspace, store.run_id)
    delete_run(store.workspace, store.run_id)
    with pytest.raises(InvalidRunEditError, match="already deleted"):
        delete_run(store.workspace, store.run_id)
    before = _tags(store)
    for edit in (
        lambda: rename_run(store.workspace, store.run_id, "new"),
        lambda: set_tag(store.workspace, store.run_id, "k", "v"),
        lambda: set_note(store.workspace, store.run_id, "n"),
    ):
        with pytest.raises(InvalidRunEditError, match="restore it first"):
            edit()
    assert _tags(store) == before
    assert get_run_details(store.workspace, store.run_id).lifecycle_stage == "deleted"


def test_edits_of_missing_runs_and_runs_of_deleted_experiments_are_refused(store: Store) -> None:
    with pytest.raises(RunNotFoundError):
        rename_run(store.workspace, "0" * 32, "x")
    with pytest.raises(RunNotFoundError):
        delete_run(store.workspace, "0" * 32)
    with pytest.raises(ExperimentDeletedError):
        restore_run(store.workspace, store.deleted_experiment_run_id)
    with pytest.raises(ExperimentDeletedError):
        set_tag(store.workspace, store.deleted_experiment_run_id, "k", "v")
