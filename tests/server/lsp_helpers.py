"""Small helpers that open documents and ask for lenses the way VS Code does."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient


def open_document(client: LanguageClient, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri,
                language_id="python",
                version=1,
                text=path.read_text(encoding="utf-8") if text is None else text,
            )
        )
    )
    return uri


async def lenses(client: LanguageClient, uri: str) -> list[types.CodeLens]:
    result = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    return list(result or [])


def titles(found: list[types.CodeLens]) -> list[str]:
    return [lens.command.title for lens in found if lens.command is not None]


def summary_of(found: list[types.CodeLens]) -> str:
    """The title of the frameworks/parameters lens (the one that opens the analysis)."""
    from mlworkbench_server.protocol import COMMANDS

    (title,) = [
        lens.command.title
        for lens in found
        if lens.command and lens.command.command == COMMANDS["SHOW_SCRIPT_INFO"]
    ]
    return title
