"""A real MLflow sqlite store with runs that have everything the run page shows.

Shared by the details, artifact, edit, CLI and server tests; written with MlflowClient only.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

LOSS = 0.123456789012345678  # logged as-is: details must return it exactly


@dataclass(frozen=True)
class Store:
    workspace: Path
    uri: str
    run_id: str  # the rich run
    plain_id: str  # a run with nothing but a name
    deleted_experiment_run_id: str
    logged_model_uri: str | None


def tiny_png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def make_store(workspace: Path, *, with_models: bool = False) -> Store:
    """Runs in `<workspace>/mlflow.db`, artifacts under `<workspace>/mlruns/`."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    client = MlflowClient(uri)
    artifacts = (workspace / "mlruns").as_uri()
    iris = client.create_experiment("iris", artifact_location=artifacts)
    run = client.create_run(iris, run_name="rich", start_time=1_000)
    run_id = run.info.run_id
    client.log_param(run_id, "c", "1.0")
    client.log_param(run_id, "solver", "lbfgs")
    client.log_metric(run_id, "accuracy", 0.5, step=0)
    client.log_metric(run_id, "accuracy", 0.875, step=1)
    client.log_metric(run_id, "loss", LOSS)
    script = str(workspace / "train.py")
    tags = {
        "team": "vision",
        "mlflow.note.content": "first try",
        "mlworkbench.script": script,
        "mlworkbench.argv": json.dumps([script, "--c", "1.0", "--name", "a b"]),
        "mlworkbench.command": json.dumps(["python", script, "--c", "1.0", "--name", "a b"]),
    }
    for key, value in tags.items():
        client.set_tag(run_id, key, value)

    files = workspace / "to_log"
    (files / "reports").mkdir(parents=True)
    (files / "notes.txt").write_text("hello artifacts\n")
    (files / "plot.png").write_bytes(tiny_png())
    (files / "table.csv").write_text("a,b\n1,2\n")
    (files / "weights.bin").write_bytes(bytes(range(256)))
    (files / "README").write_text("plain text without a suffix\n")
    (files / "reports" / "summary.md").write_text("# summary\n")
    (files / "output.log").write_text("epoch 1\nepoch 2\n")
    for name in ("notes.txt", "plot.png", "table.csv", "weights.bin", "README"):
        client.log_artifact(run_id, str(files / name))
    client.log_artifacts(run_id, str(files / "reports"), "reports")
    client.log_artifact(run_id, str(files / "output.log"), "mlworkbench")

    logged_model_uri = None
    if with_models:
        logged_model_uri = _log_models(uri, run_id, workspace / "saved_model")
    client.set_terminated(run_id, "FINISHED", end_time=66_000)

    plain = client.create_run(iris, run_name="plain")
    wine = client.create_experiment("wine", artifact_location=artifacts)
    in_wine = client.create_run(wine, run_name="gone-with-experiment")
    client.delete_experiment(wine)
    return Store(workspace, uri, run_id, plain.info.run_id, in_wine.info.run_id, logged_model_uri)


_LOG_MODELS = """
import sys
import mlflow, mlflow.sklearn
from sklearn.linear_model import LogisticRegression

uri, run_id, saved = sys.argv[1:]
model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
mlflow.set_tracking_uri(uri)
with mlflow.start_run(run_id=run_id):
    info = mlflow.sklearn.log_model(model, name="clf", pip_requirements=["scikit-learn"])
    mlflow.sklearn.save_model(model, saved, pip_requirements=["scikit-learn"])
    mlflow.log_artifacts(saved, "model")
print(info.model_uri)
"""


def _log_models(uri: str, run_id: str, saved: Path) -> str:
    """An MLflow 3 LoggedModel (log_model) and an old-style `model/` folder with MLmodel.

    In a child process, so mlflow's global tracking URI and active run stay out of the tests.
    """
    done = subprocess.run(
        [sys.executable, "-c", _LOG_MODELS, uri, run_id, str(saved)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def copy_store(template: Store, workspace: Path) -> Store:
    """The template's database in a fresh workspace: tests that edit runs each get their own,
    without paying for MLflow's table creation again (artifacts stay with the template)."""
    import shutil

    shutil.copyfile(template.workspace / "mlflow.db", workspace / "mlflow.db")
    return dataclasses.replace(
        template, workspace=workspace, uri=f"sqlite:///{workspace / 'mlflow.db'}"
    )
