"""Scale in a real VS Code (code-server): a sweep of a script's parameters, and a run on Ray.

The workspace is a copy of demo/. A person sweeps train_iris.py's `n_estimators` over four
values from the Sweep… lens, two trials at a time with a metric that picks the best, and opens
the Compare panel on the four trials from the notification. Then they start the workbench's local
Ray cluster from the Compute view, send train_iris.py to it with the Run on… lens, watch the
job's log in the run's terminal and see the run finish in the Runs view; the run is read back
from the workspace's store, where the tracking server the run started wrote it. The cluster is
stopped from the Compute view (confirmed in a dialog).

Ray and the tracking server keep their state under a private XDG_STATE_HOME for this module,
which code-server and so the language server inherit; both are stopped after the tests even when
one fails.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from codeserver import Editor, Workbench, wait_for
from explorer_store import CONTAINER, RUNS_VIEW, client_for, quick_input, show_runs
from report_store import seeded_editor, shared_editor_for_test

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")

COMPUTE_VIEW = "Compute"
SWEEP_VALUES = ("5", "10", "15", "20")
SWEEP_TIMEOUT = 300  # four trials, two at a time, on two cores
CLUSTER_TIMEOUT = 180
RAY_RUN_TIMEOUT = 300
LIVE_METRICS_ROOT = "h1.run-name"  # the live metrics page's heading, which names the script


def no_seed(workspace: Path) -> str:
    """The demo scripts alone: no run before the editor opens."""
    return ""


@pytest.fixture(scope="module")
def compute_editor(pw: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Editor]:
    state = Path(tempfile.mkdtemp(prefix="mlwb-e2e-state-"))
    saved = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(state)
    workspace: Path | None = None
    try:
        with seeded_editor(
            pw, tmp_path_factory.mktemp("compute"), "compute-editor", seed=no_seed
        ) as (
            editor,
            _,
        ):
            workspace = editor.workspace
            yield editor
    finally:
        # Whatever the tests left running: the same user's state folder finds it.
        from mlworkbench.compute.ray_cluster import stop_local_cluster
        from mlworkbench.tracking.tracking_server import stop_server

        with contextlib.suppress(Exception):
            stop_local_cluster()
        if workspace is not None:
            with contextlib.suppress(Exception):
                stop_server(workspace)
        if saved is None:
            os.environ.pop("XDG_STATE_HOME", None)
        else:
            os.environ["XDG_STATE_HOME"] = saved


@pytest.fixture
def editor(compute_editor: Editor, request: pytest.FixtureRequest) -> Iterator[Editor]:
    with shared_editor_for_test(compute_editor, request) as editor:
        yield editor


def notification_button(wb: Workbench, message: re.Pattern[str], button: str) -> None:
    """Click ``button`` on the notification toast whose text matches ``message``."""
    toast = wb.page.locator(".notification-toast").filter(has_text=message)
    toast.first.locator(".monaco-button", has_text=button).first.click()


def compute_row(wb: Workbench, label: str) -> Any:
    return wb.view_pane(COMPUTE_VIEW).locator(f'.monaco-list-row[aria-label^="{label}"]')


class TestSweep:
    def test_four_trial_sweep_and_its_comparison(self, editor: Editor) -> None:
        wb = editor.wb
        wb.open_file("train_iris.py")
        wb.wait_lenses("Sweep…", timeout=120)
        wb.click_lens("Sweep…")
        quick_input(wb, "parameters to vary")
        wb.page.locator(".quick-input-widget .monaco-list-row").filter(
            has_text="n_estimators"
        ).first.click()
        wb.page.keyboard.press("Enter")
        box = quick_input(wb, "values of n_estimators")
        box.fill(",".join(SWEEP_VALUES))
        wb.shot("values")
        wb.page.keyboard.press("Enter")
        box = quick_input(wb, "4 trials; how many at once?")
        box.fill("2")
        wb.page.keyboard.press("Enter")
        box = quick_input(wb, "the metric that picks the best trial")
        box.fill("training_accuracy_score")
        wb.page.keyboard.press("Enter")
        wb.pick("Highest is best")
        done = re.compile(r"Sweep (finished|failed)")
        message = wb.wait_notification(done, timeout=SWEEP_TIMEOUT)
        wb.shot("sweep done")
        assert "Sweep finished: 4 finished of 4 trials. Best: trial" in message, message
        assert "training_accuracy_score=" in message, message

        # The four trials are child runs of one parent in the store.
        client = client_for(editor.workspace)
        runs = client.search_runs(experiment_ids=["0"], max_results=50)
        trials = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
        assert sorted(r.data.params["n_estimators"] for r in trials) == sorted(SWEEP_VALUES)
        assert {r.info.status for r in trials} == {"FINISHED"}
        assert len({r.data.tags["mlflow.parentRunId"] for r in trials}) == 1

        notification_button(wb, done, "Compare Trials")
        frame = wb.wait_webview_frame("table", timeout=60)
        wait_for(
            lambda: all(
                r.info.run_name in frame.locator("table").first.inner_text() for r in trials
            ),
            30,
            message="the four trials in the Compare table",
        )
        wb.shot("comparison")
        wb.run_command("View: Close All Editors")


class TestRayTarget:
    def test_start_cluster_run_on_it_and_stop(self, editor: Editor) -> None:
        wb = editor.wb
        wb.show_view(CONTAINER, COMPUTE_VIEW)
        stopped = compute_row(wb, "Local Ray cluster: stopped")
        wait_for(lambda: stopped.count() == 1, 60, message="the stopped local cluster's row")
        wb.shot("compute view")
        wb.click_row_action(stopped.first, "Start Local Ray Cluster")
        wb.wait_notification("the local Ray cluster is running at", timeout=CLUSTER_TIMEOUT)
        running = compute_row(wb, "Local Ray cluster: reachable")
        wait_for(lambda: running.count() == 1, 30, message="the running cluster's row")
        label = str(running.first.get_attribute("aria-label"))
        assert re.search(r"1 node · \d+(\.\d)? CPUs", label), label
        wb.shot("cluster running")

        wb.open_file("train_iris.py")
        wb.wait_lenses("Run on…", timeout=60)
        wb.click_lens("Run on…")
        quick_input(wb, "on…")
        wb.pick("Local Ray cluster")
        message = wb.wait_notification(
            re.compile(r"train_iris\.py (finished|failed)"), timeout=RAY_RUN_TIMEOUT
        )
        wb.shot("ray run ended")
        # The primary metric, read back from the tracking server at the end.
        assert re.fullmatch(r"ML Workbench: train_iris\.py finished — \S+ \S+\.", message), message
        text = wb.terminal_text()
        assert "accuracy:" in text, text  # the job's own output, streamed
        assert "View run" not in text, text  # MLflow's link to the token-gated server: useless

        # The live chart, fed from the tracking server while the job ran: its table has rows.
        frame = wb.wait_webview_frame(LIVE_METRICS_ROOT, has_text="train_iris.py", timeout=60)
        metric_keys = frame.locator("table.last-values th.metric-key")
        keys = wait_for(
            lambda: [k.strip() for k in metric_keys.all_inner_texts()],
            60,
            message="metric rows in the Ray run's live metrics table",
        )
        assert any(k.startswith("training_") for k in keys), keys
        assert any("on Local Ray cluster" in name for name in wb.terminal_names()), (
            wb.terminal_names()
        )

        # The run, in the workspace's store (the tracking server's backend) and the Runs view.
        client = client_for(editor.workspace)
        (run,) = [
            r
            for r in client.search_runs(experiment_ids=["0"], max_results=50)
            if r.data.tags.get("mlworkbench.compute_target") == "ray"
        ]
        assert run.info.status == "FINISHED"
        assert run.data.params.get("n_estimators") == "100"
        assert run.data.tags["mlworkbench.ray_job_id"] in text or "Running entrypoint" in text
        show_runs(wb)
        wb.run_command("ML Workbench: Refresh Runs")
        row = wb.tree_row(RUNS_VIEW, f"{run.info.run_name}, finished")
        wait_for(lambda: row.count() >= 1, 30, message="the Ray run, finished, in the Runs view")
        wb.shot("ray run in the runs view")

        wb.show_view(CONTAINER, COMPUTE_VIEW)
        running = compute_row(wb, "Local Ray cluster: reachable")
        wb.click_row_action(running.first, "Stop Local Ray Cluster")
        wb.page.locator(".monaco-dialog-box .monaco-button", has_text="Stop Cluster").first.click()
        wb.wait_notification("the local Ray cluster is stopped", timeout=60)
        wait_for(
            lambda: compute_row(wb, "Local Ray cluster: stopped").count() == 1,
            30,
            message="stopped",
        )
        wb.shot("cluster stopped")
