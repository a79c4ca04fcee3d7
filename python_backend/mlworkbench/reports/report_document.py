"""The one shape every report takes, so one webview, one CLI printer and one HTML writer show
them all.

A report is a list of sections; a section holds a table, a Vega-Lite chart, text, or a choice
between alternatives (one per sensitive feature, one per explained row) that each hold the same.
The kind-specific numbers live in `details` for scripts and tests (`--json`), while the sections
are what people read. Everything here is JSON-able: the document is logged as
`reports/<kind>.json` and travels to the editor unchanged.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Literal, TypedDict

REPORT_VERSION = 1
ReportKind = Literal["fairness", "explain", "privacy", "card"]
REPORT_KINDS: tuple[ReportKind, ...] = ("fairness", "explain", "privacy", "card")

# Rows a table carries before the rest is summarised: a 10,000-group table would freeze the
# webview and tell nobody anything (the full numbers stay in `details`).
MAX_TABLE_ROWS = 500


# Optional keys sit in `total=False` bases (Python 3.10 has no `NotRequired`).
class _ColumnOptions(TypedDict, total=False):
    # "number" cells are right-aligned and formatted to `digits` significant digits on screen;
    # the JSON keeps every digit.
    digits: int


class Column(_ColumnOptions):
    key: str
    label: str
    kind: Literal["text", "number"]


class _TableOptions(TypedDict, total=False):
    # Per-row reason the row deserves attention ("12 rows: below the minimum group size of 30"),
    # parallel to `rows`; "" for none. Flagged rows are shown marked, never hidden.
    flags: list[str]
    # Set when rows were cut at MAX_TABLE_ROWS: how many there were.
    totalRows: int


class Table(_TableOptions):
    columns: list[Column]
    rows: list[dict[str, str | float | int | None]]


class _Content(TypedDict, total=False):
    """What a section or a choice's option may hold: any of text, a table, a chart."""

    description: str
    table: Table
    chart: dict[str, Any]  # a Vega-Lite spec with its data inline


class Option(_Content):
    id: str
    label: str


class Choice(TypedDict):
    label: str  # what is being chosen ("Sensitive feature", "Row")
    options: list[Option]


class _SectionOptions(_Content, total=False):
    choice: Choice


class Section(_SectionOptions):
    id: str
    title: str


class _FigureOptions(TypedDict, total=False):
    # Why this figure matters, e.g. "max difference in selection rate across groups".
    hint: str


class Figure(_FigureOptions):
    label: str
    value: str | float | int | None


class DataSource(TypedDict):
    path: str  # as given (relative to the workspace when inside it)
    sha256: str  # of the file's bytes: the privacy ledger and the model card key on it
    rows: int
    columns: int


class _DocumentOptions(TypedDict, total=False):
    runId: str
    modelUri: str
    data: DataSource


class ReportDocument(_DocumentOptions):
    kind: ReportKind
    version: int
    title: str
    createdAt: str
    summary: list[Figure]
    warnings: list[str]
    sections: list[Section]
    details: dict[str, Any]


def new_document(kind: ReportKind, title: str) -> ReportDocument:
    return {
        "kind": kind,
        "version": REPORT_VERSION,
        "title": title,
        "createdAt": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "summary": [],
        "warnings": [],
        "sections": [],
        "details": {},
    }


def number(value: Any) -> float | int | None:
    """A JSON-safe number: NaN and infinities (an empty group's precision) become None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    result = float(value)
    return result if math.isfinite(result) else None


def table(
    columns: list[Column],
    rows: list[dict[str, Any]],
    flags: list[str] | None = None,
) -> Table:
    """A table, cut at MAX_TABLE_ROWS (flagged rows first so none of them is cut)."""
    order = list(range(len(rows)))
    if flags is not None and len(rows) > MAX_TABLE_ROWS:
        order.sort(key=lambda index: not flags[index])
    kept = sorted(order[:MAX_TABLE_ROWS])
    result: Table = {
        "columns": columns,
        "rows": [
            {key: (number(v) if isinstance(v, (int, float)) else v) for key, v in rows[i].items()}
            for i in kept
        ],
    }
    if flags is not None:
        result["flags"] = [flags[i] for i in kept]
    if len(kept) < len(rows):
        result["totalRows"] = len(rows)
    return result


def text_column(key: str, label: str) -> Column:
    return {"key": key, "label": label, "kind": "text"}


def number_column(key: str, label: str, digits: int = 4) -> Column:
    return {"key": key, "label": label, "kind": "number", "digits": digits}
