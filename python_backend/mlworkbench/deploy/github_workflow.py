"""A GitHub Actions workflow that trains, checks fairness and builds the image with our CLI.

The job runs exactly what the editor runs: `mlworkbench run`, `mlworkbench report fairness
--json` with a small Python gate over the report's `details`, and `mlworkbench deploy build`
with the container smoke test. Every value the user chose (script, data, columns, tag) is an
`env:` entry that steps read as "$VAR": none is pasted into a shell line, so a column called
`$(curl evil)` is just a column name. Actions are pinned by full commit SHA.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlworkbench import __version__
from mlworkbench.deploy.build_context import parse_image_reference
from mlworkbench.deploy.deploy_errors import InvalidDeployOptionError, OutputExistsError

DEFAULT_OUT = Path(".github/workflows/ml-workbench.yml")
DEFAULT_METRICS = ("demographic_parity_difference",)
DEFAULT_INSTALL = f"mlworkbench[tracking,sklearn,reports,deploy]=={__version__}"

# Read from the actions' own repositories (tags resolved to commits); bump together.
ACTIONS = {
    "checkout": ("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "setup-python": ("actions/setup-python", "5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "upload-artifact": (
        "actions/upload-artifact",
        "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f",
        "v7.0.0",
    ),
}

# Runs as `shell: python` on the runner: reads the fairness report the previous step wrote and
# fails the job when any chosen disparity (a *_difference: lower is fairer) is over the limit,
# for the headline grouping and for every grouping the report computed.
FAIRNESS_GATE = """\
import json
import os
import sys

with open("fairness.json", encoding="utf-8") as stream:
    report = json.load(stream)
details = report.get("document", report).get("details", {})
limit = float(os.environ["MAX_DISPARITY"])
parities = {"headline": details.get("parity") or {}}
for name, grouping in (details.get("groupings") or {}).items():
    parities[name] = grouping.get("parity") or {}
failures = []
for metric in os.environ["FAIRNESS_METRICS"].split(","):
    values = [(where, p.get(metric)) for where, p in parities.items()]
    values = [(where, v) for where, v in values if isinstance(v, (int, float))]
    if not values:
        failures.append(f"{metric} is not in the report")
    for where, value in values:
        over = value > limit
        print(f"{'FAIL' if over else 'ok  '} {metric} [{where}] = {value:.4f} (limit {limit})")
        if over:
            failures.append(f"{metric} [{where}] = {value:.4f} > {limit}")
if failures:
    print("::error title=Fairness gate::" + "; ".join(failures))
    sys.exit(1)
"""

RUN_ID_STEP = """\
import json
import os

with open("run.json", encoding="utf-8") as stream:
    run = json.load(stream)
with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
    out.write(f"id={run['run_id']}\\n")
print(f"run {run['run_id']}: {run['status']}, metrics {run.get('metrics')}")
"""


@dataclass(frozen=True)
class WorkflowOptions:
    script: str = "train.py"
    script_args: list[str] = field(default_factory=list)
    data: str | None = None
    target: str | None = None
    sensitive: list[str] = field(default_factory=list)
    max_disparity: float = 0.1
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    image: str = "ml-workbench-model"
    base_image: str | None = None
    python_version: str = "3.11"
    install: str = DEFAULT_INSTALL
    requirements: str | None = None  # the project's requirements file, when it has one
    build_image: bool = True


@dataclass(frozen=True)
class WrittenWorkflow:
    path: str
    fairness_gate: bool
    builds_image: bool
    actions: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_options(options: WorkflowOptions) -> None:
    """Refuse values that cannot be one line of YAML data, or a gate that cannot be checked."""
    values = [options.script, *options.script_args, options.image, options.install]
    values += [options.data or "", options.target or "", *options.sensitive]
    values += [options.requirements or "", options.base_image or ""]
    for value in values:
        if any(ch in value for ch in "\r\n\x00"):
            raise InvalidDeployOptionError(repr(value), "it spans several lines; give one line")
    fairness = [options.data, options.target, options.sensitive]
    if any(fairness) and not all(fairness):
        raise InvalidDeployOptionError(
            "fairness gate", "it needs --data, --target and --sensitive together"
        )
    for metric in options.metrics:
        if re.fullmatch(r"[a-z_]+_difference", metric) is None:
            raise InvalidDeployOptionError(
                f"--fairness-metric {metric!r}",
                "name a disparity difference (demographic_parity_difference, "
                "equalized_odds_difference): the gate fails when it is over --max-disparity",
            )
    if not 0 <= options.max_disparity <= 1:
        raise InvalidDeployOptionError("--max-disparity", "it must lie between 0 and 1")
    parse_image_reference(options.image, "image name")
    if options.base_image:
        parse_image_reference(options.base_image, "base image")


def _uses(key: str) -> str:
    repo, sha, _tag = ACTIONS[key]
    return f"{repo}@{sha}"


def render_workflow(options: WorkflowOptions) -> dict[str, Any]:
    """The workflow as a dict (keys in the order GitHub's docs show them)."""
    check_options(options)
    gate = bool(options.data)
    env: dict[str, str] = {"TRAIN_SCRIPT": options.script}
    if gate:
        env |= {
            "DATA_FILE": str(options.data),
            "TARGET": str(options.target),
            "SENSITIVE": ",".join(options.sensitive),
            "MAX_DISPARITY": str(options.max_disparity),
            "FAIRNESS_METRICS": ",".join(options.metrics),
        }
    if options.build_image:
        env["IMAGE_TAG"] = f"{options.image}:${{{{ github.sha }}}}"
        if options.base_image:
            env["BASE_IMAGE"] = options.base_image
    env["MLWORKBENCH_INSTALL"] = options.install
    install = [
        "python -m pip install --upgrade pip",
        'python -m pip install "$MLWORKBENCH_INSTALL"',
    ]
    if options.requirements:
        env["PROJECT_REQUIREMENTS"] = options.requirements
        install.insert(1, 'python -m pip install -r "$PROJECT_REQUIREMENTS"')
    train = 'mlworkbench run "$TRAIN_SCRIPT" --json'
    if options.script_args:
        for index, arg in enumerate(options.script_args):
            env[f"SCRIPT_ARG_{index}"] = arg
        train += " -- " + " ".join(f'"$SCRIPT_ARG_{i}"' for i in range(len(options.script_args)))
    steps: list[dict[str, Any]] = [
        {
            "name": "Check out",
            "uses": _uses("checkout"),
            "with": {"persist-credentials": False},
        },
        {
            "name": "Set up Python",
            "uses": _uses("setup-python"),
            "with": {"python-version": options.python_version},
        },
        {"name": "Install", "run": "\n".join(install) + "\n"},
        {"name": "Train", "run": f"{train} > run.json\n"},
        {"name": "Find the run", "id": "run", "shell": "python", "run": RUN_ID_STEP},
    ]
    run_env = {"RUN_ID": "${{ steps.run.outputs.id }}"}
    if gate:
        steps += [
            {
                "name": "Fairness report",
                "env": run_env,
                "run": 'mlworkbench report fairness --run "$RUN_ID" --data "$DATA_FILE" '
                '--target "$TARGET" --sensitive "$SENSITIVE" --json > fairness.json\n',
            },
            {"name": "Fairness gate", "shell": "python", "run": FAIRNESS_GATE},
        ]
    if options.build_image:
        build = 'mlworkbench deploy build --run "$RUN_ID" --tag "$IMAGE_TAG"'
        if options.base_image:
            build += ' --base-image "$BASE_IMAGE"'
        steps.append(
            {
                "name": "Build and smoke-test the image",
                "env": run_env,
                "run": f"{build} --run-container --json > build.json\n",
            }
        )
    steps.append(
        {
            "name": "Keep the reports",
            "if": "always()",
            "uses": _uses("upload-artifact"),
            "with": {
                "name": "ml-workbench",
                "path": "run.json\nfairness.json\nbuild.json\n",
                "if-no-files-found": "ignore",
            },
        }
    )
    return {
        "name": "ML Workbench",
        "on": {
            "push": {"branches": ["main"]},
            "pull_request": None,
            "workflow_dispatch": None,
        },
        "permissions": {"contents": "read"},
        "concurrency": {
            "group": "ml-workbench-${{ github.ref }}",
            "cancel-in-progress": True,
        },
        "jobs": {
            "train-evaluate-build": {
                "runs-on": "ubuntu-24.04",
                "timeout-minutes": 60,
                "env": env,
                "steps": steps,
            }
        },
    }


def dump_workflow(workflow: dict[str, Any]) -> str:
    """YAML with multi-line scripts as literal blocks and each pinned action's tag beside it."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True  # spell out repeated `env:` maps: no &id001 anchors for readers

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    def nothing(dumper: yaml.SafeDumper, _value: None) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:null", "")

    Dumper.add_representer(str, text)
    Dumper.add_representer(type(None), nothing)
    body: str = yaml.dump(workflow, Dumper=Dumper, sort_keys=False, width=100)
    for repo, sha, tag in ACTIONS.values():
        body = body.replace(f"uses: {repo}@{sha}\n", f"uses: {repo}@{sha}  # {tag}\n")
    header = (
        "# Written by `mlworkbench ci github-actions`: trains with `mlworkbench run`, gates on\n"
        "# the fairness report and builds the serving image with the same CLI as the editor.\n"
    )
    return header + body


def write_workflow(
    options: WorkflowOptions, out: Path = DEFAULT_OUT, *, force: bool = False
) -> WrittenWorkflow:
    """Write the workflow to `out`; an existing file is left alone unless `force`."""
    text = dump_workflow(render_workflow(options))
    if (out.exists() or out.is_symlink()) and not force:
        raise OutputExistsError(out, "workflow")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.is_symlink():
        out.unlink()  # --force replaces a link, never writes through it
    out.write_text(text, encoding="utf-8")
    return WrittenWorkflow(
        path=str(out),
        fairness_gate=bool(options.data),
        builds_image=options.build_image,
        actions={repo: f"{sha} ({tag})" for repo, sha, tag in ACTIONS.values()},
    )
