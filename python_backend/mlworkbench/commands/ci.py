"""`mlworkbench ci github-actions`: a workflow that trains, gates on fairness and builds the image.

The workflow runs this same CLI on the runner (`mlworkbench run`, `report fairness --json`,
`deploy build --run-container`), so CI does exactly what the editor does. An existing workflow
file is never overwritten without `--force`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from mlworkbench.commands import Subcommand


def _columns(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("name at least one column")
    return names


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(title="actions", metavar="ACTION", dest="ci_action")
    actions.required = True
    github = actions.add_parser(
        "github-actions",
        help="write a GitHub Actions workflow: train, fairness gate, build the image",
        description=(
            "Write .github/workflows/ml-workbench.yml: install the project, train with "
            "`mlworkbench run`, fail when a disparity of the fairness report is over "
            "--max-disparity, and build and smoke-test the serving image."
        ),
    )
    github.add_argument("--script", default="train.py", help="training script (default: train.py)")
    github.add_argument(
        "--script-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="an argument for the script (repeatable, in order)",
    )
    github.add_argument("--data", default=None, metavar="FILE", help="data for the fairness gate")
    github.add_argument("--target", default=None, metavar="COL", help="the label column")
    github.add_argument(
        "--sensitive", type=_columns, default=[], metavar="COL[,COL]", help="sensitive columns"
    )
    github.add_argument(
        "--max-disparity",
        type=_fraction,
        default=0.1,
        metavar="X",
        help="fail when a disparity metric is over X (default: 0.1)",
    )
    github.add_argument(
        "--fairness-metric",
        action="append",
        default=None,
        metavar="NAME",
        help="disparity to gate on (repeatable; default: demographic_parity_difference)",
    )
    github.add_argument(
        "--image", default="ml-workbench-model", help="image name; the tag is the commit SHA"
    )
    github.add_argument("--base-image", default=None, metavar="IMAGE", help="build's base image")
    github.add_argument("--python", default="3.11", metavar="X.Y", help="runner's Python")
    github.add_argument(
        "--install",
        default=None,
        metavar="SPEC",
        help="pip requirement that installs mlworkbench (default: this version with extras)",
    )
    github.add_argument("--no-build", action="store_true", help="leave out the image build")
    github.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="PATH",
        help="workflow file (default: .github/workflows/ml-workbench.yml)",
    )
    github.add_argument("--force", action="store_true", help="overwrite an existing workflow")
    github.add_argument(
        "--workspace", type=Path, default=None, help="the repository's folder (default: cwd)"
    )
    github.add_argument("--json", action="store_true", help="print what was written as JSON")
    github.set_defaults(ci_run=_github_actions)


def _run(args: argparse.Namespace) -> int:
    status: int = args.ci_run(args)
    return status


def _github_actions(args: argparse.Namespace) -> int:
    from mlworkbench.deploy.github_workflow import (
        DEFAULT_INSTALL,
        DEFAULT_METRICS,
        DEFAULT_OUT,
        WorkflowOptions,
        write_workflow,
    )

    workspace = (args.workspace or Path.cwd()).resolve()
    requirements = "requirements.txt" if (workspace / "requirements.txt").is_file() else None
    options = WorkflowOptions(
        script=args.script,
        script_args=list(args.script_arg),
        data=args.data,
        target=args.target,
        sensitive=list(args.sensitive),
        max_disparity=args.max_disparity,
        metrics=list(args.fairness_metric or DEFAULT_METRICS),
        image=args.image,
        base_image=args.base_image,
        python_version=args.python,
        install=args.install or DEFAULT_INSTALL,
        requirements=requirements,
        build_image=not args.no_build,
    )
    out = args.out if args.out is not None else DEFAULT_OUT
    written = write_workflow(
        options, out if out.is_absolute() else workspace / out, force=args.force
    )
    if args.json:
        print(json.dumps(written.to_dict(), indent=2))
        return 0
    gate = "with a fairness gate" if written.fairness_gate else "without a fairness gate (--data)"
    print(f"wrote {written.path} ({gate})")
    print(f"(commit it: git add {shlex.quote(str(out))})", file=sys.stderr)
    return 0


COMMAND = Subcommand(
    name="ci",
    help="write a CI workflow that trains, checks fairness and builds the image",
    configure=_configure,
    run=_run,
)
