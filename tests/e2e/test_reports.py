"""Reports in a real VS Code (code-server): the wizard, the Report panel, the Runs view's Reports.

The workspace's store already has a run of a small training script (a LogisticRegression logged
with mlflow.sklearn, its data in data.csv with two sensitive columns), recorded through the real
launcher before the editor opened (report_store.py). A person then makes a fairness report from
the run's row in the Runs view (kind, data set, target, sensitive features), reads the group
table and chart in the panel, switches the sensitive feature, finds the report under the run's
Reports; opens a 50-group report from there (its first paint is printed as a figure); makes an
explanation report of chosen rows from the palette; and makes private synthetic data from
data.csv. Numbers shown are checked against the report the backend logged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from codeserver import ARTIFACTS_DIR, Editor, Workbench, wait_for
from explorer_store import (
    RUNS_VIEW,
    client_for,
    quick_input,
    runs_row,
    show_runs,
    toggle,
    wait_editor_shows,
)
from report_store import GROUPS, GROUPS_REPORT, RUN_NAME, seeded_editor, shared_editor_for_test

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")

REPORT_TIMEOUT = 240  # a report loads its model in a fresh process


@pytest.fixture(scope="class")
def reports_editor(
    pw: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Editor, str]]:
    with seeded_editor(pw, tmp_path_factory.mktemp("reports"), "reports-editor") as seeded:
        yield seeded


@pytest.fixture
def editor(reports_editor: tuple[Editor, str], request: pytest.FixtureRequest) -> Iterator[Editor]:
    """The class's editor, its screenshots in artifacts/<test name>/ (one more on failure)."""
    with shared_editor_for_test(reports_editor[0], request) as editor:
        yield editor


def logged_report(workspace: Path, run_id: str, name: str) -> dict[str, Any]:
    """The report the backend logged under the run, read back with MLflow's client."""
    local = client_for(workspace).download_artifacts(run_id, f"reports/{name}.json")
    return dict(json.loads(Path(local).read_text()))


def run_row(wb: Workbench) -> Any:
    row = wb.tree_row(RUNS_VIEW, f"{RUN_NAME}, finished")
    wait_for(lambda: row.count() == 1, 60, message=f"{RUN_NAME} in the Runs view")
    return row


def choose(wb: Workbench, step: str, text: str, *, title: str | None = None) -> None:
    """Answer the wizard's quick pick titled '…: <step>' (or ``title``) as a keyboard user does:
    type ``text`` to filter, then Enter takes the first entry left (a click can land on the
    hover of a long entry above it)."""
    box = quick_input(wb, title or f": {step}")
    box.fill(text)
    first = wb.page.locator(".quick-input-widget .monaco-list-row").first
    wait_for(
        lambda: first.is_visible() and text.lower() in first.inner_text().lower(),
        20,
        message=f"{text!r} first in the quick pick",
    )
    wb.shot(f"pick {text}")
    wb.page.keyboard.press("Enter")


def wizard_to_data(wb: Workbench, kind: str) -> None:
    """Pick the kind, then the model if the wizard asks (the run has one: it should not)."""
    choose(wb, "kind", kind)
    heading = wb.page.locator(".quick-input-widget .quick-input-title")
    wait_for(
        lambda: heading.is_visible() and re.search(r": (model|data)$", heading.inner_text()),
        30,
        message="the wizard's model or data step",
    )
    if heading.inner_text().endswith(": model"):
        choose(wb, "model", "model")
    choose(wb, "data", "data.csv")


def report_frame(wb: Workbench, kind: str, text: str) -> Any:
    """The Report panel's frame once it shows a ``kind`` document with ``text`` in a table."""
    try:
        frame = wb.wait_webview_frame("table.report-table", has_text=text, timeout=REPORT_TIMEOUT)
    except TimeoutError:
        wb.notification_center()
        raise
    assert frame.locator("body").get_attribute("data-kind") == kind
    return frame


def first_paint(frame: Any) -> tuple[int, int]:
    """The panel's own figures: ms from the panel's opening to the first table painted, and to
    every chart drawn (the webview keeps them on <body>)."""
    body = frame.locator("body[data-complete-ms]")
    body.wait_for(state="attached", timeout=60_000)
    return int(body.get_attribute("data-first-paint-ms") or -1), int(
        body.get_attribute("data-complete-ms") or -1
    )


def close_editors(wb: Workbench) -> None:
    # A webview left active can take the focus back from the next quick pick.
    wb.run_command("View: Close All Editors")
    wait_for(
        lambda: wb.webview_frame("table.report-table") is None, 20, message="the panels closed"
    )


def visible_table(frame: Any) -> str:
    tables = frame.locator(
        "vscode-tab-panel:visible table.report-table, .choice-content table.report-table"
    )
    return str(tables.first.inner_text())


class TestReports:
    paint: ClassVar[dict[str, tuple[int, int]]] = {}

    def test_fairness_report_from_the_runs_view(
        self, editor: Editor, reports_editor: tuple[Editor, str]
    ) -> None:
        wb = editor.wb
        _, run_id = reports_editor
        show_runs(wb)
        wb.run_command("ML Workbench: Refresh Runs")
        row = run_row(wb)
        wb.shot("runs view")
        wb.click_row_action(row.first, "Create Report")
        wizard_to_data(wb, "Fairness")
        choose(wb, "target", "approved")
        quick_input(wb, ": sensitive features")
        for column in ("sex", "age_group"):
            # A row of a multi-select quick pick toggles its checkbox when clicked.
            wb.page.locator(".quick-input-widget .monaco-list-row").filter(
                has_text=column
            ).first.click()
        checked = wb.page.locator(".quick-input-widget .monaco-list-row[aria-checked=true]")
        wait_for(lambda: checked.count() == 2, 10, message="two sensitive features ticked")
        wb.shot("sensitive features")
        wb.page.keyboard.press("Enter")

        frame = report_frame(wb, "fairness", "female")
        self.paint["fairness (2 features)"] = first_paint(frame)
        wb.shot("fairness report")
        document = logged_report(editor.workspace, run_id, "fairness")
        # The summary figures are the backend's numbers, to 4 significant digits.
        figures = frame.locator(".figure")
        for figure in document["summary"]:
            if isinstance(figure["value"], float):
                card = figures.filter(has=frame.locator(".figure-label", has_text=figure["label"]))
                shown = float(card.locator(".figure-value").inner_text())
                assert shown == pytest.approx(figure["value"], rel=1e-3), figure
        table = visible_table(frame)
        assert "female" in table and "male" in table and "Overall" in table, table
        assert "Accuracy" in table, table
        chart = frame.locator(
            "vscode-tab-panel:visible .chart-plot canvas, vscode-tab-panel:visible .chart-plot svg"
        )
        wait_for(lambda: chart.count() > 0, 60, message="the group chart drawn")

        # Switch the sensitive feature: the table shows the age groups instead.
        frame.locator("vscode-tab-header", has_text="age_group").click()
        wait_for(lambda: "31-50" in visible_table(frame), 20, message="the age_group table")
        assert "female" not in visible_table(frame)
        wb.shot("switched to age_group")
        # And by keyboard: the arrow keys move between tabs, Enter picks one.
        frame.locator("vscode-tab-header", has_text="age_group").focus()
        wb.page.keyboard.press("ArrowLeft")
        wb.page.keyboard.press("Enter")
        wait_for(
            lambda: "female" in visible_table(frame),
            20,
            message="back to the sex table by keyboard",
        )

        close_editors(wb)
        toggle(wb, run_row(wb))
        toggle(wb, runs_row(wb, re.compile(r"^Reports")))
        report_row = wb.tree_row(RUNS_VIEW, "fairness report")
        wait_for(
            lambda: report_row.count() == 1,
            30,
            message="the fairness report under the run's Reports",
        )
        wb.shot("reports section")

    def test_first_paint_of_a_50_group_report(
        self, editor: Editor, capsys: pytest.CaptureFixture[str]
    ) -> None:
        wb = editor.wb
        show_runs(wb)
        row = wb.tree_row(RUNS_VIEW, f"{GROUPS_REPORT} report")
        if row.count() == 0:
            toggle(wb, run_row(wb))
            toggle(wb, runs_row(wb, re.compile(r"^Reports")))
        wait_for(lambda: row.count() == 1, 30, message=f"{GROUPS_REPORT} under the run's Reports")
        row.first.click()
        frame = report_frame(wb, "fairness", f"region-{GROUPS - 1:02d}")
        first, complete = first_paint(frame)
        rows = frame.locator("table.report-table").first.locator("tbody tr")
        assert rows.count() == GROUPS + 1
        flagged = frame.locator("table.report-table").first.locator("tbody tr.flagged")
        assert flagged.count() >= 1, "small groups are shown, marked"
        assert "below the minimum group size" in flagged.first.inner_text()
        wb.shot("50-group report")
        self.paint[f"{GROUPS}-group fairness"] = (first, complete)
        lines = [
            f"  {name}: first table {f} ms, every chart {c} ms"
            for name, (f, c) in self.paint.items()
        ]
        text = "report webview first paint in code-server"
        text += " (from the panel's creation, readReport included):\n"
        text += "\n".join(lines)
        (ARTIFACTS_DIR / "reports-first-paint.txt").write_text(text + "\n")
        with capsys.disabled():
            print(f"\n{text}")

        # Export HTML saves the self-contained file the backend logged beside the JSON.
        target = editor.workspace / "exported-report.html"
        frame.locator("vscode-button", has_text="Export HTML").click()
        box = quick_input(wb, "as HTML")
        box.fill(str(target))
        wb.page.keyboard.press("Enter")
        wait_for(target.is_file, 30, message="the exported HTML file")
        html = target.read_text(errors="replace")
        assert "<script" not in html.lower() and f"region-{GROUPS - 1:02d}" in html
        # Open JSON shows the logged report in an editor.
        frame.locator("vscode-button", has_text="Open JSON").click()
        wait_editor_shows(wb, f"{GROUPS_REPORT}.json", '"kind"')
        wb.shot("report json")
        close_editors(wb)

    def test_explanation_report_of_chosen_rows(self, editor: Editor) -> None:
        wb = editor.wb
        wb.run_command("ML Workbench: Create Report…", asks=True)
        choose(wb, "run", RUN_NAME, title="Create a report on which run?")
        wizard_to_data(wb, "Explanation")
        choose(wb, "target", "approved")
        box = quick_input(wb, ": rows to explain")
        box.fill("0, x")
        message = wb.page.locator(".quick-input-widget .quick-input-message")
        wait_for(
            lambda: "x is not a row number" in message.inner_text(), 10, message="the rows checked"
        )
        box.fill("0, 3")
        wb.page.keyboard.press("Enter")
        frame = wb.wait_webview_frame(
            "body[data-kind=explain] table.report-table", timeout=REPORT_TIMEOUT
        )
        wb.shot("explanation report")
        text = frame.locator("#root").inner_text()
        for feature in ("income", "debt_ratio", "history"):
            assert feature in text, text
        # One option per explained row (tabs for a few): switch to the second row's.
        local = frame.locator("section.report-section").filter(
            has=frame.locator(".choice-label", has_text=re.compile(r"^Row"))
        )
        headers = local.locator("vscode-tab-header")
        assert headers.count() == 2, headers.all_inner_texts()
        assert "Row 0" in headers.nth(0).inner_text() and "Row 3" in headers.nth(1).inner_text()
        before = visible_table(local)
        assert "income" in before, before
        headers.nth(1).click()
        wait_for(lambda: visible_table(local) != before, 20, message="the second row's explanation")
        wb.shot("second row")
        close_editors(wb)

    def test_the_report_lens_starts_on_the_scripts_latest_run(self, editor: Editor) -> None:
        wb = editor.wb
        wb.open_file("train_fair.py")
        wb.wait_lenses("Report…")
        wb.click_lens("Report…")
        quick_input(wb, f"Report on {RUN_NAME}: kind")
        wb.shot("wizard from the lens")
        wb.dismiss_quick_input()
        wb.run_command("View: Close All Editors")

    def test_private_synthetic_data_with_its_ledger(self, editor: Editor) -> None:
        wb = editor.wb
        wb.run_command("ML Workbench: Make Private Synthetic Data…", asks=True)
        choose(wb, "data set", "data.csv")
        # Public ranges of the numeric columns (1,200 rows are too few to estimate them with
        # a share of epsilon): checked as typed.
        box = quick_input(wb, "numeric columns")
        box.fill("income=4:-4")
        message = wb.page.locator(".quick-input-widget .quick-input-message")
        wait_for(lambda: "LOW must be below HIGH" in message.inner_text(), 10, message="bad range")
        box.fill("income=-4:4, debt_ratio=-4:4, history=-4:4, approved=0:1")
        wb.page.keyboard.press("Enter")
        box = quick_input(wb, "epsilon")
        box.fill("0")
        wait_for(lambda: "greater than 0" in message.inner_text(), 10, message="epsilon 0 refused")
        box.fill("1")
        wb.page.keyboard.press("Enter")
        # MST is the one synthesizer so far: the wizard asks once there are several.
        frame = wb.wait_webview_frame(
            "body[data-kind=privacy] table.report-table", timeout=REPORT_TIMEOUT
        )
        wb.shot("privacy report")
        text = frame.locator("#root").inner_text()
        assert re.search(r"epsilon|\u03b5", text, re.I), text
        assert re.search(r"budget|ledger", text, re.I), text
        close_editors(wb)
