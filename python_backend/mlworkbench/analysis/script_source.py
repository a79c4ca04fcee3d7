"""Read a script's text exactly as Python would decode it, and slice it by AST positions.

Decoding follows PEP 263 (BOM or coding cookie, else UTF-8) because a script Python runs happily
must never be reported as unreadable, and one Python refuses must fail here with the reason.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

from mlworkbench.errors import ScriptNotDecodableError, ScriptNotFoundError, ScriptNotReadableError

# Python ends lines at \r\n, \r and \n only (not at \f, \v or the Unicode separators that
# str.splitlines also honours), so AST line numbers count exactly these.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def read_script(path: Path) -> str:
    """Return the decoded text of the script at `path`, or raise a typed, actionable error."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ScriptNotFoundError(path) from None
    except IsADirectoryError:
        raise ScriptNotFoundError(path, "it is a directory, not a file") from None
    except OSError as exc:
        raise ScriptNotReadableError(path, exc.strerror or str(exc)) from None
    return decode_script(data, path)


def decode_script(data: bytes, path: Path) -> str:
    """Decode `data` with the encoding its BOM or coding cookie declares (UTF-8 by default)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        # Either the cookie names an encoding Python does not know, or the first two lines are
        # not UTF-8 and carry no cookie; the latter is reported with its byte offset below.
        encoding = "utf-8"
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            pass
        else:
            raise ScriptNotDecodableError(path, encoding, None, str(exc.msg)) from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ScriptNotDecodableError(path, encoding, exc.start) from None
    except LookupError as exc:  # pragma: no cover - detect_encoding already validated the name
        raise ScriptNotDecodableError(path, encoding, None, str(exc)) from None


class SourceLines:
    """The source split into lines once, so each AST node's text costs O(its length).

    `ast.get_source_segment` re-splits the whole source on every call, which turns a script
    with many parameters into quadratic work.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = _LINE.findall(source)

    def segment(self, node: ast.AST) -> str:
        """The exact source text of `node` (falls back to `ast.unparse` without positions)."""
        lineno: int | None = getattr(node, "lineno", None)
        end_lineno: int | None = getattr(node, "end_lineno", None)
        col: int | None = getattr(node, "col_offset", None)
        end_col: int | None = getattr(node, "end_col_offset", None)
        if lineno is None or end_lineno is None or col is None or end_col is None:
            return ast.unparse(node)
        first, last = lineno - 1, end_lineno - 1
        if not 0 <= first <= last < len(self.lines):
            return ast.unparse(node)
        # AST column offsets count UTF-8 bytes, not characters.
        if first == last:
            return self.lines[first].encode()[col:end_col].decode()
        head = self.lines[first].encode()[col:].decode()
        tail = self.lines[last].encode()[:end_col].decode()
        return head + "".join(self.lines[first + 1 : last]) + tail
