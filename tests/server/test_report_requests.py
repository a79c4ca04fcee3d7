"""Report requests through the real server: the CLI verb a request becomes, listing and reading
a run's reports, the wizard's look into a data file, and a report made in a child process.

The store is a real MLflow sqlite file; reports are published with the library's own
`report_publish.publish`, the way the CLI logs them.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from mlworkbench.reports.report_child import run_report
from mlworkbench.reports.report_document import new_document, number_column, table, text_column
from mlworkbench.reports.report_errors import ReportProcessError
from mlworkbench_server.protocol import ERROR_CODES, NOTIFICATIONS, REQUESTS
from mlworkbench_server.reports_requests import report_argv

pytestmark = pytest.mark.usefixtures("no_tracking_env")


def _document() -> Any:
    document = new_document("fairness", "Fairness of <b>model</b>")
    document["summary"] = [{"label": "Accuracy", "value": 0.91}]
    document["sections"] = [
        {
            "id": "by-group",
            "title": "By group",
            "table": table(
                [text_column("group", "Group"), number_column("accuracy", "Accuracy")],
                [{"group": "<script>alert(1)</script>", "accuracy": 0.5}],
                flags=["3 rows: below the minimum group size of 30"],
            ),
        }
    ]
    return document


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A workspace whose store has one run with a fairness report and one with none."""
    from mlflow.tracking import MlflowClient

    from mlworkbench.reports.report_publish import publish

    workspace = tmp_path_factory.mktemp("reports-ws")
    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    experiment = client.create_experiment(
        "reports", artifact_location=(workspace / "mlruns").as_uri()
    )
    with_report = client.create_run(experiment, run_name="with-report").info.run_id
    without = client.create_run(experiment, run_name="without").info.run_id
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workspace / 'mlflow.db'}"
    try:
        publish(_document(), workspace=workspace, run_id=with_report)
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    (workspace / "data.csv").write_text("age,sex,label\n30,F,1\n41,M,0\n52,F,1\n")
    return workspace, with_report, without


def _ask(client: LanguageClient, request: str, **params: Any) -> Any:
    return client.protocol.send_request_async(REQUESTS[request], params)


# --- the verb a request becomes -----------------------------------------------------------


def test_a_request_becomes_an_argument_list_with_one_item_per_flag() -> None:
    argv = report_argv(
        {
            "workspaceUri": "file:///ws",
            "jobId": "j",
            "kind": "fairness",
            "runId": "abc",
            "data": "my data; rm -rf ~.csv",
            "target": "label",
            "sensitive": ["sex", "race"],
            "options": {"min_group_size": 10, "pos_label": "-1"},
        }
    )
    assert argv == [
        "report",
        "fairness",
        "--run=abc",
        "--data=my data; rm -rf ~.csv",
        "--target=label",
        "--sensitive=sex,race",
        "--min-group-size=10",
        "--pos-label=-1",  # a value that looks like a flag stays the flag's value
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"kind": "nope"}, "unknown report kind"),
        ({"kind": "card", "data": "x.csv"}, "does not take 'data'"),
        ({"kind": "explain", "options": {"epsilon": 1}}, "unknown option 'epsilon'"),
        ({"kind": "privacy-query", "options": {"sql": "a\x00b"}}, "NUL"),
    ],
)
def test_a_request_outside_the_verbs_list_is_refused(params: dict[str, Any], message: str) -> None:
    with pytest.raises(JsonRpcException, match=message):
        report_argv({"workspaceUri": "file:///ws", "jobId": "j", **params})  # type: ignore[typeddict-item]


# --- listing and reading ------------------------------------------------------------------


async def test_a_runs_reports_are_listed_and_read_back(
    trusted: LanguageClient, store: tuple[Path, str, str]
) -> None:
    workspace, with_report, without = store
    uri = workspace.as_uri()
    listed = await _ask(trusted, "LIST_REPORTS", workspaceUri=uri, runId=with_report)
    assert [(r.name, r.artifactPath) for r in listed.reports] == [
        ("fairness", "reports/fairness.json")
    ]
    empty = await _ask(trusted, "LIST_REPORTS", workspaceUri=uri, runId=without)
    assert empty.reports == []
    document = await _ask(
        trusted, "READ_REPORT", workspaceUri=uri, runId=with_report, name="fairness"
    )
    assert document.title == "Fairness of <b>model</b>"
    assert document.sections[0].table.flags == ["3 rows: below the minimum group size of 30"]
    html = (workspace / "mlruns").rglob("fairness.html")
    text = next(html).read_text()
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text


async def test_a_missing_or_broken_report_is_a_clear_error(
    trusted: LanguageClient, store: tuple[Path, str, str]
) -> None:
    workspace, with_report, without = store
    uri = workspace.as_uri()
    with pytest.raises(JsonRpcException) as missing:
        await _ask(trusted, "READ_REPORT", workspaceUri=uri, runId=without, name="fairness")
    assert missing.value.code == ERROR_CODES["REPORT_NOT_FOUND"]
    with pytest.raises(JsonRpcException) as outside:
        await _ask(trusted, "READ_REPORT", workspaceUri=uri, runId=with_report, name="../x")
    assert outside.value.code == ERROR_CODES["REPORT_NOT_FOUND"]
    broken = next((workspace / "mlruns").rglob("fairness.json")).parent / "broken.json"
    broken.write_text('{"kind": "fairness", "title": "half')
    with pytest.raises(JsonRpcException) as corrupt:
        await _ask(trusted, "READ_REPORT", workspaceUri=uri, runId=with_report, name="broken")
    assert corrupt.value.code == ERROR_CODES["REPORT_DATA_INVALID"]
    assert broken.read_text() == '{"kind": "fairness", "title": "half'  # reported, not touched
    broken.unlink()


async def test_the_wizard_sees_a_data_files_columns(
    trusted: LanguageClient, store: tuple[Path, str, str]
) -> None:
    workspace, _, _ = store
    preview = await _ask(trusted, "INSPECT_DATA", workspaceUri=workspace.as_uri(), data="data.csv")
    assert preview.path == "data.csv"
    assert [(c.name, c.distinct, c.numeric) for c in preview.columns] == [
        ("age", 3, True),
        ("sex", 2, False),
        ("label", 2, True),
    ]
    with pytest.raises(JsonRpcException) as error:
        await _ask(trusted, "INSPECT_DATA", workspaceUri=workspace.as_uri(), data="nope.csv")
    assert error.value.code == ERROR_CODES["REPORT_DATA_INVALID"]


# --- made in a child process --------------------------------------------------------------


async def test_a_card_is_made_in_a_child_and_logged_under_the_run(
    trusted: LanguageClient, store: tuple[Path, str, str]
) -> None:
    workspace, with_report, _ = store
    progress: list[str] = []

    @trusted.feature(NOTIFICATIONS["REPORT_PROGRESS"])
    def on_progress(params: Any) -> None:
        progress.append(params.message)

    result = await _ask(
        trusted,
        "CREATE_REPORT",
        workspaceUri=workspace.as_uri(),
        jobId="card-1",
        kind="card",
        runId=with_report,
        options={"intended_use": "Ranking <loan> applications; never for hiring."},
    )
    assert result.artifactPath == "reports/card.json"
    assert result.runId == with_report
    assert result.document.kind == "card"
    sections = {s.id: s for s in result.document.sections}
    assert sections["intended-use"].description == "Ranking <loan> applications; never for hiring."
    listed = await _ask(trusted, "LIST_REPORTS", workspaceUri=workspace.as_uri(), runId=with_report)
    assert {r.name for r in listed.reports} == {"card", "fairness"}
    assert "Saving the report" in progress


async def test_a_childs_typed_error_comes_back_with_its_code(
    trusted: LanguageClient, store: tuple[Path, str, str]
) -> None:
    workspace, _, _ = store
    with pytest.raises(JsonRpcException) as error:
        await _ask(
            trusted,
            "CREATE_REPORT",
            workspaceUri=workspace.as_uri(),
            jobId="card-2",
            kind="card",
            runId="0" * 32,
        )
    assert error.value.code == ERROR_CODES["RUN_NOT_FOUND"]


@pytest.mark.slow
def test_a_cancelled_report_stops_its_whole_process_group(tmp_path: Path) -> None:
    """Cancel reaches what the report's process started (here: a tracked run of a sleeper)."""
    script = tmp_path / "sleeper.py"
    marker = tmp_path / "pid"
    script.write_text(
        f"import os, time\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)\n"
    )
    cancelled = threading.Event()

    def cancel_when_started() -> None:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        cancelled.set()

    threading.Thread(target=cancel_when_started, daemon=True).start()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    with pytest.raises(ReportProcessError, match="cancelled"):
        run_report(["run", str(script)], workspace=tmp_path, env=env, cancelled=cancelled)
    pid = int(marker.read_text())
    deadline = time.monotonic() + 15
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (
        not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    )


def test_a_child_that_dies_without_an_error_is_reported_with_its_output(tmp_path: Path) -> None:
    with pytest.raises(ReportProcessError) as error:
        run_report(
            ["--no-such-flag"], workspace=tmp_path, env=dict(os.environ), python=sys.executable
        )
    assert "exited with status 2" in error.value.message
    assert "unrecognized arguments" in error.value.message or "usage" in error.value.message
    assert json.dumps(error.value.data)  # JSON-able for the LSP error
