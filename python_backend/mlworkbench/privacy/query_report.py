"""The report of a private query: the noisy answer, how each aggregate was released (mechanism,
epsilon, noise scale, 95% error bound), and the data set's ledger."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlworkbench.privacy.privacy_report import budget_figures, ledger_details, ledger_section
from mlworkbench.reports.report_document import (
    Column,
    ReportDocument,
    new_document,
    number_column,
    table,
    text_column,
)

if TYPE_CHECKING:
    from mlworkbench.privacy.dp_query import QueryAnswer, QueryPlan
    from mlworkbench.privacy.privacy_ledger import Charge, LedgerEntry
    from mlworkbench.reports.report_document import DataSource


def query_document(
    answer: QueryAnswer,
    plan: QueryPlan,
    charge: Charge,
    entries: list[LedgerEntry],
    source: DataSource,
) -> ReportDocument:
    query = plan.query
    document = new_document("privacy", f"Private query on {Path(source['path']).name}")
    document["data"] = source
    document["runId"] = charge.entry.run_id
    document["summary"] = [*budget_figures(charge), {"label": "Groups", "value": answer.groups}]
    aggregates = {a.label for a in query.aggregates}
    columns: list[Column] = [
        number_column(label, label, digits=6) if label in aggregates else text_column(label, label)
        for label in answer.labels
    ]
    rows = [
        {
            key: (value if key in aggregates or value is None else str(value))
            for key, value in row.items()
        }
        for row in answer.rows
    ]
    cost_rows: list[dict[str, Any]] = []
    for cost in answer.costs:
        for part, release in zip(
            _parts(cost.label, len(cost.mechanisms)), cost.mechanisms, strict=True
        ):
            cost_rows.append(
                {
                    "aggregate": part,
                    "mechanism": release.mechanism,
                    "epsilon": release.epsilon,
                    "scale": release.scale,
                    "accuracy": release.accuracy,
                }
            )
    share = charge.entry.epsilon / len(query.aggregates)
    document["sections"] = [
        {
            "id": "answer",
            "title": "Answer",
            "description": f"{query.text}\n\nEvery number is noisy (see the next table for how "
            "noisy); counts below zero are shown as 0 and means are kept within the declared "
            "bounds (post-processing, free of privacy cost). A mean with no rows left after "
            "noise is empty.",
            "table": table(columns, rows),
        },
        {
            "id": "noise",
            "title": "How it was answered",
            "description": f"Epsilon {charge.entry.epsilon:g} split evenly over "
            f"{len(query.aggregates)} aggregate(s), {share:.4g} each; a mean is a noisy sum over "
            "a noisy count, half its share each. Within an aggregate each group holds different "
            "rows, so all groups together cost its share once (parallel composition). ± is the "
            "error bound that holds with 95% confidence.",
            "table": table(
                [
                    text_column("aggregate", "Aggregate"),
                    text_column("mechanism", "Mechanism (OpenDP)"),
                    number_column("epsilon", "Epsilon"),
                    number_column("scale", "Noise scale"),
                    number_column("accuracy", "± (95%)"),
                ],
                cost_rows,
            ),
        },
        ledger_section(entries, charge),
    ]
    document["warnings"] = list(answer.warnings)
    document["details"] = {
        "sql": query.text,
        "epsilon": answer.epsilon,
        "rows": answer.rows,
        "costs": cost_rows,
        "bounds": {name: list(span) for name, span in plan.bounds.items()},
        "publicKeys": {c: len(k) for c, k in zip(query.group_by, plan.keys, strict=True)},
        "ledger": ledger_details(entries, charge),
    }
    return document


def _parts(label: str, count: int) -> list[str]:
    return [label] if count == 1 else [f"{label}: sum", f"{label}: count"][:count]
