"""What every privacy report shows about the budget: the figures of this spend and the data
set's ledger, so a reader sees what was spent before and what is left."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mlworkbench.reports.report_document import (
    Figure,
    Section,
    number_column,
    table,
    text_column,
)

if TYPE_CHECKING:
    from mlworkbench.privacy.privacy_ledger import Charge, LedgerEntry

COMPOSITION = (
    "Basic sequential composition: the epsilons of every release on this data set (the same "
    "file bytes, whatever the path) add up; deleted and failed entries still count."
)


def budget_figures(charge: Charge) -> list[Figure]:
    return [
        {"label": "Epsilon spent by this release", "value": charge.entry.epsilon},
        {
            "label": "Epsilon spent on this data set",
            "value": charge.spent_after,
            "hint": "all releases so far, this one included (sequential composition)",
        },
        {"label": "Budget", "value": charge.budget},
        {"label": "Left", "value": charge.left},
    ]


def ledger_section(entries: list[LedgerEntry], charge: Charge) -> Section:
    rows: list[dict[str, Any]] = []
    flags: list[str] = []
    for entry in entries:
        rows.append(
            {
                "when": _when(entry.start_time),
                "mechanism": entry.mechanism,
                "epsilon": entry.epsilon,
                "delta": entry.delta,
                "outcome": entry.outcome,
                "run": entry.run_id,
            }
        )
        flags.append("this release" if entry.run_id == charge.entry.run_id else "")
    total = math.fsum(entry.epsilon for entry in entries)
    return {
        "id": "ledger",
        "title": "Privacy ledger",
        "description": f"{COMPOSITION} Spent {total:.4g} of a budget of {charge.budget:g}.",
        "table": table(
            [
                text_column("when", "When (UTC)"),
                text_column("mechanism", "Mechanism"),
                number_column("epsilon", "Epsilon"),
                number_column("delta", "Delta"),
                text_column("outcome", "Outcome"),
                text_column("run", "Run"),
            ],
            rows,
            flags,
        ),
    }


def ledger_details(entries: list[LedgerEntry], charge: Charge) -> dict[str, Any]:
    return {
        "dataset": charge.entry.dataset,
        "spentBefore": charge.spent_before,
        "spent": charge.spent_after,
        "budget": charge.budget,
        "left": charge.left,
        "composition": "sequential",
        "entries": [
            {
                "runId": e.run_id,
                "mechanism": e.mechanism,
                "epsilon": e.epsilon if math.isfinite(e.epsilon) else None,
                "delta": e.delta,
                "startTime": e.start_time,
                "outcome": e.outcome,
            }
            for e in entries
        ],
    }


def _when(millis: int | None) -> str:
    if millis is None:
        return "—"
    return datetime.fromtimestamp(millis / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
