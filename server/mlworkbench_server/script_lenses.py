"""Code lenses on training scripts: Run, Run with…, Run on… (a Ray target), Sweep…, Debug, the
script's runs, Report…, and a summary of frameworks and parameters.

Lenses come from `ast` analysis of the editor's text alone; the user's script is never
imported, so opening a file runs nothing (which is also what makes them safe in Restricted
Mode). In a trusted workspace, a training script's lenses also ask the warm pool to preload
its frameworks (`RunSessions.prepare_warm`), so its first run starts warm.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.uris import to_fs_path

from mlworkbench.analysis.script_analysis import FRAMEWORK_LABELS, ScriptAnalysis
from mlworkbench_server.protocol import COMMANDS
from mlworkbench_server.script_runs import ScriptRuns, lens_title

if TYPE_CHECKING:
    from mlworkbench_server.server import WorkbenchServer

MAX_PARAMS_IN_TITLE = 5


def summary_title(analysis: ScriptAnalysis) -> str:
    """One line a person can read at a glance: frameworks, then parameter names."""
    frameworks = " + ".join(FRAMEWORK_LABELS.get(f, f) for f in analysis.frameworks) or "Python"
    names = [p.name for p in analysis.parameters]
    if not names:
        params = "no parameters"
    elif len(names) <= MAX_PARAMS_IN_TITLE:
        params = "params: " + ", ".join(names)
    else:
        shown = ", ".join(names[:MAX_PARAMS_IN_TITLE])
        params = f"params: {shown} +{len(names) - MAX_PARAMS_IN_TITLE} more"
    mlflow = " · logs to MLflow" if analysis.uses_mlflow else ""
    return f"{frameworks} · {params}{mlflow}"


def lenses_for(
    uri: str, analysis: ScriptAnalysis, runs: ScriptRuns | None = None
) -> list[types.CodeLens]:
    """The lenses for one document; empty for files that do not look like training scripts."""
    if analysis.syntax_error is not None:
        problem = analysis.syntax_error
        where = types.Range(
            start=types.Position(line=problem.line, character=0),
            end=types.Position(line=problem.line, character=0),
        )
        title = (
            f"$(warning) ML Workbench: syntax error on line {problem.line + 1} "
            f"({problem.message}); run actions return when the file parses"
        )
        return [
            types.CodeLens(
                range=where,
                command=types.Command(
                    title=title, command=COMMANDS["SHOW_SCRIPT_INFO"], arguments=[uri]
                ),
            )
        ]
    if not analysis.is_training_script:
        return []
    line = analysis.lens_line
    where = types.Range(
        start=types.Position(line=line, character=0), end=types.Position(line=line, character=0)
    )
    actions = [("$(play) Run", COMMANDS["RUN_SCRIPT"])]
    if analysis.parameters:
        actions.append(("Run with…", COMMANDS["RUN_SCRIPT_WITH"]))
    actions.append(("$(server-environment) Run on…", COMMANDS["RUN_SCRIPT_ON"]))
    if analysis.parameters:
        # A sweep varies the script's own parameters: nothing to offer without them.
        actions.append(("$(beaker) Sweep…", COMMANDS["SWEEP_SCRIPT"]))
    actions.append(("$(debug-alt) Debug", COMMANDS["DEBUG_SCRIPT"]))
    # The run count comes before the (long) summary so a narrow editor still shows it.
    if runs is not None:
        actions.append((lens_title(runs), COMMANDS["REVEAL_SCRIPT_RUNS"]))
    lenses = [
        types.CodeLens(
            range=where, command=types.Command(title=title, command=command, arguments=[uri])
        )
        for title, command in actions
    ]
    # A report judges a run's model: offered once the script has runs (the latest is picked).
    if runs is not None and runs.count:
        report = types.Command(
            title="$(graph) Report…",
            command=COMMANDS["CREATE_REPORT"],
            arguments=[{"script": to_fs_path(uri) or uri}],
        )
        lenses.append(types.CodeLens(range=where, command=report))
    summary = types.Command(
        title=summary_title(analysis), command=COMMANDS["SHOW_SCRIPT_INFO"], arguments=[uri]
    )
    lenses.append(types.CodeLens(range=where, command=summary))
    return lenses


def register(server: WorkbenchServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    def code_lens(ls: WorkbenchServer, params: types.CodeLensParams) -> list[types.CodeLens]:
        document = ls.workspace.get_text_document(params.text_document.uri)
        runs = ls.script_runs.for_path(document.path)
        analysis = ls.analyses.analysis_for(document)
        if analysis.is_training_script:
            ls.runs.prepare_warm(Path(document.path), analysis.frameworks)
        return lenses_for(document.uri, analysis, runs)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: WorkbenchServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.analyses.forget(params.text_document.uri)
