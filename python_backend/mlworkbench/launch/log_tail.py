"""Follow a growing log file: the script writes it directly, the launcher reads behind it.

The script's stdout and stderr are a file rather than a pipe so that nothing the launcher
does (being killed, reading slowly) can block or SIGPIPE the script; this reader is the other
half of that choice.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from mlworkbench.launch.child.log_file import tail_lines

__all__ = ["LogTail", "tail_lines"]

CHUNK_BYTES = 1 << 20


class LogTail:
    """Returns the text appended since the last read, decoding UTF-8 across chunk edges."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def read(self, max_bytes: int = 4 * CHUNK_BYTES) -> str:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read(max_bytes)
        except FileNotFoundError:
            return ""
        self._offset += len(data)
        return self._decoder.decode(data)

    def read_all(self) -> str:
        """Everything left, including a trailing partial character (the writer is gone)."""
        parts = []
        while chunk := self.read():
            parts.append(chunk)
        parts.append(self._decoder.decode(b"", final=True))
        return "".join(parts)
