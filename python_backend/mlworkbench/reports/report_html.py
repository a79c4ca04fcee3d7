"""A report as one self-contained HTML file: no script, no remote resource, every text escaped.

The export has to open anywhere (a mail attachment, an air-gapped review) and be safe to open:
charts are rendered here to inline SVG by vl-convert (Vega's own renderer, no browser), tables
are plain HTML, and every string that came from the data (column and group names) goes through
`html.escape`. Without vl-convert installed the charts are left out and the file says so.
"""

from __future__ import annotations

import html
import re
from typing import Any

from mlworkbench.reports.report_document import Option, ReportDocument, Section, Table

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;
color:#1f2328;background:#fff}
@media (prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}
table,th,td{border-color:#30363d!important}.flag{background:#3b2e00!important}}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.25rem .5rem}
td.n{text-align:right;font-variant-numeric:tabular-nums}.flag{background:#fff8c5}
.summary{display:flex;flex-wrap:wrap;gap:1rem}.fig{border:1px solid #d0d7de;padding:.5rem 1rem}
.fig b{display:block;font-size:1.3rem}.warn{border-left:4px solid #d29922;padding-left:.5rem}
svg{max-width:100%;height:auto}
"""
_SCRIPT_OR_HANDLER = re.compile(r"<script|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _cell(value: Any, kind: str, digits: int) -> str:
    if kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        text = f"{value:.{digits}g}" if isinstance(value, float) else f"{value:,}"
        return f'<td class="n">{_e(text)}</td>'
    return f"<td>{_e('—' if value is None else value)}</td>"


def render_table(table: Table) -> str:
    columns = table["columns"]
    head = "".join(f'<th scope="col">{_e(c["label"])}</th>' for c in columns)
    flags = table.get("flags", [""] * len(table["rows"]))
    body = []
    for row, flag in zip(table["rows"], flags, strict=False):
        cells = "".join(_cell(row.get(c["key"]), c["kind"], c.get("digits", 4)) for c in columns)
        marker = f' class="flag" title="{_e(flag)}"' if flag else ""
        body.append(f"<tr{marker}>{cells}</tr>")
    more = table.get("totalRows")
    note = f"<p>Showing {len(table['rows'])} of {more:,} rows.</p>" if more else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"


def render_chart(spec: dict[str, Any]) -> str:
    """Inline SVG of a Vega-Lite spec; a note when vl-convert is missing or the spec fails."""
    try:
        import vl_convert
    except ImportError:
        return "<p><i>Chart left out: install vl-convert-python to include charts.</i></p>"
    try:
        svg = str(vl_convert.vegalite_to_svg(spec))
    except Exception as error:  # a spec Vega rejects must not lose the rest of the report
        return f"<p><i>Chart left out: {_e(error)}</i></p>"
    # Vega escapes text it draws; this is a second line of defence for a renderer bug.
    if _SCRIPT_OR_HANDLER.search(svg):
        return "<p><i>Chart left out: its SVG held markup that is not allowed.</i></p>"
    return f'<figure role="img">{svg}</figure>'


def _body(part: Section | Option) -> str:
    out = []
    if part.get("description"):
        out.append(f"<p>{_e(part.get('description'))}</p>")
    if "table" in part:
        out.append(render_table(part["table"]))
    if "chart" in part:
        out.append(render_chart(part["chart"]))
    return "".join(out)


def render_html(document: ReportDocument) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # The file holds no script: the policy says so to any browser that opens it.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{_e(document['title'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(document['title'])}</h1>",
        f"<p>Created {_e(document['createdAt'])}"
        + (f" · run {_e(document['runId'])}" if document.get("runId") else "")
        + (f" · model {_e(document['modelUri'])}" if document.get("modelUri") else "")
        + "</p>",
    ]
    data = document.get("data")
    if data:
        parts.append(
            f"<p>Data: {_e(data['path'])} ({data['rows']:,} rows, {data['columns']} columns, "
            f"SHA-256 {_e(data['sha256'][:16])}…)</p>"
        )
    if document["summary"]:
        figures = "".join(
            f'<div class="fig" title="{_e(f.get("hint", ""))}">{_e(f["label"])}'
            f"<b>{_e(_figure(f['value']))}</b></div>"
            for f in document["summary"]
        )
        parts.append(f'<div class="summary">{figures}</div>')
    parts.extend(f'<p class="warn">{_e(w)}</p>' for w in document["warnings"])
    for section in document["sections"]:
        parts.append(f"<h2>{_e(section['title'])}</h2>{_body(section)}")
        choice = section.get("choice")
        if choice:
            for option in choice["options"]:
                parts.append(f"<h3>{_e(choice['label'])}: {_e(option['label'])}</h3>")
                parts.append(_body(option))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)
