"""Plain-text tables for the CLI's human output (JSON output never goes through here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime


def render_table(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """Left-aligned columns two spaces apart; trailing blanks trimmed so output diffs cleanly."""
    if not rows:
        return []
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    return [
        (indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row))).rstrip()
        for row in rows
    ]


def format_time(millis: int | None) -> str:
    """An MLflow timestamp (ms since the epoch) in local time, "-" when there is none."""
    if millis is None:
        return "-"
    return datetime.fromtimestamp(millis / 1000).strftime("%Y-%m-%d %H:%M:%S")
