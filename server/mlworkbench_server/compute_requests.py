"""Compute requests: a sweep of a script's own parameters (the CLI in a child process), and its
cancel.

A sweep runs the user's script many times: `startSweep` is EXECUTE and refused in Restricted
Mode. With `targetAddress` its trials are jobs on that Ray cluster, tracked by the workspace's
tracking server (`compute/ray_tracking.py`, the same choice as Run on…). The request becomes
`mlworkbench sweep`'s argument list (one `--param=name=v1,v2` item per parameter, no shell,
the script's own arguments last after `--`) so the editor and a terminal run the same sweep;
the CLI checks names and values against the script's declared parameters and answers with its
typed errors.
"""

from __future__ import annotations

import atexit
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.uris import to_fs_path

from mlworkbench_server.cancellable_jobs import CancellableJobs
from mlworkbench_server.protocol import NOTIFICATIONS, REQUESTS
from mlworkbench_server.request_path import Trust, request, workspace_of

if TYPE_CHECKING:
    from mlworkbench_server.compute_protocol import (
        CancelSweepParams,
        StartSweepParams,
        StartSweepResult,
        SweepTrial,
    )
    from mlworkbench_server.protocol import EmptyResult
    from mlworkbench_server.server import WorkbenchServer

MAX_VALUE_CHARS = 1_000
MAX_VALUES = 1_000  # per parameter: a grid past this is a typo, not a plan


def _bad_params(message: str) -> JsonRpcException:
    return JsonRpcException(code=types.ErrorCodes.InvalidParams, message=message)


def _checked_word(what: str, text: str, *, separators: str = "") -> str:
    """One word of the argument list: no NUL or line break (nothing a person could type on
    one command line), not absurdly long, and none of `separators` (the CLI's own syntax)."""
    if len(text) > MAX_VALUE_CHARS:
        raise _bad_params(f"{what} is longer than {MAX_VALUE_CHARS} characters")
    if any(c in text for c in "\x00\r\n"):
        raise _bad_params(f"{what} holds a NUL character or a line break")
    for separator in separators:
        if separator in text:
            raise _bad_params(f"{what} {text!r} holds {separator!r}, which the sweep cannot pass")
    return text


def sweep_argv(params: StartSweepParams, script: Path) -> list[str]:
    """`mlworkbench sweep`'s arguments for the request (without --json/--workspace, which the
    runner adds, and the script's own arguments, which go after them)."""
    argv: list[str] = []
    for swept in params["params"]:
        name = _checked_word("a parameter name", swept["name"], separators="=,")
        if len(swept["values"]) > MAX_VALUES:
            raise _bad_params(f"parameter {name!r} lists more than {MAX_VALUES} values")
        # A comma separates values on the CLI: a value holding one would become two.
        values = [_checked_word(f"a value of {name!r}", v, separators=",") for v in swept["values"]]
        argv.append(f"--param={name}={','.join(values)}")
    if "random" in params:
        argv.append(f"--random={params['random']}")
    if "seed" in params:
        argv.append(f"--seed={params['seed']}")
    if "maxConcurrent" in params:
        argv.append(f"--max-concurrent={params['maxConcurrent']}")
    if params.get("metric"):
        argv.append(f"--metric={_checked_word('the metric', params['metric'])}")
    if "mode" in params:
        argv.append(f"--mode={params['mode']}")
    argv.append(str(script))
    return argv


def script_args(params: StartSweepParams) -> list[str]:
    return [_checked_word("a script argument", arg) for arg in params.get("args", [])]


def _trial(raw: dict[str, Any]) -> SweepTrial:
    return {
        "index": raw["index"],
        "values": raw["values"],
        "status": raw["status"],
        "runId": raw.get("run_id"),
        "metric": raw.get("metric"),
        "error": raw.get("error"),
    }


def sweep_result(document: dict[str, Any]) -> StartSweepResult:
    """The CLI's `--json` document in the protocol's shape."""
    best = document.get("best")
    return {
        "parentRunId": document["parent_run_id"],
        "experimentId": document["experiment_id"],
        "status": document["status"],
        "metric": document.get("metric"),
        "mode": "min" if document.get("mode") == "min" else "max",
        "trials": [_trial(trial) for trial in document["trials"]],
        "best": _trial(best) if isinstance(best, dict) else None,
    }


def register(server: WorkbenchServer) -> None:
    jobs = CancellableJobs("sweep")

    @request(server, REQUESTS["START_SWEEP"], Trust.EXECUTE, refused="run sweeps of scripts")
    def start_sweep(ls: WorkbenchServer, params: StartSweepParams) -> StartSweepResult:
        import os

        from mlworkbench.cli_child import child_env
        from mlworkbench.compute.sweep_child import run_sweep
        from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

        workspace = workspace_of(params)
        script = Path(to_fs_path(params["uri"]) or params["uri"])
        argv, rest = sweep_argv(params, script), script_args(params)
        job_id = params["jobId"]
        cancelled = jobs.start(job_id)
        try:
            address = params.get("targetAddress")
            if address:
                from mlworkbench.compute.ray_cluster import require_reachable
                from mlworkbench.compute.ray_tracking import tracking_for_ray

                require_reachable(address)  # named in seconds, before a server is started
                uri, _ = tracking_for_ray(workspace, ls.tracking_uri, start=True)
                argv = [f"--target={address}", f"--tracking-uri={uri}", *argv]
            else:
                uri = resolve_tracking_uri(workspace, ls.tracking_uri)
            document = run_sweep(
                argv,
                script_args=rest,
                workspace=workspace,
                env=child_env(os.environ, uri),
                on_progress=lambda message: ls.protocol.notify(
                    NOTIFICATIONS["SWEEP_PROGRESS"], {"jobId": job_id, "message": message}
                ),
                cancelled=cancelled,
            )
        finally:
            jobs.end(job_id)
            ls.runs_changed()  # trials and the parent exist even when the sweep failed
        return sweep_result(document)

    # From memory, on the event loop: a cancel must not queue behind the sweep it cancels.
    @request(server, REQUESTS["CANCEL_SWEEP"], Trust.EXECUTE, thread=False)
    def cancel_sweep(ls: WorkbenchServer, params: CancelSweepParams) -> EmptyResult:
        jobs.cancel(params["jobId"])
        return {}

    # A sweep's process runs in its own session: stop it when the server goes.
    atexit.register(jobs.cancel_all)
