"""Code lenses computed by the real server for real scripts, through a real LSP client."""

from __future__ import annotations

from pathlib import Path

from pytest_lsp import LanguageClient

from mlworkbench_server.protocol import COMMANDS

from .conftest import ROOT
from .lsp_helpers import lenses, open_document, summary_of, titles

DEMO = ROOT / "demo"


async def test_iris_script_gets_run_and_summary_lenses_on_the_main_guard(
    client: LanguageClient,
) -> None:
    path = DEMO / "train_iris.py"
    uri = open_document(client, path)
    found = await lenses(client, uri)

    guard_line = path.read_text().splitlines().index('if __name__ == "__main__":')
    assert {lens.range.start.line for lens in found} == {guard_line}
    assert titles(found) == [
        "$(play) Run",
        "Run with…",
        "$(server-environment) Run on…",
        "$(beaker) Sweep…",
        "$(debug-alt) Debug",
        "scikit-learn · params: n_estimators, max_depth, test_size, seed",
    ]
    commands = [lens.command.command for lens in found if lens.command]
    assert commands == [
        COMMANDS["RUN_SCRIPT"],
        COMMANDS["RUN_SCRIPT_WITH"],
        COMMANDS["RUN_SCRIPT_ON"],
        COMMANDS["SWEEP_SCRIPT"],
        COMMANDS["DEBUG_SCRIPT"],
        COMMANDS["SHOW_SCRIPT_INFO"],
    ]
    assert [list(lens.command.arguments or []) for lens in found if lens.command] == [[uri]] * 6


async def test_torch_script_lists_pytorch_and_its_parameters(client: LanguageClient) -> None:
    uri = open_document(client, DEMO / "train_torch_mlp.py")
    summary = summary_of(await lenses(client, uri))
    assert summary.startswith("scikit-learn + PyTorch · ")
    assert "scikit-learn" in summary
    assert "epochs, lr, hidden" in summary


async def test_mlflow_usage_and_many_parameters_are_summarised(
    client: LanguageClient, tmp_path: Path
) -> None:
    flags = "\n".join(f'parser.add_argument("--p{i}", type=int, default={i})' for i in range(8))
    source = (
        "import argparse\nimport mlflow\nimport tensorflow as tf\n"
        f"parser = argparse.ArgumentParser()\n{flags}\n"
        "if __name__ == '__main__':\n"
        "    args = parser.parse_args()\n    mlflow.log_metric('a', 1)\n"
    )
    uri = open_document(client, tmp_path / "train.py", source)
    summary = summary_of(await lenses(client, uri))
    assert summary == "TensorFlow · params: p0, p1, p2, p3, p4 +3 more · logs to MLflow"


async def test_plain_python_file_gets_no_lenses(client: LanguageClient, tmp_path: Path) -> None:
    uri = open_document(client, tmp_path / "util.py", "def add(a, b):\n    return a + b\n")
    assert await lenses(client, uri) == []


async def test_syntax_error_gets_one_explaining_lens_at_the_error(
    client: LanguageClient, tmp_path: Path
) -> None:
    source = "import sklearn\n\ndef main(:\n    pass\n"
    uri = open_document(client, tmp_path / "broken.py", source)
    found = await lenses(client, uri)
    assert len(found) == 1
    assert found[0].range.start.line == 2
    assert "syntax error on line 3" in titles(found)[0]


async def test_lenses_follow_edits(client: LanguageClient, tmp_path: Path) -> None:
    from lsprotocol import types

    uri = open_document(client, tmp_path / "grow.py", "x = 1\n")
    assert await lenses(client, uri) == []
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangeWholeDocument(
                    text="import torch\n\nif __name__ == '__main__':\n    torch.zeros(1)\n"
                )
            ],
        )
    )
    found = await lenses(client, uri)
    # No parameters, so no "Run with…" form and no sweep to offer; Run on… a cluster still is.
    assert titles(found) == [
        "$(play) Run",
        "$(server-environment) Run on…",
        "$(debug-alt) Debug",
        "PyTorch · no parameters",
    ]
    assert found[0].range.start.line == 2


async def test_a_5000_line_script_gets_lenses(client: LanguageClient, tmp_path: Path) -> None:
    body = "\n".join(f"def step_{i}(x):\n    return x * {i}\n" for i in range(1700))
    source = (
        "import argparse\nfrom sklearn.linear_model import LogisticRegression\n"
        f"{body}\n"
        "if __name__ == '__main__':\n"
        "    p = argparse.ArgumentParser()\n    p.add_argument('--c', type=float, default=1.0)\n"
        "    LogisticRegression(C=p.parse_args().c)\n"
    )
    assert source.count("\n") >= 5000
    uri = open_document(client, tmp_path / "big.py", source)
    found = await lenses(client, uri)
    assert summary_of(found) == "scikit-learn · params: c"
    assert found[0].range.start.line == source.splitlines().index("if __name__ == '__main__':")
