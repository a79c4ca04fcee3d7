"""The utility report of a synthetic copy: how close its columns and their associations are to
the real data's, what each noisy step of MST spent, and the data set's ledger.

It compares against the real data without noise, so it is for the data owner deciding whether
the copy is good enough, not for release: the synthetic file is what may be shared.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlworkbench.privacy.privacy_report import budget_figures, ledger_details, ledger_section
from mlworkbench.reports.report_document import (
    Option,
    ReportDocument,
    Section,
    new_document,
    number,
    number_column,
    table,
    text_column,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlworkbench.privacy.column_coding import ColumnCoding
    from mlworkbench.privacy.dp_synth import SynthResult
    from mlworkbench.privacy.privacy_ledger import Charge, LedgerEntry
    from mlworkbench.reports.report_document import DataSource

NOT_FOR_RELEASE = (
    "this report shows the real data's marginals and associations without noise: it is for "
    "the data owner; share the synthetic file, not this report"
)


def distribution(codes: np.ndarray, size: int) -> np.ndarray:
    import numpy as np

    counts = np.bincount(codes, minlength=size).astype(float)
    total = counts.sum()
    return counts / total if total > 0 else counts


def total_variation(real: np.ndarray, synthetic: np.ndarray) -> float:
    """Half the L1 distance between two distributions: the largest difference in the share
    of rows any set of values gets (0 identical, 1 disjoint)."""
    import numpy as np

    return float(0.5 * np.abs(real - synthetic).sum())


def synth_document(
    real: pd.DataFrame,
    result: SynthResult,
    charge: Charge,
    entries: list[LedgerEntry],
    source: DataSource,
    synthetic_path: str,
) -> ReportDocument:
    import numpy as np

    document = new_document("privacy", f"Private synthetic copy of {Path(source['path']).name}")
    document["data"] = source
    document["runId"] = charge.entry.run_id
    synthetic = result.frame
    marginal_rows: list[dict[str, Any]] = []
    options: list[Option] = []
    distances: dict[str, float] = {}
    for coding in result.codings:
        p = distribution(coding.encode(real[coding.name]), coding.size)
        q = distribution(coding.encode(synthetic[coding.name]), coding.size)
        distances[coding.name] = total_variation(p, q)
        marginal_rows.append(
            {
                "column": coding.name,
                "kind": coding.kind,
                "levels": coding.size,
                "range": coding.range_text()
                + (f" ({coding.range_source})" if coding.range_source else ""),
                "tvd": distances[coding.name],
            }
        )
        options.append(
            {
                "id": coding.name,
                "label": coding.name,
                "description": f"Total variation distance {distances[coding.name]:.3f}.",
                "chart": _marginal_chart(coding, p, q),
            }
        )
    worst = max(distances.values())
    document["summary"] = [
        *budget_figures(charge),
        {"label": "Real rows", "value": len(real)},
        {"label": "Synthetic rows", "value": len(synthetic)},
        {
            "label": "Mean total variation distance",
            "value": float(np.mean(list(distances.values()))),
            "hint": "per column, real vs synthetic shares of each value or bin (0 is identical)",
        },
        {"label": "Worst column's distance", "value": worst},
    ]
    sections: list[Section] = [
        {
            "id": "marginals",
            "title": "Columns: real vs synthetic",
            "description": "Total variation distance between each column's real and synthetic "
            "distribution, on the bins the synthesizer used (0 identical, 1 disjoint).",
            "table": table(
                [
                    text_column("column", "Column"),
                    text_column("kind", "Kind"),
                    number_column("levels", "Values or bins", digits=6),
                    text_column("range", "Range"),
                    number_column("tvd", "Total variation distance"),
                ],
                marginal_rows,
            ),
            "choice": {"label": "Column", "options": options},
        },
        _association_section(real, synthetic, result.codings),
        {
            "id": "mechanism",
            "title": "How it was made (MST)",
            "description": "Each noisy step, with what OpenDP's privacy map says it spent. The "
            "tree: "
            + (
                ", ".join(f"{parent} → {child}" for parent, child in result.tree)
                or "one column, no tree"
            )
            + ".",
            "table": table(
                [
                    text_column("what", "Step"),
                    text_column("mechanism", "Mechanism (OpenDP)"),
                    number_column("epsilon", "Epsilon"),
                    number_column("scale", "Noise scale"),
                ],
                [
                    {
                        "what": s.what,
                        "mechanism": s.mechanism,
                        "epsilon": s.epsilon,
                        "scale": s.scale,
                    }
                    for s in result.steps
                ],
            ),
        },
        ledger_section(entries, charge),
    ]
    document["sections"] = sections
    categorical = [c.name for c in result.codings if c.kind == "categorical"]
    warnings = [NOT_FOR_RELEASE, *result.warnings]
    if categorical:
        warnings.append(
            "the values of " + ", ".join(repr(c) for c in categorical) + " in the file are "
            "treated as public and appear in the synthetic file as they are"
        )
    document["warnings"] = warnings
    document["details"] = {
        "synthesizer": "mst",
        "syntheticPath": synthetic_path,
        "epsilon": result.epsilon,
        "estimatedRows": result.estimated_rows,
        "tree": [list(edge) for edge in result.tree],
        "totalVariation": distances,
        "steps": [
            {"what": s.what, "mechanism": s.mechanism, "epsilon": s.epsilon, "scale": s.scale}
            for s in result.steps
        ],
        "columns": [
            {
                "name": c.name,
                "kind": c.kind,
                "levels": c.labels(),
                "rangeSource": c.range_source or None,
            }
            for c in result.codings
        ],
        "ledger": ledger_details(entries, charge),
    }
    return document


def _marginal_chart(
    coding: ColumnCoding, real: np.ndarray, synthetic: np.ndarray
) -> dict[str, Any]:
    labels = coding.labels()
    values = [
        {"value": label, "data": source, "share": number(float(share))}
        for label, r, s in zip(labels, real, synthetic, strict=True)
        for source, share in (("real", r), ("synthetic", s))
    ]
    return {
        "data": {"values": values},
        "mark": "bar",
        "encoding": {
            "x": {"field": "value", "type": "nominal", "sort": labels, "title": coding.name},
            "xOffset": {"field": "data", "type": "nominal"},
            "y": {"field": "share", "type": "quantitative", "title": "Share of rows"},
            "color": {"field": "data", "type": "nominal", "title": "Data"},
            "tooltip": [
                {"field": "value", "type": "nominal", "title": coding.name},
                {"field": "data", "type": "nominal"},
                {"field": "share", "type": "quantitative", "format": ".3f"},
            ],
        },
    }


def _association_section(
    real: pd.DataFrame, synthetic: pd.DataFrame, codings: list[ColumnCoding]
) -> Section:
    options: list[Option] = []
    numeric = [c.name for c in codings if c.kind == "numeric"]
    if len(numeric) >= 2:
        real_corr = real[numeric].corr()
        synth_corr = synthetic[numeric].corr()
        cells = [
            (a, b, real_corr.loc[a, b], synth_corr.loc[a, b]) for a in numeric for b in numeric
        ]
        options.append(
            {
                "id": "pearson",
                "label": "Pearson correlation (numeric columns)",
                "description": "Real minus synthetic correlation for each pair of numeric "
                "columns: 0 means the copy keeps it.",
                "chart": _heatmap(cells, "Correlation difference"),
            }
        )
    if len(codings) >= 2:
        codes_real = {c.name: c.encode(real[c.name]) for c in codings}
        codes_synth = {c.name: c.encode(synthetic[c.name]) for c in codings}
        sizes = {c.name: c.size for c in codings}
        cells = [
            (
                a.name,
                b.name,
                _cramers_v(codes_real[a.name], codes_real[b.name], sizes[a.name], sizes[b.name]),
                _cramers_v(codes_synth[a.name], codes_synth[b.name], sizes[a.name], sizes[b.name]),
            )
            for a in codings
            for b in codings
        ]
        options.append(
            {
                "id": "cramers-v",
                "label": "Cramér's V (all columns, binned)",
                "description": "Real minus synthetic association (Cramér's V, 0 none to 1 "
                "complete) for each pair of columns, on the synthesizer's bins. MST keeps the "
                "pairs on its tree best; the others only through the tree.",
                "chart": _heatmap(cells, "Association difference"),
            }
        )
    if not options:
        return {
            "id": "associations",
            "title": "Associations",
            "description": "One column: no pairs to compare.",
        }
    return {
        "id": "associations",
        "title": "Associations: real vs synthetic",
        "choice": {"label": "Measure", "options": options},
    }


def _heatmap(cells: list[tuple[str, str, Any, Any]], title: str) -> dict[str, Any]:
    values = []
    for a, b, real, synthetic in cells:
        r, s = number(real), number(synthetic)
        values.append(
            {
                "a": a,
                "b": b,
                "real": r,
                "synthetic": s,
                "difference": None if r is None or s is None else r - s,
            }
        )
    order = list(dict.fromkeys(a for a, *_ in cells))
    return {
        "data": {"values": values},
        "mark": "rect",
        "encoding": {
            "x": {"field": "a", "type": "nominal", "sort": order, "title": None},
            "y": {"field": "b", "type": "nominal", "sort": order, "title": None},
            "color": {
                "field": "difference",
                "type": "quantitative",
                "title": title,
                "scale": {"scheme": "redblue", "domain": [-1, 1]},
            },
            "tooltip": [
                {"field": "a", "type": "nominal"},
                {"field": "b", "type": "nominal"},
                {"field": "real", "type": "quantitative", "format": ".3f"},
                {"field": "synthetic", "type": "quantitative", "format": ".3f"},
                {"field": "difference", "type": "quantitative", "format": ".3f"},
            ],
        },
    }


def _cramers_v(a: np.ndarray, b: np.ndarray, size_a: int, size_b: int) -> float | None:
    import numpy as np

    table_ = np.bincount(a * size_b + b, minlength=size_a * size_b).reshape(size_a, size_b)
    table_ = table_[table_.sum(axis=1) > 0][:, table_.sum(axis=0) > 0].astype(float)
    rows, cols = table_.shape
    total = table_.sum()
    if min(rows, cols) < 2 or total == 0:
        return None
    expected = np.outer(table_.sum(axis=1), table_.sum(axis=0)) / total
    chi2 = float(((table_ - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / total / (min(rows, cols) - 1)))
