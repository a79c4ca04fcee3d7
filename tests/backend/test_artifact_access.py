"""Artifacts as local files: kinds, in-place reads, downloads, and every refused path."""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from artifact_server import ArtifactServer, serve_artifacts
from run_details_store import Store, make_store

from mlworkbench.errors import (
    ArtifactNotFoundError,
    ArtifactPathRefusedError,
    PrivateFolderRefusedError,
    RunNotFoundError,
)
from mlworkbench.explorer.artifact_access import ResolvedArtifact, resolve_artifact
from mlworkbench.tracking.private_dirs import CACHE_PREFIX, checked_cache_dir

pytestmark = pytest.mark.usefixtures("no_tracking_env")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return make_store(tmp_path_factory.mktemp("artifacts"), with_models=True)


def _root(store: Store) -> Path:
    from mlflow.tracking import MlflowClient

    uri = MlflowClient(store.uri).get_run(store.run_id).info.artifact_uri
    return Path(uri.removeprefix("file://"))


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("notes.txt", "text"),
        ("README", "text"),
        ("mlworkbench/output.log", "text"),
        ("reports/summary.md", "text"),
        ("plot.png", "image"),
        ("table.csv", "csv"),
        ("weights.bin", "binary"),
        ("reports", "directory"),
        ("model/MLmodel", "model"),
    ],
)
def test_local_artifacts_are_read_in_place_with_their_kind(
    store: Store, path: str, kind: str
) -> None:
    resolved = resolve_artifact(store.workspace, store.run_id, path)
    assert resolved == ResolvedArtifact((_root(store) / path).resolve(), kind)
    assert resolved.local_path.exists()
    assert not (store.workspace / ".mlworkbench").exists()  # nothing copied


def test_a_model_folder_points_at_its_mlmodel_file(store: Store) -> None:
    resolved = resolve_artifact(store.workspace, store.run_id, "model/")
    assert resolved.kind == "model"
    assert resolved.local_path == (_root(store) / "model" / "MLmodel").resolve()
    assert resolved.to_dict() == {"local_path": str(resolved.local_path), "kind": "model"}


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/etc/passwd", "absolute"),
        ("C:/Windows/win.ini", "absolute"),
        ("../../mlflow.db", "'..'"),
        ("reports/../../..", "'..'"),
        ("..", "'..'"),
        ("%2e%2e/%2e%2e/mlflow.db", "'%'"),
        ("reports%2f..%2f..", "'%'"),
        ("%2E%2E", "'%'"),
        ("notes.txt#frag", "'#'"),
        ("notes.txt?x=1", "'?'"),
        ("..\\..\\mlflow.db", "backslash"),
        ("notes.txt\x00.png", "NUL"),
        ("notes\n.txt", "control"),
        ("", "empty"),
        ("   ", "empty"),
        ("./", "root"),
        ("file:///etc/passwd", "URI"),
        ("s3://bucket/x", "URI"),
    ],
)
def test_paths_that_could_leave_the_run_are_refused(store: Store, path: str, why: str) -> None:
    with pytest.raises(ArtifactPathRefusedError) as raised:
        resolve_artifact(store.workspace, store.run_id, path)
    assert raised.value.code == "ARTIFACT_PATH_REFUSED"
    assert why in raised.value.message
    assert "relative to the run's artifact root" in raised.value.message  # what to do


def test_paths_are_refused_before_the_store_is_opened(tmp_path: Path) -> None:
    with pytest.raises(ArtifactPathRefusedError):
        resolve_artifact(tmp_path, "0" * 32, "../x")
    assert list(tmp_path.iterdir()) == []


def test_a_symlink_out_of_the_artifact_folder_is_refused(store: Store, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not show")
    link = _root(store) / "escape.txt"
    folder_link = _root(store) / "escape_dir"
    os.symlink(secret, link)
    os.symlink(tmp_path, folder_link, target_is_directory=True)
    inner = _root(store) / "inner_link.txt"
    os.symlink(_root(store) / "notes.txt", inner)
    try:
        for path in ("escape.txt", "escape_dir", "escape_dir/secret.txt"):
            with pytest.raises(ArtifactPathRefusedError) as raised:
                resolve_artifact(store.workspace, store.run_id, path)
            assert "outside the run's artifact folder" in raised.value.message
        # A link that stays inside the run's folder is fine.
        resolved = resolve_artifact(store.workspace, store.run_id, "inner_link.txt")
        assert resolved.local_path == (_root(store) / "notes.txt").resolve()
    finally:
        for made in (link, folder_link, inner):
            made.unlink()
    assert secret.read_text() == "do not show"


def test_a_missing_artifact_is_not_found(store: Store) -> None:
    for path in ("nope.txt", "reports/nope.md", "model/nope"):
        with pytest.raises(ArtifactNotFoundError) as raised:
            resolve_artifact(store.workspace, store.run_id, path)
        assert raised.value.code == "ARTIFACT_NOT_FOUND" and raised.value.path == path


def test_a_missing_run_is_run_not_found(store: Store) -> None:
    with pytest.raises(RunNotFoundError):
        resolve_artifact(store.workspace, "0" * 32, "notes.txt")


@pytest.mark.slow
def test_a_remote_artifact_store_is_downloaded_into_a_private_cache(
    tmp_path: Path,
) -> None:
    """An `mlflow-artifacts:` store served by a real `mlflow server` subprocess."""
    import socket
    import subprocess
    import sys
    import time

    from mlflow.tracking import MlflowClient

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    served = tmp_path / "served"
    server = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
            "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination", str(served), "--workers", "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its workers too are stopped through the process group
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    try:
        # Wait for the port itself: MLflow's client would back off for minutes on its own.
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, "mlflow server exited"
                assert time.monotonic() < deadline, "mlflow server did not start"
                time.sleep(0.2)
        client = MlflowClient(uri)
        run = client.create_run(client.create_experiment("remote"))
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")
        note = tmp_path / "note.txt"
        note.write_text("from the server\n")
        client.log_artifact(run.info.run_id, str(note), "docs")
        workspace = tmp_path / "ws"
        workspace.mkdir()

        resolved = resolve_artifact(workspace, run.info.run_id, "docs/note.txt", tracking_uri=uri)
        assert resolved.kind == "text"
        assert resolved.local_path.as_posix().endswith(f"artifacts/{run.info.run_id}/docs/note.txt")
        assert_in_private_cache(resolved.local_path)
        assert resolved.local_path.read_text() == "from the server\n"
        assert list(workspace.iterdir()) == []  # nothing written in the workspace
        with pytest.raises(ArtifactNotFoundError):
            resolve_artifact(workspace, run.info.run_id, "docs/missing.txt", tracking_uri=uri)
        with pytest.raises(ArtifactPathRefusedError):
            resolve_artifact(workspace, run.info.run_id, "../../x", tracking_uri=uri)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def assert_in_private_cache(path: Path) -> None:
    """`path` lies in this process's download cache: a folder of ours only we can enter."""
    cache = next(p for p in path.parents if p.name.startswith(CACHE_PREFIX))
    info = cache.lstat()
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == os.getuid()


@pytest.fixture(scope="module")
def remote(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A run of the module's store whose artifacts are on an HTTP artifact server: its id and
    the store's URI (the workspaces below are bare folders, as a cloned repository would be)."""
    from mlflow.tracking import MlflowClient

    with serve_artifacts(tmp_path_factory.mktemp("served")) as server:
        client = MlflowClient(store.uri)
        experiment = client.create_experiment("remote", artifact_location=server.location("r"))
        run_id = client.create_run(experiment).info.run_id
        _serve(server, run_id, "config", "[remote]\n")
        _serve(server, run_id, "tensorboard/events.out.tfevents.1.host", "event bytes")
        yield run_id, store.uri


def _serve(server: ArtifactServer, run_id: str, path: str, text: str) -> None:
    file = server.folder / "r" / run_id / "artifacts" / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)


def _repository(tmp_path: Path, run_id: str, plant: str) -> tuple[Path, Path]:
    """A workspace as a malicious repository ships it: `.git/config` and a symlink at `plant`
    (a path below the workspace; `{run}` is the run id) to `.git`. Returns it and `.git`."""
    workspace = tmp_path / "repo"
    git = workspace / ".git"
    git.mkdir(parents=True)
    (git / "config").write_text("[core]\n")
    link = workspace / plant.format(run=run_id)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(git, target_is_directory=True)
    return workspace, git


PLANTS = [".mlworkbench", ".mlworkbench/artifacts/{run}", ".mlworkbench/monitors/tensorboard/{run}"]


@pytest.mark.parametrize("plant", PLANTS)
def test_a_download_never_writes_through_a_symlink_the_repository_planted(
    remote: tuple[str, str], tmp_path: Path, plant: str
) -> None:
    run_id, uri = remote
    workspace, git = _repository(tmp_path, run_id, plant)

    resolved = resolve_artifact(workspace, run_id, "config", tracking_uri=uri)

    assert (git / "config").read_text() == "[core]\n"  # not overwritten by the artifact
    assert sorted(p.name for p in git.iterdir()) == ["config"]
    assert resolved.local_path.read_text() == "[remote]\n"
    assert not resolved.local_path.is_relative_to(workspace.resolve())
    assert_in_private_cache(resolved.local_path)


@pytest.mark.parametrize("plant", PLANTS)
def test_tensorboard_event_files_are_downloaded_into_the_private_cache(
    remote: tuple[str, str], tmp_path: Path, plant: str
) -> None:
    from mlworkbench.monitor.monitor_servers import run_logdir

    run_id, uri = remote
    workspace, git = _repository(tmp_path, run_id, plant)

    logdir = run_logdir(workspace, run_id, uri)

    assert sorted(p.name for p in git.iterdir()) == ["config"]
    assert (logdir / "events.out.tfevents.1.host").read_text() == "event bytes"
    assert_in_private_cache(logdir)


def test_a_checked_workspace_folder_is_made_private_and_refuses_symlinks(tmp_path: Path) -> None:
    made = checked_cache_dir(tmp_path, ".mlworkbench", "monitors")
    assert made == tmp_path.resolve() / ".mlworkbench" / "monitors"
    assert stat.S_IMODE(made.stat().st_mode) == 0o700

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / ".mlworkbench").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(PrivateFolderRefusedError) as raised:
        checked_cache_dir(tmp_path / "repo", ".mlworkbench", "monitors")
    assert raised.value.code == "PRIVATE_FOLDER_REFUSED"
    assert "symlink" in raised.value.message and "remove it" in raised.value.message
    assert list(elsewhere.iterdir()) == []
    with pytest.raises(PrivateFolderRefusedError):
        checked_cache_dir(tmp_path, "..", "x")
