"""Start-up behaviour: the interpreter check, the bundled launcher, and no heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from mlworkbench_server.protocol import EXIT_CODES

from .conftest import ROOT

HEAVY = ["mlflow", "sklearn", "torch", "tensorflow", "fairlearn", "interpret", "docker", "pandas"]
LAUNCHER = ROOT / "extension" / "tool" / "launch_server.py"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_check_reports_a_usable_interpreter_as_json() -> None:
    result = run(str(LAUNCHER), "--check")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["python"] == ".".join(map(str, sys.version_info[:3]))
    assert report["in_venv"] is (sys.prefix != sys.base_prefix)


def test_server_imports_no_heavy_library() -> None:
    code = (
        "import sys, mlworkbench_server.server as s; s.create_server(); "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    result = run("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_too_old_python_gets_a_clear_message_and_exit_code() -> None:
    # No older CPython exists on this machine, so the gate is exercised by lowering what the
    # interpreter reports about itself before the launcher's own check runs.
    code = (
        "import sys, runpy; sys.version_info = (3, 8, 10, 'final', 0); "
        f"sys.argv = [{str(LAUNCHER)!r}, '--check']; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    result = run("-c", code)
    assert result.returncode == EXIT_CODES["PYTHON_TOO_OLD"]
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert "needs Python 3.10 or newer" in report["message"]


def test_interpreter_without_pygls_is_told_how_to_fix_it() -> None:
    # -S drops site-packages (where pygls lives); PYTHONPATH still finds our own sources.
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'server'}{os.pathsep}{ROOT / 'python_backend'}"}
    result = run("-S", "-m", "mlworkbench_server", "--check", env=env)
    assert result.returncode == EXIT_CODES["MISSING_DEPENDENCY"]
    report = json.loads(result.stdout)
    assert "cannot import pygls" in report["message"]
    assert "Set up environment" in report["message"]
    # Without --check the same problem is one line on stderr, not a traceback.
    plain = run("-S", "-m", "mlworkbench_server", env=env)
    assert plain.returncode == EXIT_CODES["MISSING_DEPENDENCY"]
    assert "Traceback" not in plain.stderr and "cannot import pygls" in plain.stderr
