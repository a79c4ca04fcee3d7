"""The end of a run's log file, for error tags and messages (child and launcher alike)."""

from __future__ import annotations

from pathlib import Path

TAIL_LINES = 20
MAX_TAIL_CHARS = 5000  # below MLflow's limit on a tag value
_TAIL_BYTES = 64 * 1024


def tail_lines(path: Path, lines: int = TAIL_LINES, max_chars: int = MAX_TAIL_CHARS) -> str:
    """The last `lines` lines of the file (at most `max_chars`); "" if it cannot be read."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            handle.seek(max(0, size - _TAIL_BYTES))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])[-max_chars:]
