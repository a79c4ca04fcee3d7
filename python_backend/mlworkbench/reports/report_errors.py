"""Typed errors of the reports: the data, the columns, the model and the privacy budget.

Each says what was wrong and what to do; the server maps `code` like every `MlWorkbenchError`
and the CLI prints the message. None of them leaves a half-written report behind: reports are
written only once computed.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from mlworkbench.errors import MlWorkbenchError


class ReportDataError(MlWorkbenchError):
    """The data set cannot be used: missing, unreadable, not CSV/Parquet, or too large."""

    code = "REPORT_DATA_INVALID"

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"cannot use data set {path}: {reason}")
        self.path = str(path)
        self.reason = reason

    @property
    def data(self) -> dict[str, object]:
        return {"path": self.path, "reason": self.reason}


class ColumnNotFoundError(MlWorkbenchError):
    """A named column (target, sensitive feature, query column) is not in the data set."""

    code = "COLUMN_NOT_FOUND"

    def __init__(self, column: str, role: str, available: Sequence[str]) -> None:
        close = difflib.get_close_matches(column, list(available), n=1, cutoff=0.6)
        hint = (
            f"did you mean {close[0]!r}?"
            if close
            else f"the columns are {', '.join(repr(c) for c in list(available)[:20])}"
            + (" …" if len(available) > 20 else "")
        )
        super().__init__(f"no column {column!r} (the {role}) in the data set; {hint}")
        self.column = column
        self.role = role
        self.suggestion = close[0] if close else None

    @property
    def data(self) -> dict[str, object]:
        return {"column": self.column, "role": self.role, "suggestion": self.suggestion}


class InvalidReportInputError(MlWorkbenchError):
    """The inputs do not fit the report: a non-binary target for binary metrics, a model whose
    features do not match the data, too many groups, a model without predict_proba, …"""

    code = "INVALID_REPORT_INPUT"

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field

    @property
    def data(self) -> dict[str, object]:
        return {"field": self.field}


class ModelLoadError(MlWorkbenchError):
    """The model could not be found or loaded (its flavour, its dependencies, skops types)."""

    code = "MODEL_LOAD_FAILED"

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(f"cannot load model {uri}: {reason}")
        self.uri = uri
        self.reason = reason

    @property
    def data(self) -> dict[str, object]:
        return {"uri": self.uri, "reason": self.reason}


class PrivacyBudgetError(MlWorkbenchError):
    """Spending this epsilon would take the data set past its privacy budget."""

    code = "PRIVACY_BUDGET_EXCEEDED"

    def __init__(self, dataset: str, spent: float, asked: float, budget: float) -> None:
        left = max(budget - spent, 0.0)
        super().__init__(
            f"privacy budget of {dataset} exceeded: {spent:g} of {budget:g} already spent, "
            f"{asked:g} asked, {left:g} left; ask for at most {left:g} or raise the budget "
            "(--budget / mlWorkbench.privacy.budget) if your privacy policy allows it"
        )
        self.dataset = dataset
        self.spent = spent
        self.asked = asked
        self.budget = budget

    @property
    def data(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "spent": self.spent,
            "asked": self.asked,
            "budget": self.budget,
        }


class ReportNotFoundError(MlWorkbenchError):
    """The run has no report of this kind (never made, or its artifact was deleted)."""

    code = "REPORT_NOT_FOUND"

    def __init__(self, run_id: str, kind: str) -> None:
        super().__init__(
            f"run {run_id} has no {kind} report; make one with `mlworkbench report {kind}`"
        )
        self.run_id = run_id
        self.kind = kind

    @property
    def data(self) -> dict[str, object]:
        return {"runId": self.run_id, "kind": self.kind}


class ReportProcessError(MlWorkbenchError):
    """The report's process ended without a report: it crashed, ran out of memory or was
    stopped. The end of its output says why."""

    code = "REPORT_FAILED"

    def __init__(self, reason: str, output: str = "") -> None:
        detail = f"\n{output.rstrip()}" if output.strip() else ""
        super().__init__(f"the report did not finish: {reason}{detail}")
        self.reason = reason
        self.output = output

    @property
    def data(self) -> dict[str, object]:
        return {"reason": self.reason, "output": self.output}
