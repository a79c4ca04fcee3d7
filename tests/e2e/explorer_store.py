"""The run explorer's e2e helpers: a seeded MLflow store and the Runs view as a person sees it.

The store is seeded through MLflow's own client with four runs of one experiment (params, a
20-step metric history, a text artifact), the way a training script would have left them.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from codeserver import Workbench, wait_for

CONTAINER = "ML Workbench"
RUNS_VIEW = "Runs"
EXPERIMENT = "explorer-demo"
# name -> (alpha, final rmse)
SEED = {
    "ridge-a": ("0.1", 0.2),
    "ridge-b": ("0.2", 0.3),
    "ridge-c": ("0.3", 0.4),
    "lasso-d": ("0.5", 0.6),
}
QUICK_INPUT = ".quick-input-widget .quick-input-box input"


def client_for(workspace: Path) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow.db'}")


def seed_store(workspace: Path) -> dict[str, str]:
    """Four finished runs, logged through MLflow; returns name -> run id."""
    from mlflow.entities import Metric, Param

    client = client_for(workspace)
    experiment_id = client.create_experiment(
        EXPERIMENT, artifact_location=(workspace / "mlruns" / "explorer").as_uri()
    )
    ids: dict[str, str] = {}
    start = int(time.time() * 1000) - 600_000  # ten minutes ago, a few seconds apart
    for index, (name, (alpha, final)) in enumerate(SEED.items()):
        run = client.create_run(experiment_id, run_name=name, start_time=start + index * 1000)
        run_id = run.info.run_id
        metrics = [
            Metric("rmse", final + (20 - step) * 0.05, start + step * 1000, step)
            for step in range(21)
        ]
        client.log_batch(run_id, metrics=metrics, params=[Param("alpha", alpha)])
        summary = workspace / f"summary-{name}.txt"
        summary.write_text(f"summary of {name}\n")
        client.log_artifact(run_id, str(summary), artifact_path="report")
        summary.unlink()
        client.set_terminated(run_id, "FINISHED", end_time=start + index * 1000 + 42_000)
        ids[name] = run_id
    return ids


def show_runs(wb: Workbench) -> None:
    wb.show_view(CONTAINER, RUNS_VIEW)


def run_labels(wb: Workbench) -> list[str]:
    return [
        label.split(",")[0]
        for label in wb.tree_labels(RUNS_VIEW)
        if re.search(r", (finished|deleted)$", label)
    ]


def wait_labels(wb: Workbench, want: set[str], timeout: float = 30) -> None:
    try:
        wait_for(
            lambda: set(run_labels(wb)) == want,
            timeout,
            message=f"Runs view showing {sorted(want)}",
        )
    except TimeoutError as exc:
        wb.shot("runs view mismatch")
        raise AssertionError(f"{exc}; it lists {wb.tree_labels(RUNS_VIEW)}") from None


def quick_input(wb: Workbench, title: str) -> Any:
    """The input of the quick input titled ``title``, once it is the one shown.

    After a palette entry is clicked, the palette's own input stays visible for a moment
    before the command's input replaces it in the same widget: waiting for the title keeps a
    test from typing into (or checking) the palette instead.
    """
    heading = wb.page.locator(".quick-input-widget .quick-input-title")
    wait_for(
        lambda: heading.is_visible() and title in heading.inner_text(),
        20,
        message=f"the quick input {title!r}",
    )
    box = wb.page.locator(QUICK_INPUT)
    box.wait_for(state="visible", timeout=20_000)
    return box


def seed_tensorboard_run(workspace: Path, name: str) -> str:
    """A finished run whose TensorBoard event files (PyTorch's SummaryWriter, `loss` at three
    steps) are kept as its `tensorboard/` artifacts, where the launcher keeps a script's."""
    from torch.utils.tensorboard import SummaryWriter

    client = client_for(workspace)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    run_id: str = client.create_run(experiment.experiment_id, run_name=name).info.run_id
    events = workspace / "tb-events" / run_id
    with SummaryWriter(log_dir=str(events)) as writer:
        for step in range(3):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
    client.log_artifacts(run_id, str(events), "tensorboard")
    client.set_terminated(run_id, "FINISHED")
    return run_id


def toggle(wb: Workbench, row: Any, key: str = "ArrowRight") -> None:
    """Select a tree row and expand it (ArrowRight) or collapse it (ArrowLeft), as a keyboard
    user does."""
    row.first.click()
    wb.page.keyboard.press(key)


def runs_row(wb: Workbench, text: str | re.Pattern[str]) -> Any:
    """The Runs view's rows showing ``text``, once the first is visible."""
    row = wb.view_pane(RUNS_VIEW).locator(".monaco-list-row", has_text=text)
    row.first.wait_for(state="visible", timeout=20_000)
    return row


def wait_editor_shows(wb: Workbench, tab: str, text: str) -> None:
    """An editor tab named ``tab`` is open and its text has ``text``."""
    wb.page.locator(".tabs-container .tab", has_text=tab).first.wait_for(
        state="visible", timeout=20_000
    )
    lines = wb.page.locator(".monaco-editor .view-lines").first
    wait_for(
        lambda: text in lines.inner_text().replace("\xa0", " "),
        20,
        message=f"{text!r} in the editor of {tab}",
    )


class RecordingServer:
    """A stand-in tracking server on 127.0.0.1 that answers MLflow's REST calls with empty
    results and records each request's Authorization header (the token test reads them)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        seen: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                seen.append(self.headers.get("Authorization") or "")
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._seen = seen
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def authorizations(self) -> list[str]:
        return list(self._seen)

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
