"""What a launch needs before anything starts: checked input, the bootstrap's spec, command.

Split from the launcher so a plain run (`launcher.start_run` spawns the plan) and a debugger
(`debug_launch` hands the same plan to it) start the script exactly the same way.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlworkbench.launch.preflight import (
    check_script,
    check_tracking_store,
    child_environment,
)
from mlworkbench.launch.provenance import provenance_tags
from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
RUN_FOLDER_PREFIX = "mlworkbench-run-"


@dataclass(frozen=True)
class LaunchFiles:
    """One launch's files in the temp folder: what the two processes tell each other."""

    folder: Path

    @classmethod
    def create(cls) -> LaunchFiles:
        """A fresh folder per run, made by `mkdtemp`: 0700 (the spec and the log may hold
        secrets from the command line) under a name no other user could create first. A shared
        parent folder would not do: whoever made it first could swap a run's folder and feed
        the bootstrap their own spec."""
        return cls(Path(tempfile.mkdtemp(prefix=RUN_FOLDER_PREFIX)))

    spec = property(lambda self: self.folder / "spec.json")
    handshake = property(lambda self: self.folder / "handshake.json")
    result = property(lambda self: self.folder / "result.json")
    params = property(lambda self: self.folder / "params.json")
    log = property(lambda self: self.folder / "output.log")  # the artifact's name too

    def remove_messages(self) -> None:
        for path in (self.spec, self.handshake, self.result, self.params):
            path.unlink(missing_ok=True)


@dataclass(frozen=True)
class LaunchPlan:
    """Everything needed to start the bootstrap: checked input, files, command, environment."""

    command: list[str]
    env: dict[str, str]
    cwd: Path
    tracking_uri: str
    files: LaunchFiles


def prepare_launch(
    script: Path,
    args: Sequence[str] = (),
    *,
    workspace: Path,
    python: str = sys.executable,
    experiment: str | None = None,
    run_name: str | None = None,
    tracking_uri: str | None = None,
    env: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> LaunchPlan:
    """Check the input (typed errors, before any run exists) and write the bootstrap's spec.

    `tags` are the caller's own, added to the run's when it is created; the provenance tags
    win over them, so a caller cannot make a run lie about where it came from.

    `start_run` spawns the plan itself; a debugger launches the same plan (`debug_launch`), so
    a debugged run is tracked exactly like a plain one.
    """
    from mlworkbench.analysis.script_analysis import analyze_file

    script_path, workspace_path = check_script(script, workspace)
    uri = resolve_tracking_uri(workspace_path, tracking_uri)
    check_tracking_store(uri, workspace_path)
    frameworks = analyze_file(script_path).frameworks

    files = LaunchFiles.create()
    spec = {
        "tracking_uri": uri,
        "experiment": experiment,
        "run_name": run_name,
        "frameworks": frameworks,
        "handshake_file": str(files.handshake),
        "result_file": str(files.result),
        "params_file": str(files.params),
        "log_path": str(files.log),
        "tags": {
            **(tags or {}),
            **provenance_tags(
                script_path,
                args,
                workspace=workspace_path,
                python=python,
                frameworks=frameworks,
                log_path=files.log,
            ),
        },
    }
    files.spec.write_text(json.dumps(spec))
    return LaunchPlan(
        command=[python, str(BOOTSTRAP), str(files.spec), str(script_path), *args],
        env=child_environment(os.environ, env, uri),
        cwd=workspace_path,
        tracking_uri=uri,
        files=files,
    )


def debug_launch(
    script: Path, args: Sequence[str] = (), *, workspace: Path, python: str = sys.executable
) -> dict[str, object]:
    """A debugger launch configuration's parts for a tracked run of `script`.

    The debugger runs the bootstrap as its program; the bootstrap creates the run and records
    its end itself, so nothing has to follow the process. Only the environment variables the
    run adds are returned: the debugger merges them into its own environment.
    """
    plan = prepare_launch(script, args, workspace=workspace, python=python)
    added = {k: v for k, v in plan.env.items() if os.environ.get(k) != v}
    return {
        "python": plan.command[0],
        "program": plan.command[1],
        "args": plan.command[2:],
        "env": added,
        "cwd": str(plan.cwd),
    }
