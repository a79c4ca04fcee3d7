"""`mlworkbench analyze SCRIPT`: what the editor's code lenses know about a script, in a shell.

Human output numbers lines from 1, as editors and tracebacks do; `--json` keeps the library's
0-based lines so it matches what the language server sends.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlworkbench.analysis.script_analysis import FRAMEWORK_LABELS, ScriptAnalysis, analyze_file
from mlworkbench.commands import Subcommand
from mlworkbench.commands.text_table import render_table


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("script", type=Path, help="the Python training script to analyse")
    parser.add_argument("--json", action="store_true", help="print the analysis as JSON")


def _run(args: argparse.Namespace) -> int:
    script: Path = args.script
    analysis = analyze_file(script)
    if args.json:
        print(json.dumps(analysis.to_dict(), indent=2))
    else:
        print("\n".join(format_analysis(script, analysis)))
    problem = analysis.syntax_error
    if problem is not None:
        print(
            f"error: {script}:{problem.line + 1}:{problem.column + 1}: "
            f"syntax error: {problem.message}",
            file=sys.stderr,
        )
        return 1
    return 0


def format_analysis(script: Path, analysis: ScriptAnalysis) -> list[str]:
    """The human-readable report (without the syntax error, which goes to stderr)."""
    if analysis.syntax_error is not None:
        return [f"Script      {script}", "Analysis    not possible: the script has a syntax error"]
    frameworks = ", ".join(FRAMEWORK_LABELS[f] for f in analysis.frameworks) or "none detected"
    if analysis.entry_function is not None and analysis.entry_line is not None:
        entry = f"{analysis.entry_function}() at line {analysis.entry_line + 1}"
    else:
        entry = "none found"
    guard = (
        f"line {analysis.main_guard_line + 1}" if analysis.main_guard_line is not None else "none"
    )
    if analysis.mlflow_calls:
        mlflow = ", ".join(analysis.mlflow_calls)
    else:
        mlflow = "imported, no calls" if analysis.uses_mlflow else "not used"
    lines = render_table(
        [
            ["Script", str(script)],
            ["Frameworks", frameworks],
            ["Entry point", entry],
            ["Main guard", guard],
            ["MLflow", mlflow],
            ["Training", "yes" if analysis.is_training_script else "no"],
            ["Parameters", str(len(analysis.parameters)) if analysis.parameters else "none"],
        ]
    )
    if analysis.parameters:
        rows = [["NAME", "FLAGS", "TYPE", "DEFAULT", "REQUIRED", "HELP"]]
        rows.extend(
            [
                p.name,
                ", ".join(p.flags) or "(positional)",
                p.type or "-",
                p.default if p.default is not None else "-",
                "yes" if p.required else "no",
                p.help or "",
            ]
            for p in analysis.parameters
        )
        lines.extend(render_table(rows, indent="  "))
    return lines


COMMAND = Subcommand(
    name="analyze",
    help="show the frameworks, parameters, entry point and MLflow use of a training script",
    configure=_configure,
    run=_run,
)
