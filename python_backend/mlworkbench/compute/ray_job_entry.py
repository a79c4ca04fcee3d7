"""The fixed entrypoint of a Ray job: run the workbench's bootstrap on the cluster, unchanged.

Ray runs an entrypoint through a shell, so it holds no user text at all:
`python -m _mlworkbench_ray_job.ray_job_entry`. Everything about the run (script, arguments,
run settings, environment) comes from `job.json` next to this file, which travels with it in the
job's private `py_modules` package; the bootstrap then starts from an argument list, and the
script sees its arguments exactly as typed.

The bootstrap is the same file a local run uses, so run creation (here: resuming the run the
submitting side created, through MLFLOW_RUN_ID), autologging, parameter capture and the run's
end are recorded the same way. Its output is copied both to the job's log (which the editor
streams) and to the log file the bootstrap uploads and takes the error tail from. A sweep's
Ray Tune trials (`ray_tune_entry.py`) start the bootstrap through `bootstrap_command` too.

Standard library only: this runs in the cluster's interpreter, which need not have mlworkbench.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
SPEC_FILE = "job.json"
SETUP_FAILED = 3
LOG_FILE = "output.log"
HANDSHAKE_FILE = "handshake.json"  # the bootstrap writes the run's id here once it exists
RESULT_FILE = "result.json"  # and how the run ended, once recorded


def _bootstrap_spec(job: Mapping[str, Any], folder: Path) -> dict[str, object]:
    return {
        "tracking_uri": job["tracking_uri"],
        "experiment": job["experiment"],
        "run_name": job["run_name"],
        "frameworks": job["frameworks"],
        "tags": job["tags"],
        "handshake_file": str(folder / HANDSHAKE_FILE),
        "result_file": str(folder / RESULT_FILE),
        "params_file": str(folder / "params.json"),
        "log_path": str(folder / LOG_FILE),
    }


def bootstrap_command(job: Mapping[str, Any], folder: Path) -> tuple[list[str], dict[str, str]]:
    """The bootstrap's command line and environment for `job` (the `job.json` shape), its
    files in `folder`. With a `run_id` the bootstrap resumes that run (a job's run, created by
    the submitting side); without one it creates the run itself (a sweep's trial)."""
    spec_path = folder / "spec.json"
    spec_path.write_text(json.dumps(_bootstrap_spec(job, folder)))
    env = dict(os.environ)
    env.update({str(k): str(v) for k, v in job["env"].items()})
    env["MLFLOW_TRACKING_URI"] = str(job["tracking_uri"])
    env.pop("MLFLOW_RUN_ID", None)
    if job.get("run_id"):
        env["MLFLOW_RUN_ID"] = str(job["run_id"])  # the bootstrap's start_run resumes this run
    env["PYTHONUNBUFFERED"] = "1"  # lines reach the editor as they are printed
    env.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # as a local run: not the script's output
    script = str(Path(str(job["script"])))  # relative to the working dir, the workspace copy
    command = [sys.executable, str(HERE / "bootstrap.py"), str(spec_path), script, *job["args"]]
    return command, env


def default_signals() -> None:
    """For the bootstrap's process: SIGTERM and SIGINT as Python sets them (it records KILLED)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def copy_output(child: subprocess.Popen[bytes], log: IO[bytes], echo: IO[bytes] | None) -> None:
    """Copy the child's output, as it comes, to its log file (and to `echo`) until it closes."""
    assert child.stdout is not None
    while chunk := os.read(child.stdout.fileno(), 65536):
        log.write(chunk)
        log.flush()
        if echo is not None:
            echo.write(chunk)
            echo.flush()


def exit_status(code: int) -> int:
    """A child's return code as a shell reports it (128 + signal when a signal ended it)."""
    return code if code >= 0 else 128 - code


def main() -> int:
    job = json.loads((HERE / SPEC_FILE).read_text(encoding="utf-8"))
    folder = Path(tempfile.mkdtemp(prefix="mlwb-job-"))
    command, env = bootstrap_command(job, folder)
    # Ray's stop signals this process and its children: the bootstrap records KILLED on
    # SIGTERM; this side keeps copying its output until it has exited.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    log = open(folder / LOG_FILE, "ab")  # noqa: SIM115 - closed after the child exits
    try:
        child = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=default_signals,  # the bootstrap needs them back
        )
    except OSError as error:
        print(f"[mlworkbench] cannot start {sys.executable}: {error}", flush=True)
        return SETUP_FAILED
    copy_output(child, log, sys.stdout.buffer)
    code = child.wait()
    log.close()
    shutil.rmtree(folder, ignore_errors=True)
    return exit_status(code)


if __name__ == "__main__":
    sys.exit(main())
