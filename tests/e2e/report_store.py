"""The reports e2e's workspace: a trained model's run, recorded before the editor opens.

A small training script trains a LogisticRegression on generated loan applicants with two
sensitive columns the model never sees (`sex`, `age_group`), writes them to `data.csv`, and logs
the model with `mlflow.sklearn`. It is run through the real launcher (`mlworkbench run`'s
`start_run`), so the run is what a person's would be. Then a second fairness report, over a
50-group column, is computed by the library and logged under the same run: opening it from the
Runs view times the Report panel's first paint on a large report without waiting for a model.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from codeserver import (
    ARTIFACTS_DIR,
    VENV_PYTHON,
    CodeServer,
    Editor,
    Workbench,
    install_extension,
    launch_chromium,
    make_workspace,
    write_settings,
)

RUN_NAME = "fair-model"
GROUPS_REPORT = "fairness-regions"
GROUPS = 50

TRAIN_SCRIPT = '''\
"""Train a loan classifier on generated applicants; write them to data.csv with two sensitive
columns the model never sees (sex, age_group) and a 50-valued region."""

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

FEATURES = ["income", "debt_ratio", "history"]


def main() -> None:
    rng = np.random.default_rng(7)
    rows = 1200
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    frame["sex"] = np.where(rng.random(rows) < 0.5, "female", "male")
    frame["age_group"] = rng.choice(["18-30", "31-50", "51+"], size=rows, p=[0.3, 0.5, 0.2])
    frame["region"] = rng.choice([f"r{i:02d}" for i in range(50)], size=rows)
    lean = np.where(frame["sex"] == "male", 0.5, -0.5)
    score = frame[FEATURES].to_numpy() @ np.array([1.5, -1.0, 0.8]) + lean
    frame["approved"] = (score + rng.normal(scale=0.7, size=rows) > 0).astype(int)
    frame.to_csv("data.csv", index=False)
    # One model in the run: the one logged below (autologging would log a second).
    mlflow.sklearn.autolog(log_models=False)
    model = LogisticRegression(max_iter=500).fit(frame[FEATURES], frame["approved"])
    mlflow.log_metric("train_accuracy", model.score(frame[FEATURES], frame["approved"]))
    mlflow.sklearn.log_model(model, name="model", input_example=frame[FEATURES].head(3))


if __name__ == "__main__":
    main()
'''


def seed_workspace(workspace: Path) -> str:
    """Run the training script through the launcher, then log the 50-group report; the run id."""
    run_id = train_model_run(workspace)
    log_group_report(workspace, run_id)
    return run_id


def log_group_report(workspace: Path, run_id: str, groups: int = GROUPS) -> None:
    """A fairness report over `groups` groups of a generated column, logged as the run's
    `reports/fairness-regions.json` (and .html) by the library's own publish."""
    import numpy as np
    import pandas as pd

    from mlworkbench.reports.fairness_metrics import compute_fairness_metrics
    from mlworkbench.reports.fairness_report import fairness_document
    from mlworkbench.reports.report_publish import publish

    rng = np.random.default_rng(3)
    rows = 20_000
    weights = np.linspace(1.0, 0.02, groups)
    labels = [f"region-{i:02d}" for i in range(groups)]
    region = rng.choice(labels, rows, p=weights / weights.sum())
    truth = rng.integers(0, 2, rows)
    predicted = np.where(rng.random(rows) < 0.8, truth, 1 - truth)
    metrics = compute_fairness_metrics(truth, predicted, pd.DataFrame({"region": region}))
    document = fairness_document(metrics, title=f"Fairness by region ({groups} groups)")
    document["runId"] = run_id
    publish(document, workspace=workspace, run_id=run_id, name=GROUPS_REPORT)


def train_model_run(workspace: Path) -> str:
    """Run the training script through the launcher; the run id."""
    from mlworkbench.launch.launcher import start_run

    script = workspace / "train_fair.py"
    script.write_text(TRAIN_SCRIPT)
    result = start_run(
        script, [], workspace=workspace, run_name=RUN_NAME, python=sys.executable
    ).wait()
    assert result.status == "FINISHED", f"the training run ended {result.status}"
    assert (workspace / "data.csv").is_file()
    return str(result.run_id)


@contextlib.contextmanager
def seeded_editor(
    pw: Any,
    tmp: Path,
    name: str,
    *,
    seed: Callable[[Path], str] = seed_workspace,
    machine_settings: Mapping[str, Any] | None = None,
) -> Iterator[tuple[Editor, str]]:
    """A trusted editor on a copy of demo/ whose store already has the trained run (`seed`
    makes it and returns its id).

    As conftest's `open_editor`, with the seeding between the workspace copy and code-server's
    start (so the editor finds the run on disk, as after a person's earlier session).
    """
    artifacts = ARTIFACTS_DIR / name
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    user_data, extensions = tmp / "user-data", tmp / "extensions"
    workspace = make_workspace(tmp / "workspace")
    run_id = seed(workspace)
    write_settings(user_data, VENV_PYTHON, machine_settings)
    (artifacts / "install.log").write_text(install_extension(user_data, extensions))
    server = CodeServer(user_data, extensions, trusted=True, log_path=artifacts / "code-server.log")
    context: Any = None
    try:
        server.start()
        context = launch_chromium(pw, tmp / "chromium")
        context.set_default_timeout(30_000)
        page = context.pages[0] if context.pages else context.new_page()
        wb = Workbench(page, artifacts)
        wb.open(server.folder_url(workspace))
        yield Editor(name, workspace, server, context, wb, artifacts), run_id
    finally:
        if context is not None:
            with contextlib.suppress(Exception):
                context.close()
        server.stop()
        if (user_data / "logs").is_dir():
            shutil.copytree(user_data / "logs", artifacts / "logs", dirs_exist_ok=True)


@contextlib.contextmanager
def shared_editor_for_test(editor: Editor, request: Any) -> Iterator[Editor]:
    """A module's (or class's) editor for one test: its screenshots in artifacts/<test name>/,
    one more on failure; ready for the palette (each test may run alone)."""
    directory = ARTIFACTS_DIR / request.node.name
    shutil.rmtree(directory, ignore_errors=True)
    editor.wb.use_artifacts(directory)
    editor.wb.dismiss_quick_input()
    editor.wb.wait_status("ML Workbench: ready", timeout=120)
    yield editor
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        editor.wb.shot("failure")
