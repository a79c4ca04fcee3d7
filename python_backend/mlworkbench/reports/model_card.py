"""The model card of a run: what the model is, how it did, on which data, how fair, what drives
it, what privacy it spent, and what it is for — gathered from what the run already holds.

Nothing is computed again: params and metrics come from the run, the fairness and explanation
summaries from its `reports/fairness.json` and `reports/explain.json` (the card says which are
missing and the command that makes them), the privacy spend from the ledger by the data set's
hash. The intended use is the one piece a person writes; it is kept in the run's tag
`mlworkbench.card.intendedUse`, so a new card keeps the text and the user edits it in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlworkbench.reports.report_document import (
    ReportDocument,
    Section,
    new_document,
    number_column,
    table,
    text_column,
)
from mlworkbench.reports.report_errors import ReportDataError, ReportNotFoundError

if TYPE_CHECKING:
    from mlflow.entities import Run

INTENDED_USE_TAG = "mlworkbench.card.intendedUse"
MAX_INTENDED_USE = 5_000
_PLACEHOLDER = (
    "Not written yet: say what the model is for, for whom, and where it must not be used "
    "(`mlworkbench report card --run RUN --intended-use TEXT`)."
)


def model_card(
    workspace: Path,
    run_id: str,
    *,
    intended_use: str | None = None,
    tracking_uri: str | None = None,
) -> ReportDocument:
    """The card as a report document (kind "card"); writes the intended use tag when given."""
    from mlworkbench.explorer.run_lookup import open_run
    from mlworkbench.reports.report_errors import InvalidReportInputError

    client, run, experiment = open_run(workspace, run_id, tracking_uri)
    run_id = run.info.run_id
    if intended_use is not None:
        text = intended_use.strip()
        if len(text) > MAX_INTENDED_USE:
            raise InvalidReportInputError(
                f"the intended use is {len(text):,} characters; keep it under {MAX_INTENDED_USE:,}",
                field="intendedUse",
            )
        client.set_tag(run_id, INTENDED_USE_TAG, text)
        run = client.get_run(run_id)

    name = run.info.run_name or run_id
    document = new_document("card", f"Model card: {name}")
    document["runId"] = run_id
    sections: list[Section] = []

    use = run.data.tags.get(INTENDED_USE_TAG, "").strip()
    sections.append(
        {"id": "intended-use", "title": "Intended use", "description": use or _PLACEHOLDER}
    )
    if not use:
        document["warnings"].append("The intended use is not written yet.")

    sections.append(_overview(run, experiment.name))
    params = sorted(run.data.params.items())
    if params:
        sections.append(
            {
                "id": "params",
                "title": "Parameters",
                "table": table(
                    [text_column("name", "Parameter"), text_column("value", "Value")],
                    [{"name": k, "value": v} for k, v in params],
                ),
            }
        )
    metrics = sorted(run.data.metrics.items())
    if metrics:
        sections.append(
            {
                "id": "metrics",
                "title": "Metrics",
                "table": table(
                    [text_column("name", "Metric"), number_column("value", "Value", 6)],
                    [{"name": k, "value": v} for k, v in metrics],
                ),
            }
        )

    fairness = _read(workspace, run_id, "fairness", tracking_uri)
    explain = _read(workspace, run_id, "explain", tracking_uri)
    datasets = _datasets(run, fairness, explain)
    sections.append(_data_section(datasets))
    sections.append(_summary_section("fairness", "Fairness", fairness, document))
    sections.append(_summary_section("explain", "What drives the model", explain, document))
    sections.append(_privacy_section(workspace, datasets, tracking_uri))
    document["sections"] = sections
    document["summary"] = [
        {"label": "Status", "value": run.info.status},
        {"label": "Parameters", "value": len(params)},
        {"label": "Metrics", "value": len(metrics)},
        {"label": "Reports", "value": sum(r is not None for r in (fairness, explain))},
    ]
    document["details"] = {
        "params": dict(params),
        "metrics": dict(metrics),
        "datasets": datasets,
        "intendedUse": use,
        "fairness": fairness["summary"] if fairness else None,
        "explain": explain["summary"] if explain else None,
    }
    return document


def _overview(run: Run, experiment: str) -> Section:
    tags = run.data.tags
    rows = [
        {"field": "Run", "value": f"{run.info.run_name} ({run.info.run_id})"},
        {"field": "Experiment", "value": experiment},
        {"field": "Status", "value": run.info.status},
        {
            "field": "Script",
            "value": tags.get("mlworkbench.script", tags.get("mlflow.source.name", "—")),
        },
        {"field": "Git commit", "value": tags.get("mlflow.source.git.commit", "—")},
    ]
    return {
        "id": "overview",
        "title": "Model details",
        "table": table([text_column("field", "Field"), text_column("value", "Value")], rows),
    }


def _read(
    workspace: Path, run_id: str, name: str, tracking_uri: str | None
) -> ReportDocument | None:
    from mlworkbench.reports.report_store import read_report

    try:
        return read_report(workspace, run_id, name, tracking_uri=tracking_uri)
    except (ReportNotFoundError, ReportDataError):
        return None


def _datasets(run: Run, *reports: ReportDocument | None) -> list[dict[str, str]]:
    """Data sets by hash: those the reports read, then those the run logged as inputs."""
    found: dict[str, dict[str, str]] = {}
    for report in reports:
        if report is None or "data" not in report:
            continue
        data = report["data"]
        found.setdefault(
            data["sha256"],
            {"path": data["path"], "sha256": data["sha256"], "source": f"{report['kind']} report"},
        )
    inputs = getattr(run, "inputs", None)
    for dataset_input in getattr(inputs, "dataset_inputs", None) or []:
        dataset = dataset_input.dataset
        # MLflow keeps at most 36 characters of a digest: a report's full hash may start with it.
        if any(sha.startswith(dataset.digest) for sha in found):
            continue
        found.setdefault(
            dataset.digest,
            {"path": dataset.name, "sha256": dataset.digest, "source": "logged by the run"},
        )
    return list(found.values())


def _data_section(datasets: list[dict[str, str]]) -> Section:
    if not datasets:
        return {
            "id": "data",
            "title": "Data",
            "description": "No data set is known for this run: make a fairness or explanation "
            "report (they record the data set's hash) or log it with mlflow.log_input.",
        }
    return {
        "id": "data",
        "title": "Data",
        "table": table(
            [
                text_column("path", "Data set"),
                text_column("sha256", "Hash"),
                text_column("source", "Known from"),
            ],
            datasets,
        ),
    }


def _summary_section(
    kind: str, title: str, report: ReportDocument | None, document: ReportDocument
) -> Section:
    if report is None:
        document["warnings"].append(f"No {kind} report yet: `mlworkbench report {kind} --run …`.")
        return {
            "id": kind,
            "title": title,
            "description": f"Not made yet: run `mlworkbench report {kind}` on this run.",
        }
    rows: list[dict[str, Any]] = [
        {"label": f["label"], "value": _shown(f["value"])} for f in report["summary"]
    ]
    section: Section = {
        "id": kind,
        "title": title,
        "description": f"From the {kind} report of {report['createdAt']}."
        + (f" Warnings: {' '.join(report['warnings'])}" if report["warnings"] else ""),
        "table": table([text_column("label", "Figure"), text_column("value", "Value")], rows),
    }
    chart = _first_chart(report)
    if chart is not None:
        section["chart"] = chart
    return section


def _first_chart(report: ReportDocument) -> dict[str, Any] | None:
    """The report's headline chart: its first section's chart, or that section's last choice
    (fairness keeps one per sensitive feature, the intersection last)."""
    for section in report["sections"]:
        if "chart" in section:
            return section["chart"]
        options = section.get("choice", {}).get("options", [])
        charts = [option["chart"] for option in options if "chart" in option]
        if charts:
            return charts[-1]
    return None


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def _privacy_section(
    workspace: Path, datasets: list[dict[str, str]], tracking_uri: str | None
) -> Section:
    from mlworkbench.privacy import privacy_ledger

    rows = []
    for dataset in datasets:
        try:
            spent: float | None = privacy_ledger.spent(workspace, dataset["sha256"])
        except Exception:  # the ledger is the card's footnote, never its failure
            spent = None
        rows.append({"path": dataset["path"], "spent": spent})
    if not rows:
        return {"id": "privacy", "title": "Privacy", "description": "No data set known."}
    return {
        "id": "privacy",
        "title": "Privacy",
        "description": "Epsilon spent on each data set through ML Workbench's privacy ledger "
        "(differentially private queries and synthetic copies).",
        "table": table(
            [text_column("path", "Data set"), number_column("spent", "Epsilon spent")], rows
        ),
    }


def card_markdown(document: ReportDocument) -> str:
    """The card as Markdown (for a repository's MODEL_CARD.md); table cells escaped for pipes."""

    def cell(value: Any) -> str:
        text = (
            "—" if value is None else (f"{value:.6g}" if isinstance(value, float) else str(value))
        )
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = [f"# {document['title']}", "", f"Created {document['createdAt']}.", ""]
    for warning in document["warnings"]:
        lines.append(f"> {cell(warning)}")
    for section in document["sections"]:
        lines += ["", f"## {section['title']}", ""]
        if section.get("description"):
            lines.append(section["description"])
            lines.append("")
        if "table" in section:
            columns = section["table"]["columns"]
            lines.append("| " + " | ".join(cell(c["label"]) for c in columns) + " |")
            lines.append("|" + "---|" * len(columns))
            for row in section["table"]["rows"]:
                lines.append("| " + " | ".join(cell(row.get(c["key"])) for c in columns) + " |")
    return "\n".join(lines) + "\n"
