"""Report requests: make a report (the CLI in a child process), cancel it, list and read a
run's reports, and look into a data set for the wizard.

Making a report loads a model, which runs code: `createReport` is EXECUTE and refused in
Restricted Mode. Reading reports already logged is a local read. The request names a verb and
its inputs; this module turns them into the verb's argument list (no shell, every value its own
`--flag=value` item, options checked against the verb's list) so the editor and a terminal make
the same report.
"""

from __future__ import annotations

import atexit
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from mlworkbench_server.cancellable_jobs import CancellableJobs
from mlworkbench_server.protocol import NOTIFICATIONS, REQUESTS
from mlworkbench_server.request_path import Trust, request, workspace_of

if TYPE_CHECKING:
    from mlworkbench.reports.report_document import ReportDocument
    from mlworkbench_server.protocol import EmptyResult
    from mlworkbench_server.reports_protocol import (
        CancelReportParams,
        CreateReportParams,
        CreateReportResult,
        InspectDataParams,
        InspectDataResult,
        ListReportsParams,
        ListReportsResult,
        ReadReportParams,
    )
    from mlworkbench_server.server import WorkbenchServer

# Each kind: its CLI verb, the inputs it takes, and the options it accepts (CLI names).
_DATA_LIMIT = ("max-data-mb",)
VERBS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "fairness": (
        ("report", "fairness"),
        ("run", "model", "data", "target", "sensitive"),
        ("pos-label", "min-group-size", "max-groups", "task", *_DATA_LIMIT),
    ),
    "mitigate": (
        ("report", "mitigate"),
        ("run", "model", "data", "target", "sensitive"),
        ("method", "constraint", "pos-label", "holdout", *_DATA_LIMIT),
    ),
    "explain": (
        ("report", "explain"),
        ("run", "model", "data", "target"),
        ("rows", "sample", *_DATA_LIMIT),
    ),
    "card": (("report", "card"), ("run",), ("intended-use",)),
    "privacy-synth": (
        ("privacy", "synth"),
        ("data",),
        (
            "epsilon",
            "synthesizer",
            "rows",
            "budget",
            "bounds",
            "out-data",
            "force",
            "seed",
            *_DATA_LIMIT,
        ),
    ),
    "privacy-query": (
        ("privacy", "query"),
        ("data",),
        ("sql", "epsilon", "budget", "bounds", *_DATA_LIMIT),
    ),
}
MAX_OPTION_CHARS = 10_000


def _bad_params(message: str) -> JsonRpcException:
    return JsonRpcException(code=types.ErrorCodes.InvalidParams, message=message)


def report_argv(params: CreateReportParams) -> list[str]:
    """The CLI arguments for the request (without --json/--workspace, which the runner adds)."""
    kind = params["kind"]
    if kind not in VERBS:
        raise _bad_params(f"unknown report kind {kind!r}; expected one of {', '.join(VERBS)}")
    verb, inputs, allowed = VERBS[kind]
    argv = list(verb)
    given: dict[str, Any] = {
        "run": params.get("runId"),
        "model": params.get("model"),
        "data": params.get("data"),
        "target": params.get("target"),
        "sensitive": ",".join(params.get("sensitive", [])) or None,
    }
    for name, value in given.items():
        if not value:
            continue
        if name not in inputs:
            raise _bad_params(f"a {kind} report does not take '{name}'")
        argv.append(f"--{name}={value}")
    # Option keys travel as identifiers (`max_data_mb`): pygls renames JSON keys that are not.
    for key, value in params.get("options", {}).items():
        name = key.replace("_", "-")
        if name not in allowed:
            raise _bad_params(
                f"unknown option {name!r} for a {kind} report; expected one of {', '.join(allowed)}"
            )
        if value is True:
            argv.append(f"--{name}")
        elif value is not False:
            text = str(value)
            if len(text) > MAX_OPTION_CHARS or "\x00" in text:
                raise _bad_params(f"option {name!r} is too long or holds a NUL character")
            argv.append(f"--{name}={text}")
    return argv


def register(server: WorkbenchServer) -> None:
    jobs = CancellableJobs("report")

    @request(
        server, REQUESTS["CREATE_REPORT"], Trust.EXECUTE, refused="load models to make reports"
    )
    def create_report(ls: WorkbenchServer, params: CreateReportParams) -> CreateReportResult:
        import os

        from mlworkbench.reports.report_child import child_env, run_report
        from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

        argv = report_argv(params)
        workspace = workspace_of(params)
        job_id = params["jobId"]
        cancelled = jobs.start(job_id)
        try:
            uri = resolve_tracking_uri(workspace, ls.tracking_uri)
            payload = run_report(
                argv,
                workspace=workspace,
                env=child_env(os.environ, uri),
                on_progress=lambda message: ls.protocol.notify(
                    NOTIFICATIONS["REPORT_PROGRESS"], {"jobId": job_id, "message": message}
                ),
                cancelled=cancelled,
            )
        finally:
            jobs.end(job_id)
        if payload.get("runId"):
            ls.runs_changed(payload["runId"])
        return {
            "document": payload["document"],
            "artifactPath": payload.get("artifactPath"),
            "runId": payload.get("runId"),
        }

    # From memory, on the event loop: a cancel must not queue behind the report it cancels.
    @request(server, REQUESTS["CANCEL_REPORT"], Trust.EXECUTE, thread=False)
    def cancel_report(ls: WorkbenchServer, params: CancelReportParams) -> EmptyResult:
        jobs.cancel(params["jobId"])
        return {}

    @request(server, REQUESTS["LIST_REPORTS"], Trust.READ_LOCAL)
    def list_reports(ls: WorkbenchServer, params: ListReportsParams) -> ListReportsResult:
        from mlworkbench.reports.report_store import list_reports

        found = list_reports(workspace_of(params), params["runId"], tracking_uri=ls.tracking_uri)
        return {"reports": [{"name": r["name"], "artifactPath": r["artifactPath"]} for r in found]}

    @request(server, REQUESTS["READ_REPORT"], Trust.READ_LOCAL)
    def read_report(ls: WorkbenchServer, params: ReadReportParams) -> ReportDocument:
        from mlworkbench.reports.report_store import read_report

        return read_report(
            workspace_of(params), params["runId"], params["name"], tracking_uri=ls.tracking_uri
        )

    @request(server, REQUESTS["INSPECT_DATA"], Trust.READ_LOCAL)
    def inspect_data(ls: WorkbenchServer, params: InspectDataParams) -> InspectDataResult:
        from mlworkbench.reports.data_preview import inspect_data

        preview = inspect_data(params["data"], workspace=workspace_of(params))
        return {
            "path": preview.path,
            "columns": [
                {"name": c.name, "distinct": c.distinct, "numeric": c.numeric}
                for c in preview.columns
            ],
            "sampledRows": preview.sampled_rows,
        }

    # A report's process runs in its own session: stop it when the server goes (shutdown,
    # exit, or a crash of the client that skips both).
    atexit.register(jobs.cancel_all)
