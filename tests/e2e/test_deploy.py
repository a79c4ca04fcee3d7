"""Deploy in a real VS Code (code-server) against a real Docker engine.

The workspace's store already has a finished run of a small training script (a
LogisticRegression logged with mlflow.sklearn and an input example), recorded through the real
launcher before the editor opened (report_store.py). The editor's language server talks to a
private `dockerd` this module starts (tests/backend/docker_engine.py: its own socket, data root
and bridge, and a base image debootstrapped here, since there is no registry to pull from),
named by DOCKER_HOST in code-server's environment; the base image is the user's
`mlWorkbench.deploy.baseImage` setting.

A person builds the run's container from its row in the Runs view (the tag suggested, the log
streaming into the Deploy output channel), sees the image in the Deployments view, starts it,
opens a test request (the model's input example), sends it and reads the prediction; then stops
the container. The prediction shown must be the model's own (MLflow's pyfunc in this process).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from codeserver import REPO_ROOT, Editor, Workbench, wait_for
from explorer_store import CONTAINER, RUNS_VIEW, client_for, show_runs
from report_store import RUN_NAME, seeded_editor, shared_editor_for_test, train_model_run

# The private engine's helpers live with the backend's Docker tests.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
from tests.backend.docker_engine import (
    BASE_IMAGE,
    TEST_XDG,
    DockerEngine,
    engine_problem,
    ensure_base_image,
    start_engine,
)

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")

DEPLOYMENTS_VIEW = "Deployments"
BUILD_TIMEOUT = 600  # a first build fills the wheelhouse; later ones take a minute or two
START_TIMEOUT = 180


@pytest.fixture(scope="module")
def engine() -> Iterator[DockerEngine]:
    problem = engine_problem()
    if problem:  # `make test` installs the engine and debootstrap (test-apt)
        pytest.fail(problem)
    started = start_engine()
    try:
        ensure_base_image(started)
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def deploy_editor(
    pw: Any, tmp_path_factory: pytest.TempPathFactory, engine: DockerEngine
) -> Iterator[tuple[Editor, str]]:
    # code-server, and so the language server and its build processes, inherit this
    # environment: the private engine, and the wheel cache the backend's Docker tests filled.
    saved = {key: os.environ.get(key) for key in ("DOCKER_HOST", "XDG_CACHE_HOME")}
    os.environ["DOCKER_HOST"] = engine.base_url
    os.environ["XDG_CACHE_HOME"] = str(TEST_XDG)
    try:
        with seeded_editor(
            pw,
            tmp_path_factory.mktemp("deploy"),
            "deploy-editor",
            seed=train_model_run,
            machine_settings={"mlWorkbench.deploy.baseImage": BASE_IMAGE},
        ) as seeded:
            yield seeded
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def editor(deploy_editor: tuple[Editor, str], request: pytest.FixtureRequest) -> Iterator[Editor]:
    """The module's editor, its screenshots in artifacts/<test name>/ (one more on failure)."""
    with shared_editor_for_test(deploy_editor[0], request) as editor:
        yield editor


def context_menu(wb: Workbench, row: Any, item: str) -> None:
    """Right-click a tree row and choose ``item`` from its context menu."""
    row.click(button="right")
    entry = wb.page.locator(".monaco-menu .action-item .action-label", has_text=item).first
    entry.wait_for(state="visible", timeout=10_000)
    wb.shot(f"menu {item}")
    entry.click()


def deployments_labels(wb: Workbench) -> list[str]:
    return wb.tree_labels(DEPLOYMENTS_VIEW)


def output_text(wb: Workbench) -> str:
    """The text the Output panel shows (its editor's visible lines)."""
    lines = wb.page.locator(".part.panel .monaco-editor .view-lines")
    return str(lines.first.inner_text()).replace("\xa0", " ") if lines.count() else ""


def editor_text(wb: Workbench, tab: re.Pattern[str]) -> str:
    """The visible text of the editor group whose active tab's title matches ``tab``."""
    for group in wb.page.locator(".editor-group-container").all():
        title = group.locator(".tabs-container .tab.active")
        if title.count() and tab.search(title.first.inner_text()):
            lines = group.locator(".monaco-editor .view-lines")
            return str(lines.first.inner_text()).replace("\xa0", " ") if lines.count() else ""
    return ""


def model_predictions(workspace: Path, run_id: str) -> list[Any]:
    """What the run's model predicts, in this process, for its own serving input example."""
    import mlflow.artifacts
    import mlflow.pyfunc
    import pandas as pd

    client = client_for(workspace)
    run = client.get_run(run_id)
    (logged,) = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    model_dir = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=logged.artifact_location, tracking_uri=client.tracking_uri
        )
    )
    example = json.loads((model_dir / "serving_input_example.json").read_text())

    split = example["dataframe_split"]
    frame = pd.DataFrame(split["data"], columns=split["columns"])
    model = mlflow.pyfunc.load_model(str(model_dir))
    return [value.item() if hasattr(value, "item") else value for value in model.predict(frame)]


class TestDeploy:
    def test_build_start_call_and_stop_a_container(
        self, editor: Editor, deploy_editor: tuple[Editor, str]
    ) -> None:
        wb = editor.wb
        _, run_id = deploy_editor
        show_runs(wb)
        wb.run_command("ML Workbench: Refresh Runs")
        row = wb.tree_row(RUNS_VIEW, f"{RUN_NAME}, finished")
        wait_for(lambda: row.count() == 1, 60, message=f"{RUN_NAME} in the Runs view")

        # Build: the tag is suggested from the run; "Build" without the smoke test.
        context_menu(wb, row.first, "Build Container")
        box = wb.page.locator(".quick-input-widget input")
        box.wait_for(state="visible")
        tag = str(box.input_value())
        assert re.fullmatch(rf"mlworkbench-fair-model:{run_id[:8]}", tag), tag
        wb.shot("tag suggested")
        wb.page.keyboard.press("Enter")
        wb.pick("Build")
        # The log streams into the Deploy channel while the build runs.
        wait_for(
            lambda: "packaging" in output_text(wb) or "Step" in output_text(wb),
            120,
            message="the build log in the Output panel",
        )
        wb.shot("build log")
        message = wb.wait_notification(re.compile(r"Built .+ in "), timeout=BUILD_TIMEOUT)
        assert tag in message, message
        wb.shot("built")

        # The image in the Deployments view, started from its row.
        wb.show_view(CONTAINER, DEPLOYMENTS_VIEW)
        wait_for(
            lambda: any(label.startswith(f"Image {tag}") for label in deployments_labels(wb)),
            30,
            message="the image in the Deployments view",
        )
        image_row = wb.view_pane(DEPLOYMENTS_VIEW).locator(
            f'.monaco-list-row[aria-label^="Image {tag}"]'
        )
        assert f"run {run_id[:8]}" in str(image_row.first.get_attribute("aria-label"))
        wb.shot("image listed")
        wb.click_row_action(image_row.first, "Start Container")
        container_row = wb.view_pane(DEPLOYMENTS_VIEW).locator(
            '.monaco-list-row[aria-label^="Container "]'
        )
        wait_for(
            lambda: (
                container_row.count() == 1
                and "healthy" in str(container_row.first.get_attribute("aria-label"))
                and "unhealthy" not in str(container_row.first.get_attribute("aria-label"))
            ),
            START_TIMEOUT,
            message="a healthy container in the Deployments view",
        )
        label = str(container_row.first.get_attribute("aria-label"))
        assert "127.0.0.1:" in label, label
        name = label.split(",")[0].removeprefix("Container ")
        assert name.startswith(tag.replace(":", "-") + "-"), name  # named for what it serves
        wb.shot("container healthy")

        # A test request: the model's input example, sent from the editor's title action.
        wb.click_row_action(container_row.first, "New Test Request")
        wait_for(
            lambda: "dataframe_split" in editor_text(wb, re.compile(r"Untitled")),
            30,
            message="the sample request in an editor",
        )
        wb.shot("test request")
        wb.run_command("ML Workbench: Send Test Request")
        # The answer opens beside the request, in a document named after the container.
        answer_tab = re.compile(re.escape(name))
        wait_for(
            lambda: "HTTP 200" in editor_text(wb, answer_tab),
            60,
            message="the container's answer beside the request",
        )
        answer = editor_text(wb, answer_tab)
        wb.shot("answer")
        body = answer[answer.index("{") : answer.rindex("}") + 1]
        shown = json.loads(body)["predictions"]
        assert shown == model_predictions(editor.workspace, run_id), answer

        # Stop: asked to confirm, then the container is gone from the view (and the engine).
        wb.show_view(CONTAINER, DEPLOYMENTS_VIEW)
        wb.click_row_action(container_row.first, "Stop Container")
        confirm = wb.page.locator(".monaco-dialog-box .monaco-button", has_text="Stop")
        confirm.first.wait_for(state="visible", timeout=10_000)
        wb.shot("confirm stop")
        confirm.first.click()
        wait_for(lambda: container_row.count() == 0, 60, message="the container stopped")
        wb.shot("stopped")
