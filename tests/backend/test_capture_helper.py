"""The warm pool's model-requirements helper (launch/capture_zygote.py), on a stand-in for
MLflow's `_capture_modules.py`: it runs a request's `main()` in a fork with the request's argv,
environment and folder; anything it cannot serve as MLflow's subprocess would is refused, so
the run falls back to that subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from scripts.run_support import wait_until

from mlworkbench.launch import capture_zygote
from mlworkbench.launch.child import model_requirements

TARGET = """
import json, os, sys

def main():
    out = sys.argv[sys.argv.index("--out") + 1]
    with open(out, "w") as handle:
        json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(), "flag": os.environ.get("RUN_FLAG"),
                   "loaded_before": "json" in sys.modules}, handle)
    if "--fail" in sys.argv:
        raise SystemExit(3)
"""


@pytest.fixture
def helper(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    folder = Path(tempfile.mkdtemp(prefix="ch-"))
    os.chmod(folder, 0o700)
    target = tmp_path / "capture_target.py"
    target.write_text(TARGET)
    socket_path = folder / "pool.capture.sock"
    env = {**os.environ, "MLFLOW_SOME_SETTING": "a"}
    process = subprocess.Popen(
        [sys.executable, capture_zygote.__file__, str(socket_path), str(target), str(os.getpid())],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(socket_path.exists, 30, "helper listening")
    yield socket_path, target
    process.terminate()
    process.wait(10)
    for entry in folder.iterdir():
        entry.unlink()
    folder.rmdir()


def test_helper_runs_main_with_the_request_argv_env_and_folder(
    helper: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    socket_path, target = helper
    out = tmp_path / "out.json"
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    env = {**os.environ, "MLFLOW_SOME_SETTING": "a", "RUN_FLAG": "yes"}
    model_requirements.run_in_helper(str(socket_path), [str(target), "--out", str(out)], env, 30)
    seen = json.loads(out.read_text())
    assert seen == {
        "argv": ["--out", str(out)],
        "cwd": str(work),
        "flag": "yes",
        "loaded_before": True,
    }


def test_helper_refuses_other_import_settings_and_reports_failures(
    helper: tuple[Path, Path], tmp_path: Path
) -> None:
    socket_path, target = helper
    out = tmp_path / "out.json"
    other = {**os.environ, "MLFLOW_SOME_SETTING": "b"}
    with pytest.raises(model_requirements._HelperUnavailable, match="settings"):
        model_requirements.run_in_helper(
            str(socket_path), [str(target), "--out", str(out)], other, 30
        )
    assert not out.exists()  # refused before anything ran: MLflow's subprocess runs instead
    same = {**os.environ, "MLFLOW_SOME_SETTING": "a"}
    with pytest.raises(model_requirements._HelperUnavailable, match="exit status 3"):
        model_requirements.run_in_helper(
            str(socket_path), [str(target), "--out", str(out), "--fail"], same, 30
        )
    assert out.exists()


def test_a_helper_in_a_shared_folder_is_not_used(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o777)
    with pytest.raises(model_requirements._HelperUnavailable, match="not private"):
        model_requirements.run_in_helper(str(tmp_path / "x.sock"), ["t.py"], {}, 5)
