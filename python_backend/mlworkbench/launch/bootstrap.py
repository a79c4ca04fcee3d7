"""The process a tracked run starts: `python bootstrap.py SPEC SCRIPT ARGS...`.

It creates the MLflow run, tells the launcher its id (the handshake file), switches on
autologging and parameter capture, then runs SCRIPT exactly as `python SCRIPT ARGS...` would:
`__name__ == "__main__"`, `sys.argv == [SCRIPT, *ARGS]`, `sys.path[0]` the script's folder.
The run's end (status, exit code, error tail, log, params) is recorded here, at interpreter
exit after the script's own threads and exit handlers, so a run whose launcher was killed
still ends properly; the launcher only finishes what this process could not (a signal).

Runs as a file, not as `mlworkbench.launch.bootstrap`, and loads `child/` by path under a
private name: the interpreter running the script needs mlflow, not mlworkbench.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import importlib.util
import json
import os
import runpy
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any

SETUP_FAILED = 3  # exit status when the run could not be created (the script never ran)
PARAMS_PER_BATCH = 100  # MLflow's limit for one log_batch call
_CHILD_PACKAGE = "_mlworkbench_child"
WARM_TAG = "mlworkbench.warm"  # set on runs a warm pool's child served


def _load_child(*names: str) -> list[ModuleType]:
    folder = Path(__file__).resolve().parent / "child"
    if _CHILD_PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            _CHILD_PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules[_CHILD_PACKAGE] = package
        spec.loader.exec_module(package)
    return [importlib.import_module(f"{_CHILD_PACKAGE}.{name}") for name in names]


if TYPE_CHECKING:
    from mlworkbench.launch.child import (
        autolog,
        log_file,
        model_requirements,
        param_capture,
        proc_info,
        retry,
        run_guard,
        store_open,
    )
else:
    (
        autolog,
        log_file,
        model_requirements,
        param_capture,
        proc_info,
        retry,
        run_guard,
        store_open,
    ) = _load_child(
        "autolog",
        "log_file",
        "model_requirements",
        "param_capture",
        "proc_info",
        "retry",
        "run_guard",
        "store_open",
    )


class _Terminated(BaseException):
    """SIGTERM as an exception, so the script's `finally` blocks and our recording run.
    A BaseException: a script's `except Exception:` must not swallow it."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


@dataclass
class _Outcome:
    exit_code: int = 0
    status: str = "FINISHED"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomic, so the launcher polling for the file never reads half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _warn(message: str) -> None:
    print(f"[mlworkbench] {message}", file=sys.stderr, flush=True)


def _exit_code(error: SystemExit) -> int:
    """What `python script.py` would exit with for this SystemExit."""
    if error.code is None:
        return 0
    if isinstance(error.code, int):
        return error.code & 0xFF
    print(error.code, file=sys.stderr)  # sys.exit("message") prints it and exits 1
    return 1


def _print_script_error(error: BaseException) -> None:
    """Print the traceback as Python would for `python script.py`, without our frames."""
    tb = error.__traceback__
    while tb is not None and (
        tb.tb_frame.f_code.co_filename == __file__
        or tb.tb_frame.f_globals.get("__name__") == "runpy"  # "<frozen runpy>" since 3.11
    ):
        tb = tb.tb_next
    # The default hook prints the exception's own __traceback__, not the one passed in.
    sys.excepthook(type(error), error.with_traceback(tb), tb)  # honours the script's hook


def run_script(script: str) -> _Outcome:
    """Run the script as __main__ and translate how it ended into an exit code and status."""
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as error:
        code = _exit_code(error)
        return _Outcome(code, "FINISHED" if code == 0 else "FAILED")
    except KeyboardInterrupt as error:
        _print_script_error(error)
        return _Outcome(130, "KILLED")
    except _Terminated:
        return _Outcome(128 + signal.SIGTERM, "KILLED")
    except BaseException as error:  # the script's own exception, whatever it is
        _print_script_error(error)
        return _Outcome(1, "FAILED")
    return _Outcome()


class RunRecorder:
    """Records the run's end once, at interpreter exit, in the process that started it."""

    def __init__(self, spec: dict[str, Any], run_id: str) -> None:
        self.spec = spec
        self.run_id = run_id
        self.guard: run_guard.RunGuard | None = None
        self.outcome = _Outcome(1, "FAILED")  # until run_script says otherwise
        self.capture: param_capture.ParamCapture | None = None
        self._pid = os.getpid()

    def record(self) -> None:
        if os.getpid() != self._pid:
            return  # a fork of the script exiting: the run is not over
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C must not cut this short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        try:
            self._record()
        except Exception as error:  # the launcher finishes the run from its side
            _warn(f"could not record the end of run {self.run_id}: {error}")

    def _record(self) -> None:
        import mlflow
        from mlflow.entities import Param, RunTag
        from mlflow.tracking import MlflowClient

        call = retry.call_with_retry
        with_flush = getattr(mlflow, "flush_async_logging", None)
        if with_flush is not None:
            with_flush()  # autologging may still hold metrics in its queue
        # The store named in the spec, even if the script pointed mlflow somewhere else.
        client = MlflowClient(self.spec["tracking_uri"])
        log_path = Path(self.spec["log_path"])
        outcome = self.outcome

        captured = self.capture.values if self.capture is not None else {}
        existing = call(lambda: client.get_run(self.run_id)).data.params
        fresh = [Param(k, v) for k, v in captured.items() if k not in existing]
        for start in range(0, len(fresh), PARAMS_PER_BATCH):
            batch = fresh[start : start + PARAMS_PER_BATCH]
            try:
                call(functools.partial(client.log_batch, self.run_id, params=batch))
            except Exception as error:
                _warn(f"could not log the script's arguments as params: {error}")

        tags = {"mlworkbench.exit_code": str(outcome.exit_code)}
        # Under a debugger the output goes to its console, not to a log file.
        if log_path.exists():
            tail = log_file.tail_lines(log_path) if outcome.status != "FINISHED" else None
            if tail is not None:
                tags["mlworkbench.error_tail"] = tail
            log_bytes = log_path.stat().st_size
            call(lambda: client.log_artifact(self.run_id, str(log_path), "mlworkbench"))
            tags["mlworkbench.log_bytes"] = str(log_bytes)
        run_tags = [RunTag(k, v) for k, v in tags.items()]
        call(lambda: client.log_batch(self.run_id, tags=run_tags))
        if self.guard is not None:
            self.guard.close(outcome.status)  # ends the script's nested runs, pops ours
        else:
            with contextlib.suppress(Exception):
                mlflow.end_run(outcome.status)
        # Status last, so "ended" implies "logged"; explicit, in case close() could not. On a
        # tracking server, ending the run above printed MLflow's "View run … at" line already:
        # this second end must not print it again.
        with _url_not_printed():
            call(lambda: client.set_terminated(self.run_id, outcome.status))

        data = call(lambda: client.get_run(self.run_id)).data
        _write_json(
            Path(self.spec["result_file"]),
            {
                "status": outcome.status,
                "exit_code": outcome.exit_code,
                "metrics": dict(data.metrics),
                "params": dict(data.params),
                "error_tail": tail,
                "log_bytes": log_bytes,
            },
        )


def _process_tags(spec: dict[str, Any], *, warm: bool = False) -> dict[str, str]:
    pid = os.getpid()
    tags = {str(k): str(v) for k, v in spec["tags"].items()}
    if warm:
        tags[WARM_TAG] = "true"
    tags.update(
        {
            "mlworkbench.pid": str(pid),
            "mlworkbench.host": proc_info.host_name(),
            "mlworkbench.pid_start_time": proc_info.start_time(pid) or "",
            "mlworkbench.boot_id": proc_info.boot_id() or "",
        }
    )
    return {k: v for k, v in tags.items() if v != ""}


@contextlib.contextmanager
def _url_not_printed() -> Iterator[None]:
    """MLflow prints a run's link on every `set_terminated` through a server unless this
    switch (read at each call) is on; the user's own setting is restored after."""
    name = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"
    before = os.environ.get(name)
    os.environ[name] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def prepare() -> None:
    """What every run imports before its script: done once by the warm pool (warm_server.py)
    before it forks, so its children start with mlflow and the store's modules loaded. Opens
    no store and starts no thread: both would be broken in a forked child."""
    for name in (
        "mlflow",
        "mlflow.tracking",
        "mlflow.entities",
        "mlflow.utils.import_hooks",
        "mlflow.store.db.utils",  # the SQLite store's ORM and migrations: most of a run's start
        "mlflow.store.tracking.sqlalchemy_store",
        "alembic.script",
    ):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def main(
    argv: list[str],
    warm_autologged: frozenset[str] | None = None,
    capture_socket: str | None = None,
) -> int:
    """One run. `warm_autologged` is set only in a child of the warm pool: the frameworks whose
    autologging the pool enabled already (enabling it again would cost as much as cold);
    `capture_socket` is that pool's model-requirements helper (`model_requirements`)."""
    if len(argv) < 3:
        print("usage: bootstrap.py SPEC SCRIPT [ARGS...]", file=sys.stderr)
        return 2
    spec: dict[str, Any] = json.loads(Path(argv[1]).read_text())
    script, args = argv[2], argv[3:]
    sys.argv = [script, *args]
    sys.path[0] = str(Path(script).resolve().parent)
    handshake = Path(spec["handshake_file"])

    try:
        opened = store_open.open_run(
            spec["tracking_uri"],
            spec["experiment"],
            spec["run_name"],
            _process_tags(spec, warm=warm_autologged is not None),
        )
    except ModuleNotFoundError as error:
        kind = "missing_mlflow" if error.name == "mlflow" else "store"
        _write_json(handshake, {"error": {"kind": kind, "message": str(error)}})
        print(error, file=sys.stderr)
        return SETUP_FAILED
    except Exception as error:
        kind = getattr(error, "kind", "store")
        message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        _write_json(handshake, {"error": {"kind": kind, "message": message}})
        print(message, file=sys.stderr)
        return SETUP_FAILED

    # The run exists: from here on its end is recorded whatever happens. Registered before the
    # script runs, so it runs after the script's own exit handlers.
    recorder = RunRecorder(spec, opened.run_id)
    atexit.register(recorder.record)
    _write_json(
        handshake,
        {"run_id": opened.run_id, "experiment_id": opened.experiment_id, "pid": os.getpid()},
    )
    # Each helper is optional: a run without one of them is still a run.
    try:
        recorder.guard = run_guard.RunGuard(
            opened.run_id, spec["tracking_uri"], keep_run_name=spec["run_name"] is not None
        )
    except Exception as error:
        _warn(f"the script's own mlflow.start_run() will not join this run: {error}")
    try:
        recorder.capture = param_capture.ParamCapture(Path(spec["params_file"]))
    except Exception as error:
        _warn(f"the script's arguments will not be logged as params: {error}")
    try:
        done = warm_autologged or frozenset()
        autolog.enable_autologging([f for f in spec["frameworks"] if f not in done], _warn)
    except Exception as error:
        _warn(f"autologging is off: {error}")
    if warm_autologged is not None:
        model_requirements.install(capture_socket)
    signal.signal(signal.SIGTERM, _raise_terminated)
    # A cancel interrupts the script on purpose: it gets its KeyboardInterrupt (and its own
    # cleanup) even where this process started with SIGINT ignored, which a caller started as
    # a background job passes on. The warm pool's children are set up the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # What exists now (mlflow, the store; in a warm child, all the pool had) lives until the
    # end: the cyclic collector need not walk it during the run nor at exit, where walking a
    # heap this size costs seconds. The script's own objects are collected as ever.
    gc.freeze()
    recorder.outcome = run_script(script)
    return recorder.outcome.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
