"""Envelopes of the reports' requests (reports_requests): make one, cancel it, list and read a
run's reports, and look into a data set for the wizard.

Part of the protocol (`protocol.py` lists them in ENVELOPES, `scripts/gen_protocol.py` turns
them into TypeScript). The report itself is `mlworkbench.reports.report_document`'s shape.
"""

from __future__ import annotations

from typing import Final, Literal, TypedDict

# Light at import (TypedDicts only).
from mlworkbench.reports.report_document import (
    Choice,
    Column,
    DataSource,
    Figure,
    Option,
    ReportDocument,
    Section,
    Table,
)

# What `createReport` can make; each is one `mlworkbench` CLI verb run in a child process.
CreateKind = Literal["fairness", "explain", "card", "privacy-synth", "privacy-query", "mitigate"]


class _CreateReportOptions(TypedDict, total=False):
    runId: str  # the run whose model is judged and under which the report is logged
    model: str  # a model URI, or with runId one of the run's model labels
    data: str  # a CSV or Parquet file (workspace-relative or absolute)
    target: str
    sensitive: list[str]
    # Extra options of the verb, by their CLI name with "_" for "-" ("epsilon": 1.0,
    # "rows": "3,17", "max_data_mb": 256): pygls renames JSON keys that are not identifiers.
    # Each is checked against the verb's list.
    options: dict[str, str | float | bool]


class CreateReportParams(_CreateReportOptions):
    workspaceUri: str
    jobId: str  # chosen by the client; cancelReport and reportProgress name it
    kind: CreateKind


class CreateReportResult(TypedDict):
    document: ReportDocument
    artifactPath: str | None  # "reports/fairness.json" under the run, when logged
    runId: str | None  # the run it was logged to (a new run for mitigation and privacy)


class CancelReportParams(TypedDict):
    jobId: str


class ReportProgressParams(TypedDict):
    jobId: str
    message: str


class ListReportsParams(TypedDict):
    workspaceUri: str
    runId: str


class ReportEntry(TypedDict):
    name: str  # "fairness" (the file's stem under reports/)
    artifactPath: str  # "reports/fairness.json"


class ListReportsResult(TypedDict):
    reports: list[ReportEntry]


class ReadReportParams(TypedDict):
    workspaceUri: str
    runId: str
    name: str


class InspectDataParams(TypedDict):
    workspaceUri: str
    data: str


class DataColumn(TypedDict):
    name: str
    # Distinct values in the rows read (capped): the wizard offers low-cardinality columns as
    # sensitive features first.
    distinct: int
    numeric: bool


class InspectDataResult(TypedDict):
    path: str
    columns: list[DataColumn]
    sampledRows: int


REPORTS_ENVELOPES: Final[list[type]] = [
    Column,
    Table,
    Option,
    Choice,
    Section,
    Figure,
    DataSource,
    ReportDocument,
    CreateReportParams,
    CreateReportResult,
    CancelReportParams,
    ReportProgressParams,
    ListReportsParams,
    ReportEntry,
    ListReportsResult,
    ReadReportParams,
    InspectDataParams,
    DataColumn,
    InspectDataResult,
]
