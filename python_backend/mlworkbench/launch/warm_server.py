"""The warm pool: `python warm_server.py SOCKET KEY IDLE_S [FRAMEWORKS]`, one per user and
interpreter (FRAMEWORKS, comma-separated: preload these before any run asks).

It imports mlflow and the bootstrap once, then forks one child per run; the child becomes the
very process `python bootstrap.py SPEC SCRIPT ARGS` would have been (own session, the run's
cwd and environment, log file as stdout/stderr, /dev/null as stdin) and runs `bootstrap.main`,
so a run skips the 1.5-2.6 s of importing mlflow and patching autologging. After a run asks for
a framework (sklearn, torch), the pool imports it and enables its autologging, so a repeat run
of that script skips those too.

Why single-threaded (selectors, `waitpid(WNOHANG)`): threads do not survive fork, and a lock
held by one at fork time would deadlock the child. Why no MLflow client or store here: a
SQLite connection shared across fork corrupts POSIX locks; children open their own.

Protocol (one JSON line each way, on a Unix socket in this user's 0700 folder; peers of another
uid are refused by SO_PEERCRED): the client sends {key, args, cwd, env, log_path, frameworks};
the pool answers {"pid": N} once forked and {"exit": returncode} when the child ends, or
{"error": why}. {key, prepare: true, frameworks} only asks it to preload those frameworks
(the editor opened a script that uses them) and is answered {"prepared": [loaded so far]}. A
request with another key makes this pool stale: it stops accepting and exits once its children
ended. It also exits after IDLE_S seconds without runs, or when a newer pool took over its
socket path.

Runs as a file, like bootstrap.py: the interpreter needs mlflow, not mlworkbench.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.util
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

POLL_S = 0.05
REQUEST_TIMEOUT_S = 5.0
# Modules worth having in the pool once a script asked for the framework (import cost).
PRELOAD = {
    "sklearn": ("sklearn", "sklearn.ensemble", "sklearn.linear_model", "mlflow.sklearn"),
    "pytorch": ("torch",),
    "lightning": ("torch", "lightning"),
    "tensorflow": ("tensorflow",),
    "keras": ("keras",),
    "xgboost": ("xgboost",),
    "lightgbm": ("lightgbm",),
}
# Imported too when installed: what autologging imports after training (scikit-learn's
# autologging plots its confusion matrix etc. with matplotlib). matplotlib reads its config at
# import (env, covered by the pool key; a `matplotlibrc` in the working directory, checked per
# run: such a run is served cold).
OPTIONAL_PRELOAD = {
    "sklearn": ("matplotlib", "matplotlib.pyplot"),
}
CWD_CONFIG = {"matplotlib": "matplotlibrc"}
CAPTURE_HELPER = Path(__file__).resolve().with_name("capture_zygote.py")


def _log(message: str) -> None:
    print(f"[warm pool {os.getpid()}] {message}", file=sys.stderr, flush=True)


def _child_module(name: str) -> ModuleType:
    """A stdlib-only module of child/ by path, under a private name (this file runs as a
    script in the user's interpreter, where mlworkbench is not importable)."""
    path = Path(__file__).resolve().with_name("child") / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_mlworkbench_pool_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LINES = _child_module("unix_lines")


def load_bootstrap() -> ModuleType:
    """bootstrap.py from this folder, under a private name (it loads `child/` itself)."""
    path = Path(__file__).resolve().with_name("bootstrap.py")
    spec = importlib.util.spec_from_file_location("_mlworkbench_bootstrap", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class ChildJob:
    """What a forked child runs once the pool's frames are behind it."""

    args: list[str]
    autologged: frozenset[str]
    capture_socket: str | None = None


@dataclass
class Pool:
    socket_path: Path
    key: str
    idle_s: float
    bootstrap: ModuleType
    children: dict[int, socket.socket] = field(default_factory=dict)
    autologged: set[str] = field(default_factory=set)
    preloaded: set[str] = field(default_factory=set)
    wanted: set[str] = field(default_factory=set)  # frameworks runs asked for, to preload
    stale: bool = False
    last_activity: float = field(default_factory=time.monotonic)
    capture_socket: Path | None = None  # the model-requirements helper, once started
    helper: subprocess.Popen[bytes] | None = None

    def serve(self) -> ChildJob | None:
        """Accept requests until idle, stale or replaced; returns a job only in a child."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        temp = self.socket_path.with_name(f".{self.socket_path.name}.{os.getpid()}")
        listener.bind(str(temp))
        os.chmod(temp, 0o600)
        listener.listen(16)
        os.replace(temp, self.socket_path)  # a newer pool replaces an older one's socket
        inode = os.stat(self.socket_path).st_ino
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ)
        _log(f"ready (key {self.key}, threads {threading.active_count()})")
        try:
            while True:
                self._reap()
                if not self.children and self._should_exit(inode):
                    return None
                if not self.children and self.wanted - self.preloaded:
                    # Between runs: on a small machine, importing a framework next to a
                    # running script would slow that run down by as much as it saves the next.
                    self._warm_up(sorted(self.wanted))
                if self.stale or not selector.get_map():
                    time.sleep(POLL_S)
                    continue
                for _ in selector.select(POLL_S):
                    conn, _addr = listener.accept()
                    job = self._handle(conn, listener)
                    if job is not None:
                        return job
                    if self.stale:
                        selector.unregister(listener)
                        listener.close()
                        self._unlink_if_ours(inode)
        finally:
            if not self.stale and os.getpid() == PARENT_PID:
                self._unlink_if_ours(inode)

    def _should_exit(self, inode: int) -> bool:
        if self.stale:
            return True
        try:
            replaced = os.stat(self.socket_path).st_ino != inode
        except OSError:
            replaced = True
        return replaced or time.monotonic() - self.last_activity > self.idle_s

    def _unlink_if_ours(self, inode: int) -> None:
        with contextlib.suppress(OSError):
            if os.stat(self.socket_path).st_ino == inode:
                os.unlink(self.socket_path)

    def _handle(self, conn: socket.socket, listener: socket.socket) -> ChildJob | None:
        self.last_activity = time.monotonic()
        if LINES.peer_uid(conn) != os.getuid():
            conn.close()
            return None
        try:
            conn.settimeout(REQUEST_TIMEOUT_S)
            request = json.loads(LINES.read_line(conn))
        except (OSError, ValueError) as error:
            LINES.send(conn, {"error": f"bad request: {error}"})
            conn.close()
            return None
        if request.get("key") != self.key:
            LINES.send(conn, {"error": "stale"})
            conn.close()
            self.stale = True
            _log("a client has another key: stale, exiting once my runs end")
            return None
        if request.get("prepare"):  # a script was opened: load what its runs will need
            self.wanted.update(str(f) for f in request.get("frameworks") or [])
            LINES.send(conn, {"prepared": sorted(self.preloaded)})
            conn.close()
            return None
        if float(request.get("deadline", 0)) < time.time():
            LINES.send(conn, {"error": "late"})  # the client has given up and runs cold
            conn.close()
            return None
        config = _cwd_config(str(request.get("cwd", "")))
        if config is not None:  # preloaded under other settings than this run's: cold
            LINES.send(conn, {"error": f"config: {config}"})
            conn.close()
            return None
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()  # a child's collections and exit never walk (and copy) the pool's objects
        pid = os.fork()
        if pid == 0:
            listener.close()
            for other in self.children.values():
                other.close()
            try:
                job = _become_run(conn, request, frozenset(self.autologged))
                if self.capture_socket is not None:
                    job.capture_socket = str(self.capture_socket)
                return job
            except BaseException as error:  # never return into the pool's loop as a child
                with contextlib.suppress(Exception):
                    LINES.send(conn, {"error": f"child setup: {error}"})
                os._exit(127)
        if not LINES.send(conn, {"pid": pid}):
            conn.close()
            conn = socket.socket()  # a placeholder: the client left, the child still runs
        self.children[pid] = conn
        _log(f"forked run {pid}; SIGCHLD handler {signal.getsignal(signal.SIGCHLD)}")
        self.wanted.update(str(f) for f in request.get("frameworks") or [])
        return None

    def _warm_up(self, frameworks: list[str]) -> None:
        """Import the frameworks a script uses and enable their autologging, once, so the
        next run of it starts with them loaded (the child re-enables nothing the pool did)."""
        fresh = [f for f in frameworks if f not in self.preloaded]
        if not fresh:
            return
        self.preloaded.update(fresh)
        for framework in fresh:
            for name in PRELOAD.get(framework, ()):
                try:
                    importlib.import_module(name)
                except Exception as error:  # not installed here: the child imports nothing
                    _log(f"cannot preload {name}: {error}")
                    break
            for name in OPTIONAL_PRELOAD.get(framework, ()):
                try:
                    importlib.import_module(name)
                except Exception as error:
                    _log(f"not preloading {name}: {error}")
                    break
        try:
            hooked = self.bootstrap.autolog.enable_autologging(fresh, _log)
        except Exception as error:
            _log(f"cannot enable autologging in the pool: {error}")
            return
        self.autologged.update(fresh)
        gc.collect()  # what importing left behind, before it is frozen for the children
        gc.freeze()
        _log(f"preloaded {fresh}, autolog hooks {hooked}")
        if threading.active_count() > 1:
            _log(f"preloading started threads: {threading.enumerate()}")

    def start_helper(self) -> None:
        """Start the model-requirements helper (capture_zygote.py) next to this pool's socket;
        children use it once it listens (`model_requirements.install`)."""
        try:
            target = self.bootstrap.model_requirements.capture_script()
            from mlflow.environment_variables import _MLFLOW_IN_CAPTURE_MODULE_PROCESS as flag
        except Exception as error:
            _log(f"no model-requirements helper: {error}")
            return
        path = self.socket_path.with_name(self.socket_path.stem + ".capture.sock")
        env = dict(os.environ)
        # As MLflow starts its subprocess (requirements_utils._capture_imported_modules).
        env["PATH"] = "/usr/sbin:/sbin:" + env.get("PATH", "")
        env[flag.name] = "true"
        try:
            self.helper = subprocess.Popen(
                [sys.executable, str(CAPTURE_HELPER), str(path), target, str(os.getpid())],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                close_fds=True,
            )
        except OSError as error:
            _log(f"cannot start the model-requirements helper: {error}")
            return
        self.capture_socket = path

    def stop_helper(self) -> None:
        if self.helper is not None and self.helper.poll() is None:
            self.helper.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.helper.wait(5)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored by a library)
                for lost in list(self.children):
                    if not self.bootstrap.proc_info.is_same_process(lost, None):
                        self.children.pop(lost).close()
                return
            if pid == 0:
                return
            _log(f"run {pid} ended with status {os.waitstatus_to_exitcode(status)}")
            conn = self.children.pop(pid, None)
            self.last_activity = time.monotonic()
            if conn is not None:
                LINES.send(conn, {"exit": os.waitstatus_to_exitcode(status)})
                conn.close()


PARENT_PID = os.getpid()


def _become_run(
    conn: socket.socket, request: dict[str, Any], autologged: frozenset[str]
) -> ChildJob:
    """Turn this fresh fork into the bootstrap's process: what `spawn` sets up for a cold run."""
    os.setsid()
    for signum in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(request["cwd"])
    log = os.open(request["log_path"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in request["env"].items()})
    with contextlib.suppress(AttributeError):
        time.tzset()
    _reseed()
    conn.close()  # the pool keeps its copy to report the exit
    return ChildJob([str(a) for a in request["args"]], autologged)


def _cwd_config(cwd: str) -> str | None:
    """A config file in the run's working directory that a preloaded module would have read
    at import (the pool imported it elsewhere), or None."""
    for module, name in CWD_CONFIG.items():
        if module in sys.modules and cwd and os.path.exists(os.path.join(cwd, name)):
            return name
    return None


def _reseed() -> None:
    """`random` reseeds itself after fork; preloaded numpy and torch would hand every child
    the pool's generator state, where a cold run starts from fresh entropy."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    torch = sys.modules.get("torch")
    if torch is not None:
        with contextlib.suppress(Exception):
            torch.seed()


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 5):
        print("usage: warm_server.py SOCKET KEY IDLE_S [FRAMEWORKS]", file=sys.stderr)
        return 2
    bootstrap = load_bootstrap()
    bootstrap.prepare()
    pool = Pool(Path(argv[1]), argv[2], float(argv[3]), bootstrap)
    if len(argv) > 4:  # started to get ready for a script: its frameworks (warm_pool.prepare)
        pool.wanted.update(f for f in argv[4].split(",") if f)
    pool.start_helper()
    if not bootstrap.model_requirements.prewarm():
        _log("the module -> package map is computed by each run")
    gc.collect()
    gc.freeze()
    try:
        job = pool.serve()
    finally:
        if os.getpid() == PARENT_PID:
            pool.stop_helper()
    if job is None:
        _log("exiting")
        return 0
    # In the child, with only this frame and the module's left: the bootstrap takes over, and
    # the interpreter's own exit (threads, atexit) ends the run as it would a cold one.
    return int(
        bootstrap.main(
            ["bootstrap.py", *job.args],
            warm_autologged=job.autologged,
            capture_socket=job.capture_socket,
        )
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv))
