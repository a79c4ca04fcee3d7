"""`mlworkbench runs show RUN`: one run's params, metrics, tags, note, models and artifacts.

Also holds what every one-run action shares: the RUN / --workspace / --json arguments, the run
id prefix lookup, and printing RunDetails (JSON as the language server sends it).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlworkbench.explorer.run_details import ArtifactEntry, RunDetails

# `show` lists at most this many artifacts, walking at most this deep, so a run that logged
# thousands of files still prints promptly.
MAX_ARTIFACTS = 200
MAX_DEPTH = 4


def add_action(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help: str,
    run: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    """A one-run action: RUN (a full id or a unique prefix of 6+ characters), --workspace,
    --json."""
    parser = actions.add_parser(name, help=help, description=help)
    parser.add_argument("run", metavar="RUN", help="run id, or a unique prefix of 6+ characters")
    parser.add_argument(
        "--workspace", type=Path, default=None, help="workspace folder (default: cwd)"
    )
    parser.add_argument("--json", action="store_true", help="print the run's details as JSON")
    parser.set_defaults(runs_run=run)
    return parser


def target(args: argparse.Namespace) -> tuple[Path, str]:
    """The workspace and the full run id the action works on."""
    from mlworkbench.explorer.run_lookup import resolve_run_id

    workspace: Path = (args.workspace or Path.cwd()).resolve()
    return workspace, resolve_run_id(workspace, args.run)


def print_json(details: RunDetails, **extra: object) -> None:
    print(json.dumps({**details.to_dict(), **extra}, indent=2))


def configure(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_action(actions, "show", "show one run: params, metrics, tags, note, artifacts", _show)


def _show(args: argparse.Namespace) -> int:
    from mlworkbench.explorer.run_details import details_of, list_entries
    from mlworkbench.explorer.run_lookup import open_run

    workspace, run_id = target(args)
    client, run, experiment = open_run(workspace, run_id)
    details = details_of(client, run, experiment)
    artifacts = _walk(lambda path: list_entries(client, run, path))
    if args.json:
        print_json(details, artifacts=[a.to_dict() for a in artifacts])
        return 0
    print("\n".join(render(details, artifacts)))
    return 0


def _walk(list_folder: Callable[[str | None], list[ArtifactEntry]]) -> list[ArtifactEntry]:
    """Artifacts depth first (a folder, then what it holds), within MAX_ARTIFACTS/MAX_DEPTH."""
    found: list[ArtifactEntry] = []

    def visit(path: str | None, depth: int) -> None:
        for entry in list_folder(path):
            if len(found) >= MAX_ARTIFACTS:
                return
            found.append(entry)
            if entry.is_dir and depth < MAX_DEPTH:
                visit(entry.path, depth + 1)

    visit(None, 1)
    return found


def render(details: RunDetails, artifacts: list[ArtifactEntry]) -> list[str]:
    from mlworkbench.commands.runs import format_duration

    state = " (deleted)" if details.lifecycle_stage == "deleted" else ""
    lines = [
        f"run {details.run_id}{state}",
        f"  name        {details.run_name}",
        f"  experiment  {details.experiment_name} ({details.experiment_id})",
        f"  status      {details.status}",
        f"  started     {_time(details.start_time)}",
        f"  duration    {format_duration(details.start_time, details.end_time)}",
    ]
    if details.script:
        lines.append(f"  script      {details.script}")
    if details.args is not None:
        lines.append(f"  args        {' '.join(details.args) or '(none)'}")
    if details.note:
        lines += ["", "note:", *(f"  {line}" for line in details.note.splitlines())]
    sections: list[tuple[str, dict[str, str] | dict[str, float]]] = [
        ("params", details.params),
        ("metrics", details.metrics),
        ("tags", details.tags),
    ]
    for title, values in sections:
        if values:
            lines += ["", f"{title}:", *(f"  {k} = {values[k]}" for k in sorted(values))]
    if details.models:
        lines += ["", "models:", *(f"  {m.label}  {m.uri}" for m in details.models)]
    lines += ["", "artifacts:"]
    for entry in artifacts:
        indent = "  " * entry.path.count("/")
        name = entry.path.rsplit("/", 1)[-1]
        lines.append(
            f"  {indent}{name}/" if entry.is_dir else f"  {indent}{name}  ({entry.size} B)"
        )
    if not artifacts:
        lines.append("  (none)")
    elif len(artifacts) >= MAX_ARTIFACTS:
        lines.append(f"  … (first {MAX_ARTIFACTS} shown)")
    return lines


def _time(millis: int | None) -> str:
    if millis is None:
        return "-"
    return datetime.fromtimestamp(millis / 1000).strftime("%Y-%m-%d %H:%M:%S")
