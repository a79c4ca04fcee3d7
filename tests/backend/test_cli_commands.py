"""The `mlworkbench` command line, in-process through main() and as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from mlworkbench import __version__
from mlworkbench.analysis.script_analysis import analyze_file
from mlworkbench.cli import main

DEMO = Path(__file__).resolve().parents[2] / "demo"
CONSOLE_SCRIPT = Path(sys.executable).parent / "mlworkbench"


pytestmark = pytest.mark.usefixtures("no_tracking_env")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == "mlworkbench 0.1.0\n"
    assert __version__ == "0.1.0" == version("mlworkbench")


def test_help_lists_every_command_with_a_description(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: mlworkbench" in out
    assert "analyze   show the frameworks, parameters" in out
    assert "doctor    check that this Python has ML Workbench" in out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fly"]) == 2
    assert "invalid choice: 'fly'" in capsys.readouterr().err


def test_analyze_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(DEMO / "train_iris.py")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "Frameworks   scikit-learn"
    assert out[2] == "Entry point  main() at line 24"  # 1-based for people
    assert out[3] == "Main guard   line 39"
    assert out[4] == "MLflow       not used"
    assert out[5] == "Training     yes"
    assert out[7].split() == ["NAME", "FLAGS", "TYPE", "DEFAULT", "REQUIRED", "HELP"]
    assert out[8].split()[:5] == ["n_estimators", "--n-estimators", "int", "100", "no"]
    assert out[8].endswith("  trees in the forest")
    assert len(out) == 12


def test_analyze_json_is_the_library_result(capsys: pytest.CaptureFixture[str]) -> None:
    script = DEMO / "train_torch_mlp.py"
    assert main(["analyze", str(script), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == analyze_file(script).to_dict()


def test_analyze_shows_mlflow_calls_and_positionals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import argparse, mlflow\n"
        "p = argparse.ArgumentParser()\n"
        "p.add_argument('data')\n"
        "mlflow.autolog()\n"
    )
    assert main(["analyze", str(script)]) == 0
    out = capsys.readouterr().out
    assert "MLflow       mlflow.autolog" in out
    assert "data  (positional)  -     -        yes" in out
    assert "Entry point  none found" in out


def test_analyze_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["analyze", str(tmp_path / "nope.py")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: cannot open script ")
    assert captured.err.count("\n") == 1


def test_analyze_undecodable_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = tmp_path / "latin.py"
    script.write_bytes(b"x = '\xe9'\n")
    assert main(["analyze", str(script)]) == 2
    assert capsys.readouterr().err.startswith("error: cannot decode script ")


def test_analyze_syntax_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("import torch\n\ndef main(:\n")
    assert main(["analyze", str(script)]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: {script}:3:10: syntax error: ")
    assert "syntax error" in captured.out

    assert main(["analyze", str(script), "--json"]) == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["syntax_error"]["line"] == 2
    assert data["syntax_error"]["column"] == 9
    assert captured.err.startswith("error: ")


def test_doctor_human_output_ok(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["doctor", "--workspace", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()}
    assert rows["Python"][0] == ".".join(map(str, sys.version_info[:3]))
    assert rows["Python"][1] == sys.executable
    assert rows["mlworkbench"] == [version("mlworkbench")]
    assert rows["mlflow"][0] == version("mlflow")
    assert rows["scikit-learn"][0] == version("scikit-learn")
    db = (tmp_path / "mlflow.db").resolve().as_posix()
    assert f"Tracking URI: sqlite:///{db} (from default)" in out
    assert out.splitlines()[-1] == "Status: ok"


def test_doctor_missing_extra(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlworkbench.setup import doctor

    # Every extra is installed here: the rllib extra stands for one that is not.
    absent = "mlworkbenchabsent"
    monkeypatch.setitem(doctor._FEATURE_EXTRAS, "rllib", [absent])
    monkeypatch.setitem(doctor.EXTRAS, "rllib", [absent])
    assert main(["doctor", "--extras", "tracking,rllib"]) == 1
    out = capsys.readouterr().out
    [row] = [line for line in out.splitlines() if line.startswith(absent)]
    assert row.split(maxsplit=1)[1] == "missing  (pip install 'mlworkbench[rllib]')"
    assert f"Status: not ok: missing {absent}" in out
    assert out.splitlines()[-1].endswith("-m pip install 'mlworkbench[rllib]'")


def test_doctor_extras_flag_may_repeat(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json", "--extras", "tracking", "--extras", "deploy"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in data["packages"]] == ["mlflow", "docker"]


def test_doctor_json_and_env_tracking_uri(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5005")
    assert main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert data["tracking_uri"] == "http://127.0.0.1:5005"
    assert data["tracking_uri_source"] == "MLFLOW_TRACKING_URI"


def test_doctor_excluding_the_environment(capsys: pytest.CaptureFixture[str]) -> None:
    excluded = [arg for path in sys.path for arg in ("--exclude-path", path)]
    assert main(["doctor", "--json", *excluded]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["mlworkbench_installed"] is None
    assert data["missing"] == ["mlworkbench", "mlflow", "scikit-learn"]


def test_doctor_unknown_extra(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--extras", "gpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown extra 'gpu'; valid extras are: tracking, sklearn")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60)


def test_console_script_version() -> None:
    result = run(str(CONSOLE_SCRIPT), "--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, "mlworkbench 0.1.0\n", "")


def test_python_dash_m_help() -> None:
    result = run(sys.executable, "-m", "mlworkbench", "--help")
    assert result.returncode == 0
    assert "analyze" in result.stdout and "doctor" in result.stdout


def test_python_dash_m_user_error_has_no_traceback(tmp_path: Path) -> None:
    result = run(sys.executable, "-m", "mlworkbench", "analyze", str(tmp_path / "x.py"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


def test_cli_analysis_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from mlworkbench.cli import main\n"
        f"main(['analyze', {str(DEMO / 'train_torch_mlp.py')!r}])\n"
        "print(sorted({'torch', 'sklearn', 'mlflow', 'importlib.metadata'} & set(sys.modules)),"
        " file=sys.stderr)\n"
    )
    result = run(sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "[]"


def test_closed_output_pipe_is_not_a_traceback() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mlworkbench", "doctor", "--json", "--extras", "all"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader goes away before anything is written
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1
    assert "Traceback" not in stderr
