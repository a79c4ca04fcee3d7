"""Reading scripts from disk: encodings, missing files, syntax errors, size and the demos."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlworkbench.analysis.script_analysis import SyntaxProblem, analyze_file, analyze_source
from mlworkbench.errors import (
    MlWorkbenchError,
    ScriptNotDecodableError,
    ScriptNotFoundError,
    ScriptNotReadableError,
)

DEMO = Path(__file__).resolve().parents[2] / "demo"


def test_syntax_error_is_reported_not_raised(tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("import torch\n\ndef main(:\n    pass\n")
    analysis = analyze_file(script)
    assert analysis.syntax_error is not None
    assert (analysis.syntax_error.line, analysis.syntax_error.column) == (2, 9)
    assert analysis.syntax_error.message
    # Nothing else is guessed from a file Python cannot parse.
    assert analysis.frameworks == []
    assert analysis.parameters == []
    assert analysis.entry_function is None
    assert analysis.main_guard_line is None
    assert not analysis.uses_mlflow
    assert not analysis.is_training_script
    assert analysis.line_count == 4
    assert analysis.lens_line == 0


def test_syntax_error_column_is_zero_based_and_on_the_right_line() -> None:
    analysis = analyze_source("x = 1\ny = (\n")
    assert analysis.syntax_error is not None
    assert analysis.syntax_error.line == 1
    assert analysis.syntax_error.column == 4
    assert "never closed" in analysis.syntax_error.message


@pytest.mark.parametrize("source", ["x = 1\0\n", "(" * 1000 + ")" * 1000, "def f(:"])
def test_unparsable_sources_never_raise(source: str) -> None:
    analysis = analyze_source(source)
    assert isinstance(analysis.syntax_error, SyntaxProblem)
    assert analysis.syntax_error.line >= 0
    assert analysis.syntax_error.column >= 0


def test_non_utf8_file_without_cookie_is_a_typed_error_with_the_byte_offset(
    tmp_path: Path,
) -> None:
    script = tmp_path / "latin.py"
    script.write_bytes(b"import torch\n# caf\xe9\n")
    with pytest.raises(ScriptNotDecodableError) as caught:
        analyze_file(script)
    error = caught.value
    assert error.code == "SCRIPT_NOT_DECODABLE"
    assert error.byte_offset == len(b"import torch\n# caf")
    assert "byte offset 18" in error.message
    assert "UTF-8" in error.message and "coding" in error.message
    assert error.data == {"path": str(script), "encoding": "utf-8", "byte_offset": 18}


def test_non_utf8_bytes_on_the_first_line_are_reported_the_same_way(tmp_path: Path) -> None:
    script = tmp_path / "first.py"
    script.write_bytes(b"x = '\xff'\n")
    with pytest.raises(ScriptNotDecodableError) as caught:
        analyze_file(script)
    assert caught.value.byte_offset == 5


def test_latin1_file_with_coding_cookie_decodes(tmp_path: Path) -> None:
    script = tmp_path / "cookie.py"
    source = (
        "# -*- coding: latin-1 -*-\n"
        "import argparse\n"
        "import sklearn\n"
        "parser = argparse.ArgumentParser()\n"
        "parser.add_argument('--caf\xe9', help='r\xe9sum\xe9', default='\xe9t\xe9')\n"
    )
    script.write_bytes(source.encode("latin-1"))
    analysis = analyze_file(script)
    assert analysis.syntax_error is None
    assert analysis.frameworks == ["sklearn"]
    [parameter] = analysis.parameters
    assert (parameter.name, parameter.help, parameter.default) == ("café", "résumé", "'été'")


def test_unknown_coding_cookie_is_not_decodable(tmp_path: Path) -> None:
    script = tmp_path / "bogus.py"
    script.write_bytes(b"# coding: no-such-codec\nx = 1\n")
    with pytest.raises(ScriptNotDecodableError, match="no-such-codec"):
        analyze_file(script)


def test_utf8_bom_and_crlf_line_endings(tmp_path: Path) -> None:
    script = tmp_path / "windows.py"
    script.write_bytes(
        b"\xef\xbb\xbfimport argparse\r\n"
        b"p = argparse.ArgumentParser()\r\n"
        b"p.add_argument('--n', default=3)\r\n"
    )
    analysis = analyze_file(script)
    assert [(p.name, p.default, p.line) for p in analysis.parameters] == [("n", "3", 2)]
    assert analysis.line_count == 3


def test_missing_file_and_directory_are_script_not_found(tmp_path: Path) -> None:
    with pytest.raises(ScriptNotFoundError) as caught:
        analyze_file(tmp_path / "nope.py")
    assert caught.value.code == "SCRIPT_NOT_FOUND"
    assert "nope.py" in caught.value.message
    assert isinstance(caught.value, MlWorkbenchError)
    with pytest.raises(ScriptNotFoundError, match="directory"):
        analyze_file(tmp_path)


def test_unreadable_file_is_a_typed_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "locked.py"
    script.write_text("x = 1\n")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ScriptNotReadableError, match="Permission denied"):
        analyze_file(script)


def generate_script(n_lines: int, n_options: int) -> str:
    """A module-level parser with `n_options` options, then helper functions, `n_lines` long."""
    lines = [
        "import argparse",
        "import mlflow",
        "from sklearn.ensemble import RandomForestClassifier",
        "",
        "parser = argparse.ArgumentParser()",
    ]
    lines += [
        f"parser.add_argument('--option-{i}', type=int, default={i}, help='option {i}')"
        for i in range(n_options)
    ]
    footer = ["", "def main():", "    args = parser.parse_args()", "", ""]
    footer += ['if __name__ == "__main__":', "    main()"]
    index = 0
    while len(lines) + len(footer) + 9 <= n_lines:
        lines += textwrap.dedent(
            f"""
            def step_{index}(x, y):
                total = 0
                for k in range(10):
                    total += x[k] * y.get("key_{index}", 1)
                model = RandomForestClassifier(n_estimators={index % 50 + 1})
                model.fit(x, y)
                mlflow.log_metric("m_{index}", total)
                return total
            """
        ).splitlines()
        index += 1
    lines += ["# padding"] * (n_lines - len(lines) - len(footer)) + footer
    return "\n".join(lines) + "\n"


def test_generated_5000_line_script_finds_every_parameter() -> None:
    analysis = analyze_source(generate_script(5000, n_options=200))
    assert analysis.line_count == 5000
    assert [p.name for p in analysis.parameters] == [f"option_{i}" for i in range(200)]
    assert [p.line for p in analysis.parameters] == list(range(5, 205))
    assert analysis.parameters[-1].default == "199"
    assert analysis.parameters[-1].help == "option 199"
    assert analysis.entry_function == "main"
    assert analysis.main_guard_line == 4998
    assert analysis.mlflow_calls == ["mlflow.log_metric"]
    assert analysis.frameworks == ["sklearn"]


def test_demo_train_iris() -> None:
    analysis = analyze_file(DEMO / "train_iris.py")
    assert analysis.frameworks == ["sklearn"]
    assert [(p.name, p.type, p.default) for p in analysis.parameters] == [
        ("n_estimators", "int", "100"),
        ("max_depth", "int", "None"),
        ("test_size", "float", "0.25"),
        ("seed", "int", "42"),
    ]
    assert analysis.parameters[0].flags == ["--n-estimators"]
    assert analysis.parameters[0].help == "trees in the forest"
    assert analysis.entry_function == "main"
    assert analysis.main_guard_line is not None
    assert analysis.lens_line == analysis.main_guard_line
    assert not analysis.uses_mlflow
    assert analysis.is_training_script


def test_demo_train_digits_mlp_module_level_parser() -> None:
    analysis = analyze_file(DEMO / "train_digits_mlp.py")
    assert analysis.frameworks == ["sklearn"]
    assert [(p.name, p.type, p.default) for p in analysis.parameters] == [
        ("hidden", "int", "64"),
        ("alpha", "float", "1e-4"),
        ("max_iter", "int", "200"),
    ]
    assert analysis.entry_function is None  # the guard runs inline code
    assert analysis.main_guard_line is not None
    assert analysis.is_training_script


def test_demo_train_torch_mlp() -> None:
    analysis = analyze_file(DEMO / "train_torch_mlp.py")
    assert "pytorch" in analysis.frameworks
    assert [(p.name, p.type, p.default) for p in analysis.parameters] == [
        ("epochs", "int", "20"),
        ("lr", "float", "1e-2"),
        ("hidden", "int", "32"),
    ]
    assert analysis.entry_function == "main"
    assert analysis.is_training_script
