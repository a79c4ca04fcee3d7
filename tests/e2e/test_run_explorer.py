"""The run explorer in a real VS Code (code-server): filter, compare, rename, artifacts, delete.

The workspace's MLflow store is seeded through MLflow's own client with four runs of one
experiment (params, a 20-step metric history, a text artifact), the way a training script would
have left them; then a person filters the Runs view with `or`, compares three runs in the Compare
panel, renames a run, opens an artifact, and deletes and restores a run. After each edit the store
is read back with MlflowClient: the editor changed it through MLflow, and nothing else changed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
from codeserver import wait_for
from explorer_store import (
    EXPERIMENT,
    RUNS_VIEW,
    SEED,
    client_for,
    quick_input,
    run_labels,
    runs_row,
    seed_store,
    seed_tensorboard_run,
    show_runs,
    toggle,
    wait_editor_shows,
    wait_labels,
)

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")


class TestRunExplorer:
    editor_name = "explorer-editor"
    workspace_files: ClassVar[dict[str, str]] = {}
    ids: ClassVar[dict[str, str]] = {}

    @pytest.fixture(autouse=True)
    def seeded(self, trusted: Any) -> Any:
        """The Runs view lists every seeded run the store still has, under its current name.

        Tests rename a seeded run and delete (then restore) one, and add runs of their own, so
        the names come from the store by the seeded runs' ids, not from SEED, and the view may
        list more. Deleted runs are not expected: the view hides them unless asked.
        """
        from mlflow.entities import LifecycleStage

        if not TestRunExplorer.ids:
            TestRunExplorer.ids = seed_store(trusted.workspace)
        client = client_for(trusted.workspace)
        runs = [client.get_run(run_id) for run_id in TestRunExplorer.ids.values()]
        expected = {
            run.info.run_name for run in runs if run.info.lifecycle_stage == LifecycleStage.ACTIVE
        }
        wb = trusted.wb
        show_runs(wb)
        wb.run_command("ML Workbench: Refresh Runs")
        wait_for(
            lambda: expected <= set(run_labels(wb)),
            60,
            message=f"the seeded runs {sorted(expected)} in the Runs view",
        )
        return trusted

    def test_filter_with_or_and_an_error_at_its_position(self, trusted: Any) -> None:
        wb = trusted.wb
        wait_labels(wb, set(SEED))
        wb.run_command("ML Workbench: Filter Runs…", asks=True)
        try:
            box = quick_input(wb, "Filter runs")
            box.fill("metrics.rmse <")
            message = wb.page.locator(".quick-input-widget .quick-input-message")
            wait_for(
                lambda: "position 14" in message.inner_text(),
                20,
                message="the filter error at position 14",
            )
            assert "expected a number for metrics.rmse" in message.inner_text()
            wb.shot("filter error")
            wb.page.keyboard.press("Enter")  # refused: a bad filter never empties the tree
            query = "metrics.rmse < 0.25 or params.alpha = '0.3'"
            box.fill(query)
            # The box's answer to this later input shows the Enter was handled: the input's
            # events reach the extension in order, and it checks a typed value 200 ms after the
            # Enter's own check went out. Had the Enter been taken, the box would be gone.
            wait_for(
                lambda: "position" not in message.inner_text(), 20, message="the error cleared"
            )
            assert box.is_visible()
            assert set(run_labels(wb)) == set(SEED)
            wb.page.keyboard.press("Enter")
            wait_labels(wb, {"ridge-a", "ridge-c"})
            wb.shot("filtered")
            sidebar = wb.page.locator("#workbench\\.parts\\.sidebar").inner_text()
            assert f"Filter: {query}" in sidebar, sidebar
        finally:
            wb.dismiss_quick_input()
            wb.run_command("ML Workbench: Show All Runs")
        wait_labels(wb, set(SEED))

    def test_compare_three_runs(self, trusted: Any) -> None:
        wb = trusted.wb
        wb.run_command("ML Workbench: Compare Runs", asks=True)
        quick_input(wb, "Compare runs")
        for name in ("ridge-a", "ridge-b", "ridge-c"):
            row = wb.page.locator(".quick-input-widget .monaco-list-row").filter(has_text=name)
            row.first.click()  # a row of a multi-select quick pick toggles its checkbox
        checked = wb.page.locator(".quick-input-widget .monaco-list-row[aria-checked=true]")
        wait_for(lambda: checked.count() == 3, 10, message="three runs checked")
        wb.shot("compare picks")
        wb.page.keyboard.press("Enter")
        frame = wb.wait_webview_frame("table", has_text="ridge-c", timeout=60)
        text = frame.locator("table").first.inner_text()
        for name in ("ridge-a", "ridge-b", "ridge-c"):
            assert name in text, text
        assert "lasso-d" not in text, text
        assert "alpha" in text and "rmse" in text, text
        wb.shot("compare table")
        # The metric charts: one line chart per metric, a legend naming the three runs.
        frame.locator("vscode-tab-header", has_text="Metric charts").click()
        plot = frame.locator(".lines-section .chart-plot svg, .lines-section .chart-plot canvas")
        wait_for(lambda: plot.count() > 0, 60, message="a drawn metric chart")
        legend = frame.locator(".lines-section .legend").inner_text()
        assert all(name in legend for name in ("ridge-a", "ridge-b", "ridge-c")), legend
        wb.shot("compare charts")
        frame.locator("vscode-tab-header", has_text="Parallel coordinates").click()
        drawn = frame.locator("vscode-tab-panel:visible svg, vscode-tab-panel:visible canvas")
        wait_for(lambda: drawn.count() > 0, 60, message="parallel coordinates drawn")
        wb.shot("compare panel")
        # Close it: a webview left as the active editor can take the focus back when the palette
        # closes, and a quick pick a later test opens then closes on that focus-out.
        wb.run_command("View: Close All Editors")
        wait_for(lambda: wb.webview_frame("table") is None, 20, message="the Compare panel closed")

    def test_rename_shows_in_tree_and_store(self, trusted: Any) -> None:
        wb = trusted.wb
        run_id = self.ids["ridge-b"]
        wb.run_command("ML Workbench: Rename Run…", asks=True)
        wb.pick("ridge-b")
        box = quick_input(wb, "Rename run")
        box.fill("ridge-b-renamed")
        wb.page.keyboard.press("Enter")
        wait_for(lambda: "ridge-b-renamed" in run_labels(wb), 30, message="renamed run in the tree")
        wb.shot("renamed")
        stored = client_for(trusted.workspace).get_run(run_id)
        assert stored.info.run_name == "ridge-b-renamed", stored.info
        assert stored.data.params == {"alpha": "0.2"}, stored.data.params
        SEED["ridge-b-renamed"] = SEED.pop("ridge-b")
        self.ids["ridge-b-renamed"] = self.ids.pop("ridge-b")

    def test_note_is_edited_as_a_document_and_saved_to_the_run(self, trusted: Any) -> None:
        wb = trusted.wb
        run_id = self.ids["ridge-a"]
        wb.run_command("ML Workbench: Edit Run Note…", asks=True)
        wb.pick("ridge-a")
        tab = wb.page.locator(".tabs-container .tab", has_text="ridge-a note.md")
        tab.first.wait_for(state="visible", timeout=30_000)
        wb.page.locator(".editor-instance .monaco-editor .view-lines").first.click()
        wb.page.keyboard.type("Baseline for the ridge sweep.")
        wb.page.keyboard.press("Enter")
        wb.page.keyboard.type("alpha 0.1 has the lowest rmse so far.")
        wb.shot("note typed")
        wb.page.keyboard.press("Control+s")
        want = "Baseline for the ridge sweep.\nalpha 0.1 has the lowest rmse so far."

        def stored_note() -> str | None:
            tags: dict[str, str] = client_for(trusted.workspace).get_run(run_id).data.tags
            return tags.get("mlflow.note.content")

        wait_for(lambda: stored_note() == want, 30, message="the note in the store")
        wait_for(
            lambda: "dirty" not in (tab.first.get_attribute("class") or ""),
            10,
            message="the note's tab saved (not dirty)",
        )
        wb.shot("note saved")
        stored = client_for(trusted.workspace).get_run(run_id)
        assert stored.data.params == {"alpha": "0.1"}, stored.data.params
        assert stored.info.run_name == "ridge-a", stored.info

        # Changed elsewhere (a colleague in the MLflow UI) while open: saving asks, not overwrites.
        elsewhere = "Edited in the MLflow UI meanwhile."
        client_for(trusted.workspace).set_tag(run_id, "mlflow.note.content", elsewhere)
        wb.clear_notifications()
        tab.first.click()
        wb.page.keyboard.press("Control+End")
        wb.page.keyboard.type(" More.")
        wb.page.keyboard.press("Control+s")
        wb.wait_notification(re.compile(r"newer"), timeout=30)
        wb.shot("note save conflict")
        assert stored_note() == elsewhere
        wb.run_command("File: Revert File")
        wb.clear_notifications()
        wb.page.keyboard.press("Control+w")
        # The run's Note row in the tree shows the note's first line.
        row = wb.tree_row(RUNS_VIEW, "ridge-a, finished")
        toggle(wb, row)
        note_row = wb.view_pane(RUNS_VIEW).locator(".monaco-list-row", has_text="Note")
        wait_for(
            lambda: note_row.count() > 0 and elsewhere in note_row.first.inner_text(),
            30,
            message="the Note row under ridge-a",
        )
        wb.shot("note in tree")
        toggle(wb, row, "ArrowLeft")

    def test_open_artifact_from_the_tree(self, trusted: Any) -> None:
        wb = trusted.wb
        show_runs(wb)
        row = wb.tree_row(RUNS_VIEW, "ridge-a, finished")
        toggle(wb, row)  # the run
        toggle(wb, runs_row(wb, "Artifacts"))
        # The artifact folder "report", not the run's Reports section (has_text is a case-blind
        # substring; the pattern is neither).
        toggle(wb, runs_row(wb, re.compile(r"\breport\b")))
        runs_row(wb, "summary-ridge-a.txt").first.click()
        wait_editor_shows(wb, "summary-ridge-a.txt", "summary of ridge-a")
        wb.shot("artifact open")
        wb.page.keyboard.press("Control+W")
        toggle(wb, row, "ArrowLeft")  # collapse again

    def test_delete_then_restore(self, trusted: Any) -> None:
        from mlflow.entities import LifecycleStage

        wb = trusted.wb
        run_id = self.ids["lasso-d"]
        wb.run_command("ML Workbench: Delete Run", asks=True)
        wb.pick("lasso-d")
        dialog = wb.page.locator(".monaco-dialog-box")
        dialog.wait_for(state="visible", timeout=20_000)
        wb.shot("delete confirmation")
        dialog.locator(".monaco-button", has_text="Delete").first.click()
        wait_for(
            lambda: "lasso-d" not in run_labels(wb), 30, message="deleted run gone from the tree"
        )
        client = client_for(trusted.workspace)
        assert client.get_run(run_id).info.lifecycle_stage == LifecycleStage.DELETED
        wb.run_command("ML Workbench: Show Deleted Runs")
        row = wb.tree_row(RUNS_VIEW, "lasso-d, deleted")
        wait_for(lambda: row.count() == 1, 30, message="lasso-d under Deleted runs")
        wb.shot("deleted runs")
        wb.click_row_action(row.first, "Restore Run")
        wait_for(
            lambda: (
                "lasso-d" in run_labels(wb)
                and wb.tree_row(RUNS_VIEW, "lasso-d, deleted").count() == 0
            ),
            30,
            message="lasso-d restored",
        )
        assert client.get_run(run_id).info.lifecycle_stage == LifecycleStage.ACTIVE
        stored = client.get_run(run_id)
        assert stored.data.params == {"alpha": "0.5"}, stored.data.params
        assert len(client.get_metric_history(run_id, "rmse")) == 21
        wb.run_command("ML Workbench: Hide Deleted Runs")
        wb.shot("restored")

    def test_register_a_runs_model_and_set_an_alias(self, trusted: Any) -> None:
        import mlflow
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        wb = trusted.wb
        client = client_for(trusted.workspace)
        experiment = client.get_experiment_by_name(EXPERIMENT)
        mlflow.set_tracking_uri(f"sqlite:///{trusted.workspace / 'mlflow.db'}")
        try:
            with mlflow.start_run(experiment_id=experiment.experiment_id, run_name="model-run"):
                x, y = load_iris(return_X_y=True)
                model = LogisticRegression(max_iter=200).fit(x, y)
                mlflow.sklearn.log_model(model, name="model")
        finally:
            mlflow.set_tracking_uri(None)
        wb.run_command("ML Workbench: Refresh Runs")
        wait_for(lambda: "model-run" in run_labels(wb), 30, message="model-run in the Runs view")

        # MLflow 3 keeps the logged model outside the run's artifacts; the run's Models section
        # lists it and opens its MLmodel.
        run_row = wb.tree_row(RUNS_VIEW, "model-run, finished")
        toggle(wb, run_row)
        toggle(wb, runs_row(wb, re.compile(r"^Models\s*1")))
        runs_row(wb, "models:/").first.click()
        wait_editor_shows(wb, "MLmodel", "flavors:")
        wb.shot("logged model MLmodel")
        wb.page.keyboard.press("Control+W")
        toggle(wb, run_row, "ArrowLeft")

        wb.run_command("ML Workbench: Register Model…", asks=True)
        wb.pick("model-run")
        box = quick_input(wb, "Register the run's model")
        box.fill("iris-classifier")
        wb.page.keyboard.press("Enter")
        models = wb.view_pane("Models")
        model_row = models.locator(".monaco-list-row", has_text="iris-classifier")
        model_row.first.wait_for(state="visible", timeout=30_000)
        assert "1 version" in model_row.first.inner_text(), model_row.first.inner_text()
        model_row.first.click()
        wb.page.keyboard.press("ArrowRight")
        version_row = models.locator(".monaco-list-row", has_text="Version 1")
        version_row.first.wait_for(state="visible", timeout=20_000)
        wb.shot("model registered")
        wb.click_row_action(version_row.first, "Set Model Alias")
        box = quick_input(wb, "Alias for iris-classifier version 1")
        box.fill("latest")  # reserved by MLflow: refused before anything is written
        message = wb.page.locator(".quick-input-widget .quick-input-message")
        wait_for(lambda: "latest" in message.inner_text(), 10, message="'latest' refused")
        box.fill("champion")
        wb.page.keyboard.press("Enter")
        alias_row = models.locator(".monaco-list-row", has_text="@champion")
        wait_for(
            lambda: alias_row.count() > 0 or "champion" in version_row.first.inner_text(),
            30,
            message="the alias in the Models view",
        )
        wb.shot("alias set")
        version = client.get_model_version_by_alias("iris-classifier", "champion")
        assert str(version.version) == "1"
        assert version.run_id == next(
            r.info.run_id
            for r in client.search_runs(
                [experiment.experiment_id], "attributes.run_name = 'model-run'"
            )
        )

    def test_tracking_token_reaches_the_server_and_nowhere_else(self, trusted: Any) -> None:
        """The token goes to the tracking server named in the user's settings, and only as the
        scoped variables (never MLflow's own, which MLflow sends to any host a store names)."""
        import json

        from explorer_store import RecordingServer

        wb = trusted.wb
        token = "tok-e2e-7f3a91"
        machine = Path(trusted.server.user_data_dir) / "Machine" / "settings.json"
        original = machine.read_text()
        with RecordingServer() as tracking:
            # `mlWorkbench.trackingUri` is machine-overridable: code-server reads it from the
            # remote machine's settings, the user level of a remote window.
            before = set(trusted.server_pids())
            machine.write_text(
                json.dumps({**json.loads(original), "mlWorkbench.trackingUri": tracking.origin})
            )
            wait_for(lambda: set(trusted.server_pids()) - before, 60, message="restart on URI")
            wb.wait_status("ML Workbench: ready", timeout=60)

            before = set(trusted.server_pids())
            wb.run_command("ML Workbench: Set Tracking Server Token…", asks=True)
            box = quick_input(wb, "MLflow tracking server token")
            assert box.get_attribute("type") == "password"
            box.fill(token)
            wb.page.keyboard.press("Enter")

            def restarted_with(entries: set[bytes]) -> bool:
                for pid in set(trusted.server_pids()) - before:
                    try:
                        env = set(Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"))
                    except OSError:
                        continue
                    if entries <= env and not any(
                        e.startswith(b"MLFLOW_TRACKING_TOKEN=") for e in env
                    ):
                        return True
                return False

            scoped = {
                f"MLWORKBENCH_TRACKING_TOKEN={token}".encode(),
                f"MLWORKBENCH_TRACKING_TOKEN_URI={tracking.origin}".encode(),
            }
            wait_for(lambda: restarted_with(scoped), 60, message="a server with the scoped token")
            wb.wait_status("ML Workbench: ready", timeout=60)
            wb.run_command("ML Workbench: Refresh Runs")
            wait_for(
                lambda: f"Bearer {token}" in tracking.authorizations(),
                60,
                message="the Runs view's request to the tracking server carrying the token",
            )
            wb.shot("token set")
            user_data = Path(trusted.server.user_data_dir)
            for settings in user_data.rglob("settings.json"):
                assert token not in settings.read_text(), settings
            for log in user_data.rglob("*.log"):
                assert token not in log.read_text(errors="replace"), log

            before = set(trusted.server_pids())
            machine.write_text(original)
            wb.run_command("ML Workbench: Clear Tracking Server Token")

            def restarted_without_token() -> bool:
                fresh = set(trusted.server_pids()) - before
                return bool(fresh) and all(
                    b"TRACKING_TOKEN=" not in Path(f"/proc/{pid}/environ").read_bytes()
                    for pid in fresh
                    if Path(f"/proc/{pid}/environ").exists()
                )

            wait_for(restarted_without_token, 60, message="a server restarted without the token")
            wb.wait_status("ML Workbench: ready", timeout=60)

    def test_open_mlflow_ui_on_loopback_then_stop_it(self, trusted: Any) -> None:
        import urllib.error
        import urllib.request
        from http.cookiejar import CookieJar

        from codeserver import descendants

        wb = trusted.wb
        wb.clear_notifications()
        wb.run_command("ML Workbench: Open MLflow UI")
        said = wb.wait_notification(re.compile(r"MLflow UI at (\S+)"), timeout=120)
        url = re.search(r"MLflow UI at (\S+)", said).group(1)  # type: ignore[union-attr]
        wb.shot("mlflow ui started")

        def mlflow_servers() -> dict[int, str]:
            return {
                pid: cmd
                for pid, cmd in descendants(trusted.server.pid).items()
                if "mlflow" in cmd and ("server" in cmd or " ui" in cmd) and "--port" in cmd
            }

        servers = wait_for(mlflow_servers, 30, message="an mlflow server process")
        [cmdline] = list(servers.values())[:1]
        # The server listens on a Unix socket in a private folder; `--port` names the gate that
        # the language server binds on 127.0.0.1 in front of it.
        assert re.search(r"--uds[ \x00]", cmdline), cmdline
        port = re.search(r"--port[ \x00](\d+)", cmdline).group(1)  # type: ignore[union-attr]
        with pytest.raises(urllib.error.HTTPError) as refused:  # no secret, no cookie
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30)
        assert refused.value.code == 403
        # What the editor opened: in code-server its /proxy/<port>/ URL with the gate's secret,
        # whose Host header the gate and MLflow's allow-list must accept too. The gate trades
        # the secret for a cookie and redirects; a browser keeps the cookie, so this client does.
        assert f"/proxy/{port}/?mlwb-token=" in url, url
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        with browser.open(url, timeout=30) as response:
            assert response.status == 200
            assert b"MLflow" in response.read()
            assert "mlwb-token" not in response.url

        wb.run_command("ML Workbench: Stop MLflow UI and TensorBoard")
        wait_for(lambda: not mlflow_servers(), 30, message="the mlflow server stopped")

    def test_open_in_tensorboard_shows_the_runs_scalars_then_stop(self, trusted: Any) -> None:
        import urllib.error
        import urllib.request
        from http.cookiejar import CookieJar

        from codeserver import descendants

        wb = trusted.wb
        seed_tensorboard_run(trusted.workspace, "tb-run")
        wb.run_command("ML Workbench: Refresh Runs")
        wait_for(lambda: "tb-run" in run_labels(wb), 30, message="tb-run in the Runs view")
        wb.clear_notifications()
        wb.run_command("ML Workbench: Open in TensorBoard", asks=True)
        wb.pick("tb-run")
        said = wb.wait_notification(re.compile(r"TensorBoard at (\S+)"), timeout=120)
        url = re.search(r"TensorBoard at (\S+)", said).group(1)  # type: ignore[union-attr]
        wb.shot("tensorboard started")

        def tensorboards() -> dict[int, str]:
            return {
                pid: cmd
                for pid, cmd in descendants(trusted.server.pid).items()
                if "tensorboard" in cmd and "--logdir" in cmd
            }

        started = wait_for(tensorboards, 30, message="a tensorboard process")
        # On a Unix socket in a private folder, never on a TCP port of its own.
        assert all(re.search(r"--socket[ \x00]", cmd) for cmd in started.values()), started
        assert not any(re.search(r"--(host|port)[ \x00=]", cmd) for cmd in started.values())
        # Through the URL the editor opened (code-server's proxy, with the gate's secret): the
        # gate sets its cookie, and with it TensorBoard's own API lists the scalar the run's
        # script logged.
        assert "/proxy/" in url and "?mlwb-token=" in url, url
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        with browser.open(url, timeout=30) as response:
            assert response.status == 200
        base = url.split("?", 1)[0]
        with browser.open(f"{base}data/plugin/scalars/tags", timeout=30) as response:
            assert response.status == 200
            assert b'"loss"' in response.read()
        with pytest.raises(urllib.error.HTTPError) as refused:  # no cookie: the gate says no
            urllib.request.urlopen(f"{base}data/plugin/scalars/tags", timeout=30)
        assert refused.value.code == 403

        wb.run_command("ML Workbench: Stop MLflow UI and TensorBoard")
        wait_for(lambda: not tensorboards(), 30, message="tensorboard stopped")
