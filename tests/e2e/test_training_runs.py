"""Tracked training runs, proven in a real VS Code (code-server) through its UI and on disk.

A person clicks the Run lens above a training script's ``__main__`` guard and sees: the output
streaming into the run's own terminal (whose first line names the MLflow run), the live metrics
panel beside the editor, the run in the Runs view with its end state, a notification when it
ends, and the "N runs" lens. Cancelling a long run (the Runs view's inline action, Ctrl+C in its
terminal, the "1 run" status bar item, the Cancel Run command) ends it KILLED with nothing of it
left running; a crashing script ends FAILED with its error in the notification and the store.
The workspace's MLflow store (``mlflow.db``) is read back with MlflowClient to check that it
agrees with what the editor shows.

Each test finds its own run by the run id in its terminal's header, so the tests do not depend
on one another's order.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from codeserver import Editor, Workbench, processes_with, wait_for

# Reading the store imports MLflow, whose SQLAlchemy use warns; not this project's concern.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")

SERVER_START_S = 60
CONTAINER = "ML Workbench"
RUNS_VIEW = "Runs"
HEADER = re.compile(r"run ([0-9a-f]{32}) · pid (\d+) · \(defaults\) · Ctrl\+C cancels")
RUN_NAME = "h1.run-name"

SLOW_TRAIN = '''\
"""A long training loop (two minutes) that the cancel tests stop early."""

import time

import sklearn  # noqa: F401  (a framework import makes this a training script)


def main() -> None:
    for epoch in range(1, 241):
        print(f"epoch {epoch}")
        time.sleep(0.5)


if __name__ == "__main__":
    main()
'''

CRASH_TRAIN = '''\
"""A training script that fails on bad data."""

import sklearn  # noqa: F401


def main() -> None:
    raise ValueError("bad column: age")


if __name__ == "__main__":
    main()
'''


# --- helpers -----------------------------------------------------------------------------------


@dataclass
class Transcript:
    """Everything one run's terminal has shown. xterm renders only the rows on screen, so each
    look at the (active) terminal merges the rows it sees into what earlier looks saw."""

    wb: Workbench
    lines: list[str] = field(default_factory=list)

    def look(self) -> str:
        rows = [row.rstrip() for row in self.wb.terminal_text().splitlines()]
        self.lines = merge_rows(self.lines, [row for row in rows if row])
        return self.text

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait(self, pattern: str | re.Pattern[str], timeout: float) -> re.Match[str]:
        regex = re.compile(re.escape(pattern)) if isinstance(pattern, str) else pattern
        try:
            return wait_for(
                lambda: regex.search(self.look()),
                timeout,
                interval=0.3,
                message=f"{regex.pattern!r} in the run's terminal",
            )
        except TimeoutError as exc:
            self.wb.shot(f"terminal without {regex.pattern}")
            raise AssertionError(f"{exc}; the terminal showed:\n{self.text}") from None


def merge_rows(seen: list[str], screen: list[str]) -> list[str]:
    """``seen`` continued by ``screen``: the screen starts where it overlaps the end of
    ``seen`` (it scrolled, or shows what it showed before), else it all comes after it."""
    for start in range(len(seen)):
        tail = seen[start:]
        common = min(len(tail), len(screen))
        if common and tail[:common] == screen[:common]:
            return seen[:start] + (screen if len(screen) >= len(tail) else tail)
    return seen + screen


@dataclass
class StartedRun:
    script: str
    run_id: str
    pid: int
    terminal: Transcript


def open_script(editor: Editor, name: str) -> None:
    """Open a workspace script and reveal its ``__main__`` guard, where the lenses sit."""
    editor.wb.open_file(name)
    lines = (editor.workspace / name).read_text().splitlines()
    guard = next(i for i, line in enumerate(lines, 1) if line.startswith("if __name__"))
    editor.wb.go_to_line(guard)


def start_from_lens(editor: Editor, script: str) -> StartedRun:
    """Click the Run lens on ``script``; wait for its terminal and the header naming the run."""
    wb = editor.wb
    open_script(editor, script)
    wb.wait_lenses("Run", timeout=SERVER_START_S)
    wb.shot(f"{script} lenses")
    terminal_name = f"ML Workbench: {script}"
    # An earlier run of the script left a terminal of the same name: wait for one more.
    before = wb.terminal_tabs().count(terminal_name)
    wb.click_lens("Run")
    wait_for(
        lambda: wb.terminal_tabs().count(terminal_name) > before,
        60,
        message=f"a new terminal named {terminal_name!r}",
    )
    transcript = Transcript(wb)
    header = transcript.wait(HEADER, 60)
    wb.shot(f"{script} started")
    return StartedRun(script, header.group(1), int(header.group(2)), transcript)


def script_path(editor: Editor, script: str) -> str:
    return str((editor.workspace / script).resolve())


@contextlib.contextmanager
def no_leftover(editor: Editor, script: str) -> Iterator[None]:
    """On the way out, kill (by pid) whatever still runs ``script``: a failed test must not
    leave a two-minute run going under the next one."""
    try:
        yield
    finally:
        for pid in processes_with(script_path(editor, script)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def stored_run(editor: Editor, run_id: str) -> Any:
    """The run as the workspace's MLflow store has it (mlflow.entities.Run)."""
    from mlflow.tracking import MlflowClient

    db = editor.workspace / "mlflow.db"
    assert db.is_file(), f"no MLflow store at {db}: {sorted(os.listdir(editor.workspace))}"
    return MlflowClient(tracking_uri=f"sqlite:///{db}").get_run(run_id)


def stored_runs_of(editor: Editor, script: str) -> list[Any]:
    """Every run of ``script`` in the workspace's MLflow store, by its mlworkbench.script tag."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{editor.workspace / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    runs = client.search_runs(experiments, run_view_type=ViewType.ALL, max_results=1000)
    target = script_path(editor, script)
    return [
        run
        for run in runs
        if str(Path(run.data.tags.get("mlworkbench.script", "/")).resolve()) == target
    ]


STATE_ICONS = {
    "running": ".codicon-sync.codicon-modifier-spin",
    "finished": ".codicon-pass",
    "failed": ".codicon-error",
    "killed": ".codicon-circle-slash",
}


def run_row(editor: Editor, run_id: str, state: str, timeout: float = 30) -> Any:
    """Wait until the Runs view lists the run (by its MLflow name) as ``state``, with that
    state's icon; return the row."""
    wb = editor.wb
    wb.show_view(CONTAINER, RUNS_VIEW)
    name = stored_run(editor, run_id).info.run_name
    row = wb.tree_row(RUNS_VIEW, f"{name}, {state}")
    try:
        wait_for(lambda: row.count() == 1, timeout, message=f"run {name!r} shown {state}")
    except TimeoutError as exc:
        wb.shot(f"runs view without {name} {state}")
        raise AssertionError(f"{exc}; the Runs view lists {wb.tree_labels(RUNS_VIEW)}") from None
    icons = row.locator(".custom-view-tree-node-item-icon, .codicon").evaluate_all(
        "els => els.map(e => e.className)"
    )
    assert row.locator(STATE_ICONS[state]).count() == 1, f"{name} {state}: icons {icons}"
    return row


def metrics_frame(editor: Editor, script: str, timeout: float = 60) -> Any:
    """The live metrics webview of a run of ``script``."""
    return editor.wb.wait_webview_frame(RUN_NAME, has_text=script, timeout=timeout)


def panel_state(frame: Any) -> str | None:
    """What the live metrics page shows: 'chart', or its visible empty-state text."""
    if frame.locator("section.charts svg, section.charts canvas").count():
        return "chart"
    empty = frame.locator("p.empty-state")
    if empty.count() and empty.first.is_visible():
        return empty.first.inner_text().strip()
    return None


def panel_says(editor: Editor, script: str, status: str, empty: str | None = None) -> None:
    """The run's live metrics page shows ``status`` (and, if given, the ``empty`` text)."""
    frame = metrics_frame(editor, script)
    label = frame.locator(".run-status-label")
    try:
        wait_for(lambda: label.inner_text().strip() == status, 15, message=f"panel {status!r}")
    except TimeoutError as exc:
        editor.wb.shot(f"panel not {status}")
        raise AssertionError(f"{exc}; it says {label.inner_text()!r}") from None
    if empty is not None:
        assert panel_state(frame) == empty, panel_state(frame)


def wait_run_count_lens(editor: Editor, pattern: str, timeout: float = 20) -> list[str]:
    """Wait until the active editor's lenses include the ``N runs · last: …`` lens matching
    ``pattern`` (a regex); return the lenses."""
    regex = re.compile(pattern)
    wb = editor.wb
    try:
        return list(
            wait_for(
                lambda: (
                    (lenses := wb.code_lenses()) and any(map(regex.fullmatch, lenses)) and lenses
                ),
                timeout,
                message=f"a code lens matching {pattern!r}",
            )
        )
    except TimeoutError as exc:
        wb.shot("run count lens missing")
        raise AssertionError(f"{exc}; lenses now: {wb.code_lenses()}") from None


def no_process_left(editor: Editor, script: str, timeout: float = 15) -> None:
    path = script_path(editor, script)
    try:
        wait_for(lambda: not processes_with(path), timeout, message=f"no process runs {path}")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; still running: {processes_with(path)}") from None


# --- tests -------------------------------------------------------------------------------------


class TestTrackedRuns:
    """One trusted editor; each test starts its own run and finds it by its run id."""

    editor_name = "runs-editor"  # its logs: artifacts/runs-editor/logs/
    # Written before the editor opens, so Quick Open lists them at once.
    workspace_files: ClassVar[dict[str, str]] = {
        "slow_train.py": SLOW_TRAIN,
        "crash_train.py": CRASH_TRAIN,
    }

    def test_run_lens_tracks_iris_run(self, trusted: Editor) -> None:
        wb = trusted.wb
        wb.wait_status("ML Workbench: ready", timeout=SERVER_START_S)
        wb.clear_notifications()
        run = start_from_lens(trusted, "train_iris.py")
        assert run.pid > 0

        # The live metrics panel opens beside the editor, titled after the script.
        tab = wb.page.locator(".tabs-container .tab", has_text="Metrics: train_iris.py")
        tab.first.wait_for(state="visible", timeout=30_000)
        frame = metrics_frame(trusted, "train_iris.py")
        shown = wait_for(lambda: panel_state(frame), 30, message="the live metrics page content")
        wb.shot("metrics panel")
        assert shown in {"chart", "Waiting for the first metric…", "This run logged no metrics."}

        run.terminal.wait(re.compile(r"accuracy: [01]\.\d{4}"), 180)
        run.terminal.wait("[run finished]", 120)
        wb.shot("terminal finished")
        assert not re.search(r"\[run (failed|killed)", run.terminal.text), run.terminal.text

        message = wb.wait_notification("train_iris.py finished", timeout=30)
        assert re.fullmatch(r"ML Workbench: train_iris\.py finished — \S+ \S+\.", message), message

        # Once ended, the panel's table lists the metrics sklearn autologging logged at the end.
        frame = metrics_frame(trusted, "train_iris.py")
        metric_keys = frame.locator("table.last-values th.metric-key")
        keys = wait_for(
            lambda: [k.strip() for k in metric_keys.all_inner_texts()],
            30,
            message="metric rows in the live metrics table",
        )
        wb.shot("metrics table")
        assert any(k.startswith("training_") for k in keys), keys
        status = frame.locator(".run-status-label").inner_text().strip()
        assert status == "Finished", status
        # One chart per metric, in the table's (key) order, each drawn by Vega.
        charts = frame.locator("section.charts figure.chart")
        charts.first.scroll_into_view_if_needed()
        wb.shot("metrics charts")
        titles = [t.strip() for t in charts.locator(".chart-title").all_inner_texts()]
        assert sorted(titles) == sorted(keys), (titles, keys)
        drawn = wait_for(
            lambda: charts.locator("svg, canvas").count() >= len(keys) or None,
            15,
            message="every chart drawn",
        )
        assert drawn
        # Checked now, asserted at the end (the other checks do not depend on it): the charts
        # keep the metrics' key order (media/liveMetrics/main.ts promises it "whatever order
        # their first points arrive in"), like the table above them.
        problems = []
        if titles != keys:
            problems.append(f"charts out of the table's key order: {titles} vs table {keys}")

        row = run_row(trusted, run.run_id, "finished")
        wb.shot("runs view finished")
        description = row.locator(".label-description").inner_text()
        assert description.startswith("train_iris.py · "), description

        # The store agrees: one finished run of the script, the one the terminal named.
        runs = stored_runs_of(trusted, "train_iris.py")
        assert [r.info.run_id for r in runs] == [run.run_id], [r.info for r in runs]
        stored = runs[0]
        assert stored.info.status == "FINISHED", stored.info
        assert stored.data.params.get("n_estimators") == "100", stored.data.params
        assert any(k.startswith("training_") for k in stored.data.metrics), stored.data.metrics

        # The lenses now count the run; that lens filters the Runs view to the script.
        open_script(trusted, "train_iris.py")
        lenses = wait_run_count_lens(trusted, r"1 run · last: \S+ [-+.\de]+")
        wb.shot("run count lens")
        count_lens = next(lens for lens in lenses if lens.startswith("1 run · last: "))
        wb.click_lens(count_lens)
        show_all = wb.page.locator(
            '#workbench\\.parts\\.sidebar .action-label[aria-label^="Show All Runs"]'
        )
        try:
            show_all.first.wait_for(state="visible", timeout=15_000)
            wb.shot("runs filtered")
            assert wb.tree_labels(RUNS_VIEW)[-1] == f"{stored.info.run_name}, finished"
            # The view says what it is filtered to (runsTree.ts sets the view's message, after
            # the context keys that show the button above: wait for it, don't read it at once).
            sidebar = wb.page.locator("#workbench\\.parts\\.sidebar")
            with contextlib.suppress(TimeoutError):
                wait_for(
                    lambda: "train_iris.py only" in sidebar.inner_text(),
                    10,
                    message="the filtered Runs view's message",
                )
            if "train_iris.py only" not in sidebar.inner_text():
                problems.append(
                    "the filtered Runs view does not show 'train_iris.py only'; the sidebar "
                    f"reads {sidebar.inner_text()!r}"
                )
        finally:
            if show_all.count() and show_all.first.is_visible():
                show_all.first.click()
        show_all.first.wait_for(state="hidden", timeout=15_000)

        assert not problems, "\n".join(problems)

    @pytest.mark.parametrize("how", ["runs view", "ctrl+c", "status bar", "palette"])
    def test_long_run_is_cancelled(self, trusted: Editor, how: str) -> None:
        wb = trusted.wb
        script = "slow_train.py"
        wb.clear_notifications()
        with no_leftover(trusted, script):
            run = start_from_lens(trusted, script)
            run.terminal.wait(re.compile(r"^epoch 2$", re.M), 60)
            wait_for(lambda: wb.status("1 run"), 10, message="'1 run' in the status bar")
            wb.shot("running")
            alive = processes_with(script_path(trusted, script))
            assert run.pid in alive, (run.pid, alive)

            if how == "runs view":
                row = run_row(trusted, run.run_id, "running")
                wb.click_row_action(row, "Cancel Run")
            elif how == "ctrl+c":
                wb.focus_terminal()
                wb.page.keyboard.press("Control+C")
            else:
                # Both open the picker of running runs (label: script, description: its
                # duration and run id prefix). The status bar then asks what to do with the
                # one picked; the palette's Cancel Run cancels it straight away.
                if how == "status bar":
                    running = wb.page.locator(
                        "#workbench\\.parts\\.statusbar .statusbar-item", has_text="1 run"
                    )
                    running.first.click()
                    wb.pick(run.run_id[:8])
                    wb.pick(re.compile(r"^Cancel run$"))
                else:
                    wb.run_command("ML Workbench: Cancel Run", asks=True)
                    wb.pick(run.run_id[:8])
            wb.shot(f"cancelled from the {how}")

            run.terminal.wait("[run killed]", 30)
            wb.shot("terminal killed")
            if how == "ctrl+c":
                assert "^C — cancelling the run…" in run.terminal.text, run.terminal.text
            epochs = [int(n) for n in re.findall(r"^epoch (\d+)$", run.terminal.text, re.M)]
            assert epochs and max(epochs) < 60, f"the run went on: {epochs}"

            message = wb.wait_notification(f"{script} was cancelled", timeout=30)
            assert message == f"ML Workbench: {script} was cancelled.", message
            panel_says(trusted, script, "Killed", "This run logged no metrics.")
            run_row(trusted, run.run_id, "killed")
            wb.shot("runs view killed")
            wait_for(lambda: wb.status("1 run") is None, 15, message="the running status item gone")

            assert stored_run(trusted, run.run_id).info.status == "KILLED"
            # The script's lenses count the run and say how the last one ended.
            wait_run_count_lens(trusted, r"\d+ runs? · last: killed")
            no_process_left(trusted, script)
            wb.shot("lens after cancel")
            # And it stays stopped: no epoch after the end line. No waiting needed: the server
            # flushes a run's output before its final status (the end line comes from that
            # status), and no process of the script is left to print more.
            text = run.terminal.look()
            assert text.rstrip().endswith("[run killed]"), text

    def test_crashing_script_fails_with_its_error(self, trusted: Editor) -> None:
        wb = trusted.wb
        script = "crash_train.py"
        wb.clear_notifications()
        with no_leftover(trusted, script):
            run = start_from_lens(trusted, script)
            run.terminal.wait("[run failed: exit code 1]", 60)
            wb.shot("terminal failed")
            assert "ValueError: bad column: age" in run.terminal.text, run.terminal.text

            message = wb.wait_notification(f"{script} failed", timeout=30)
            assert message.startswith(f"ML Workbench: {script} failed (exit code 1)"), message
            assert "bad column: age" in message, message

            panel_says(trusted, script, "Failed", "This run logged no metrics.")
            run_row(trusted, run.run_id, "failed")
            wb.shot("runs view failed")

            stored = stored_run(trusted, run.run_id)
            assert stored.info.status == "FAILED", stored.info
            tail = stored.data.tags.get("mlworkbench.error_tail", "")
            assert "bad column: age" in tail, stored.data.tags
            wait_run_count_lens(trusted, r"\d+ runs? · last: failed")
            wb.shot("lens after failure")
            no_process_left(trusted, script)
