"""`mlworkbench runs show|rename|note|tag|delete|restore` against a real store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from run_details_store import Store, copy_store, make_store

from mlworkbench.cli import main

pytestmark = pytest.mark.usefixtures("no_tracking_env")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return make_store(tmp_path_factory.mktemp("template"))


@pytest.fixture
def store(template: Store, tmp_path: Path) -> Store:
    return copy_store(template, tmp_path)


def _ok(capsys: pytest.CaptureFixture[str], store: Store, *args: str) -> str:
    assert main(["runs", *args, "--workspace", str(store.workspace)]) == 0
    return capsys.readouterr().out


def _json(capsys: pytest.CaptureFixture[str], store: Store, *args: str) -> dict[str, object]:
    result: dict[str, object] = json.loads(_ok(capsys, store, *args, "--json"))
    return result


def _fails(capsys: pytest.CaptureFixture[str], store: Store, *args: str) -> str:
    assert main(["runs", *args, "--workspace", str(store.workspace)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ")
    return captured.err


def test_show_prints_params_metrics_tags_note_and_the_artifact_tree(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _ok(capsys, store, "show", store.run_id)
    lines = out.splitlines()
    assert lines[0] == f"run {store.run_id}"
    assert "  name        rich" in lines and "  status      FINISHED" in lines
    assert "  args        --c 1.0 --name a b" in lines
    assert "  duration    1m 05s" in lines
    for block in (
        ["note:", "  first try"],
        ["params:", "  c = 1.0", "  solver = lbfgs"],
        ["tags:", "  team = vision"],
    ):
        start = lines.index(block[0])
        assert lines[start : start + len(block)] == block
    assert "  accuracy = 0.875" in lines
    artifacts = lines[lines.index("artifacts:") + 1 :]
    assert "  reports/" in artifacts and "    summary.md  (10 B)" in artifacts
    assert "  mlworkbench/" in artifacts and "    output.log  (16 B)" in artifacts


def test_show_json_is_run_details_plus_the_artifact_list(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = _json(capsys, store, "show", store.run_id)
    assert shown["run_id"] == store.run_id and shown["tags"] == {"team": "vision"}
    assert shown["args"] == ["--c", "1.0", "--name", "a b"]
    paths = [a["path"] for a in shown["artifacts"]]  # type: ignore[attr-defined]
    assert "reports/summary.md" in paths and "mlworkbench/output.log" in paths


def test_a_unique_prefix_of_six_characters_is_accepted(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _json(capsys, store, "show", store.run_id[:8])["run_id"] == store.run_id
    short = _fails(capsys, store, "show", store.run_id[:5])
    assert f"no run {store.run_id[:5]!r}" in short


def test_rename_note_and_tag_print_what_changed_and_json_gives_details(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _ok(capsys, store, "rename", store.run_id, "best") == (
        f"renamed run {store.run_id} to 'best'\n"
    )
    assert _json(capsys, store, "note", store.run_id, "looks good")["note"] == "looks good"
    tagged = _json(capsys, store, "tag", store.run_id, "stage=prod", "url=a=b", "--remove", "team")
    assert tagged["tags"] == {"stage": "prod", "url": "a=b"}
    assert tagged["run_name"] == "best"
    assert _json(capsys, store, "note", store.run_id, "")["note"] is None


@pytest.mark.slow
def test_note_dash_reads_stdin_in_a_real_process(store: Store) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlworkbench", "runs", "note", store.run_id, "-", "--json"],
        input="from\nstdin\n",
        cwd=store.workspace,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["note"] == "from\nstdin"


def test_delete_and_restore(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    out = _ok(capsys, store, "delete", store.run_id)
    assert f"mlworkbench runs restore {store.run_id}" in out
    assert "(deleted)" in _ok(capsys, store, "show", store.run_id).splitlines()[0]
    assert "already deleted" in _fails(capsys, store, "delete", store.run_id)
    assert _json(capsys, store, "restore", store.run_id)["lifecycle_stage"] == "active"
    assert "nothing to restore" in _fails(capsys, store, "restore", store.run_id)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rename", "RUN", "  "], "the new name is empty"),
        (["tag", "RUN", "novalue"], "'novalue' is not KEY=VALUE"),
        (["tag", "RUN", "mlflow.user=me"], "is reserved"),
        (["tag", "RUN", "--remove", "mlworkbench.script"], "is reserved"),
        (["tag", "RUN", "--remove", "absent"], "no tag 'absent'"),
        (["tag", "RUN"], "no tag to set or remove"),
        (["tag", "RUN", "ok=1", "bad;key=2"], "MLflow refused it"),
    ],
)
def test_bad_edits_exit_2_and_change_nothing(
    store: Store, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    before = _json(capsys, store, "show", store.run_id)
    argv = [store.run_id if a == "RUN" else a for a in args]
    assert message in _fails(capsys, store, *argv)
    assert _json(capsys, store, "show", store.run_id) == before


def test_missing_runs_and_deleted_experiments(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "no run '0000000" in _fails(capsys, store, "show", "0" * 32)
    assert "no run 'abcdef'" in _fails(capsys, store, "rename", "abcdef", "x")
    assert "experiment 'wine'" in _fails(capsys, store, "show", store.deleted_experiment_run_id)


def test_usage_errors_of_the_new_actions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "show"]) == 2
    assert main(["runs", "rename", "abc"]) == 2
    assert "the following arguments are required" in capsys.readouterr().err
    assert main(["runs", "--help"]) == 0
    out = capsys.readouterr().out
    for action in ("list", "show", "rename", "note", "tag", "delete", "restore"):
        assert action in out
