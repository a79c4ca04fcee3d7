"""Artifacts of runs tracked through the workspace's tracking server, read from the workspace.

Such runs have `mlflow-artifacts:/` locations that MLflow resolves only through an http
tracking URI; the Runs view reads the workspace's SQLite file (server up or down), so the
explorer maps them to `<workspace>/mlartifacts`, where the server keeps them.

Fast: the mapping and its refusals on folders laid out by hand. Slow: a real `mlworkbench
server`, a script logging a text artifact and a scikit-learn model through it, then, with the
server stopped, the explorer lists and opens them, the model loads for serving, and Restricted
Mode still shows them (no other host is contacted).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlworkbench.errors import ArtifactPathRefusedError
from mlworkbench.explorer.artifact_paths import local_artifact_root, served_artifact_root

# --- fast ---------------------------------------------------------------------------------


def _layout(workspace: Path) -> tuple[str, Path]:
    folder = workspace / "mlartifacts" / "1" / "abc" / "artifacts"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("hello")
    return f"sqlite:///{workspace / 'mlflow.db'}", folder


def test_a_served_location_maps_into_the_stores_mlartifacts_folder(tmp_path: Path) -> None:
    store, folder = _layout(tmp_path)
    uri = "mlflow-artifacts:/1/abc/artifacts"
    assert served_artifact_root(uri, store) == folder.resolve()
    assert local_artifact_root(uri, store) == folder.resolve()
    assert local_artifact_root(uri) is None  # without the store it cannot be placed


@pytest.mark.parametrize(
    ("uri", "store"),
    [
        ("mlflow-artifacts://otherhost:5000/1/abc/artifacts", None),  # another server's
        ("mlflow-artifacts:/1/abc/artifacts", "postgresql+psycopg://u@db/m"),  # not our folder
        ("mlflow-artifacts:/1/abc/artifacts", "http://127.0.0.1:5000"),
        ("s3://bucket/1/abc/artifacts", None),
    ],
)
def test_other_locations_and_stores_do_not_map(tmp_path: Path, uri: str, store: str | None) -> None:
    sqlite_store, _ = _layout(tmp_path)
    assert served_artifact_root(uri, store or sqlite_store) is None


def test_a_symlinked_mlartifacts_folder_is_not_trusted(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    _layout(elsewhere)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "mlartifacts").symlink_to(elsewhere / "mlartifacts")  # as a repository ships it
    store = f"sqlite:///{workspace / 'mlflow.db'}"
    assert served_artifact_root("mlflow-artifacts:/1/abc/artifacts", store) is None


def test_locations_leading_out_of_the_folder_are_refused(tmp_path: Path) -> None:
    store, folder = _layout(tmp_path)
    with pytest.raises(ArtifactPathRefusedError, match=r"'\.\.'"):
        served_artifact_root("mlflow-artifacts:/../../etc", store)
    (folder.parent / "out").symlink_to(tmp_path)  # a link inside the folder, out of it
    with pytest.raises(ArtifactPathRefusedError, match="outside"):
        served_artifact_root("mlflow-artifacts:/1/abc/out", store)


# --- slow: a real tracking server ------------------------------------------------------------

_SCRIPT = textwrap.dedent(
    """
    import mlflow
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    with mlflow.start_run() as run:
        mlflow.log_text("hello from the server", "notes/hello.txt")
        model = LogisticRegression(max_iter=300).fit(X, y)
        mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle")
    print(run.info.run_id)
    """
)


@pytest.mark.slow
def test_a_server_tracked_runs_artifacts_open_from_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlworkbench.deploy.model_source import load_pyfunc, resolve_model_source
    from mlworkbench.explorer.artifact_access import resolve_artifact
    from mlworkbench.explorer.run_details import get_run_details, list_artifacts
    from mlworkbench.explorer.run_models import resolve_model_file
    from mlworkbench.launch.launcher import start_run
    from mlworkbench.tracking import tracking_server as ts
    from mlworkbench.tracking.network_access import local_only
    from mlworkbench.tracking.tracking_token import (
        AUTH_NAME,
        MLFLOW_AUTH_ENV,
        TOKEN_ENV,
        TOKEN_URI_ENV,
    )

    workspace = tmp_path / "ws"
    workspace.mkdir()
    ts.start_server(workspace)
    try:
        logged = subprocess.run(
            [sys.executable, "-c", _SCRIPT], env=ts.server_env(workspace), cwd=workspace,
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        # A run the workbench tracks to a server: MLflow prints the run's link when the run
        # ends, once (the bootstrap's second, explicit end must not print it again).
        tiny = workspace / "tiny.py"
        tiny.write_text("print('tiny run')\n")
        uri, token = ts.server_status(workspace).uri, ts.server_token(workspace)  # type: ignore[union-attr]
        # As the editor's server admits its own clients: the token scoped to that origin.
        monkeypatch.setenv(TOKEN_ENV, str(token))
        monkeypatch.setenv(TOKEN_URI_ENV, uri)
        monkeypatch.setenv(MLFLOW_AUTH_ENV, AUTH_NAME)
        handle = start_run(tiny, workspace=workspace, tracking_uri=uri)
        assert handle.wait().status == "FINISHED"
        assert handle.log_path.read_text().count("View run") == 1
    finally:
        ts.stop_server(workspace)
    assert logged.returncode == 0, logged.stderr[-3000:]
    run_id = logged.stdout.splitlines()[-1]
    served = (workspace / "mlartifacts").resolve()

    # Server down, the store read as the Runs view reads it (the workspace's SQLite file).
    details = get_run_details(workspace, run_id)
    assert details.artifact_uri.startswith("mlflow-artifacts:/")
    assert [e.path for e in list_artifacts(workspace, run_id)] == ["notes"]
    assert [e.path for e in list_artifacts(workspace, run_id, "notes")] == ["notes/hello.txt"]
    text = resolve_artifact(workspace, run_id, "notes/hello.txt")
    assert text.kind == "text" and text.local_path.is_relative_to(served)
    assert text.local_path.read_text() == "hello from the server"

    assert [m.label for m in details.models] == ["model"]
    mlmodel = resolve_model_file(workspace, run_id, "model")
    assert mlmodel.kind == "model" and mlmodel.local_path.is_relative_to(served)
    source = resolve_model_source(workspace, run_id=run_id)
    assert Path(source.location).is_relative_to(served)
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True, as_frame=True)
    predicted = load_pyfunc(source).predict(features)
    assert (predicted == labels.to_numpy()).mean() > 0.9

    # Restricted Mode refuses other hosts, not this folder.
    with local_only():
        assert [e.path for e in list_artifacts(workspace, run_id)] == ["notes"]
        assert resolve_artifact(workspace, run_id, "notes/hello.txt").local_path == text.local_path

    # A store edited to point a run out of the folder: refused, and the run page still opens.
    db = sqlite3.connect(workspace / "mlflow.db")
    with db:
        db.execute(
            "UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?",
            ("mlflow-artifacts:/../../../etc", run_id),
        )
    db.close()
    with pytest.raises(ArtifactPathRefusedError):
        list_artifacts(workspace, run_id)
    with pytest.raises(ArtifactPathRefusedError):
        resolve_artifact(workspace, run_id, "passwd")
    assert get_run_details(workspace, run_id).run_id == run_id
