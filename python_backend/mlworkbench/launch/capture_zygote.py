"""The warm pool's model-requirements helper: `python capture_zygote.py SOCKET TARGET POOL_PID`.

When a run logs a model, MLflow infers its pip requirements by starting
`python mlflow/utils/_capture_modules.py ...` (TARGET), which imports mlflow, loads the model
and records every module the loading imports. Importing mlflow is most of that process's time
(2-3 s a model), and every run pays it again. This helper is that process stopped just before
its `main()`: a fresh interpreter that ran TARGET's top (its imports, with TARGET's folder as
`sys.path[0]`, as `python TARGET` has) and nothing else of ours but the standard library. For
each request it forks a child that takes the request's argv, environment and working
directory and calls TARGET's `main()`, so the modules recorded, and so the requirements, are
the ones a fresh process records: loading the model imports the same modules in both, since
neither had imported any of them. A request whose import settings (`import_env`) differ from
the ones this helper imported mlflow under is refused, and the run starts the subprocess as
MLflow would.

Protocol (one JSON line each way on a Unix socket in the pool's 0700 folder; other uids are
refused by SO_PEERCRED): {argv, env, cwd, stdout, stderr} -> {"pid": N} then {"exit": code},
or {"error": why}. A client that disconnects first has its child killed (the run was
cancelled). Single-threaded, like the pool, since it forks. It exits when the pool is gone.

Runs as a file, started by warm_server.py; it never imports mlflow's store or the workbench.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

POLL_S = 0.2
REQUEST_TIMEOUT_S = 5.0


def _log(message: str) -> None:
    print(f"[capture helper {os.getpid()}] {message}", file=sys.stderr, flush=True)


def _child_module(name: str) -> Any:
    """A stdlib-only module of child/ by path, under a private name, as the bootstrap does."""
    path = Path(__file__).resolve().with_name("child") / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_mlworkbench_capture_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


IMPORT_ENV = _child_module("import_env")
LINES = _child_module("unix_lines")


def settings_of(env: dict[str, str]) -> dict[str, str]:
    """What must match between this helper's start and a request (see the module doc); the
    flag MLflow sets for its capture process is an MLFLOW_ variable, so it is in."""
    return dict(IMPORT_ENV.import_settings(env))


def load_target(target: str) -> dict[str, Any]:
    """Run TARGET's top level as `python TARGET` would up to its `main()` call."""
    sys.argv = [target]
    sys.path[0] = os.path.dirname(target)
    code = compile(Path(target).read_bytes(), target, "exec")
    namespace: dict[str, Any] = {"__name__": "_mlworkbench_capture", "__file__": target}
    exec(code, namespace)  # noqa: S102 - mlflow's own helper, the file MLflow would run
    if not callable(namespace.get("main")):
        raise RuntimeError(f"{target} has no main()")
    return namespace


def serve(path: Path, namespace: dict[str, Any], pool_pid: int) -> int:
    started_settings = settings_of(dict(os.environ))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    listener.bind(str(temp))
    os.chmod(temp, 0o600)
    listener.listen(16)
    os.replace(temp, path)
    inode = os.stat(path).st_ino
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}
    _log("ready")
    try:
        while os.getppid() == pool_pid:
            _reap(children, selector)
            for key, _ in selector.select(POLL_S):
                if key.fileobj is listener:
                    conn, _addr = listener.accept()
                    if _serve_one(conn, listener, children, selector, started_settings):
                        return -1  # never reached: the child calls os._exit
                else:  # a client's connection: it left (or wrote) before its child ended
                    _client_gone(key.fileobj, children, selector)  # type: ignore[arg-type]
    finally:
        if os.getpid() == PARENT_PID:
            with contextlib.suppress(OSError):
                if os.stat(path).st_ino == inode:
                    os.unlink(path)
            for pid in children:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
    _log("the pool is gone: exiting")
    return 0


def _serve_one(
    conn: socket.socket,
    listener: socket.socket,
    children: dict[int, socket.socket],
    selector: selectors.BaseSelector,
    started_settings: dict[str, str],
) -> bool:
    if LINES.peer_uid(conn) != os.getuid():
        conn.close()
        return False
    try:
        conn.settimeout(REQUEST_TIMEOUT_S)
        request = json.loads(LINES.read_line(conn))
        env = {str(k): str(v) for k, v in request["env"].items()}
        argv = [str(a) for a in request["argv"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        LINES.send(conn, {"error": f"bad request: {error}"})
        conn.close()
        return False
    settings = settings_of(env)
    if settings != started_settings:  # imported under other settings: not equivalent
        names = sorted(
            k
            for k in settings.keys() | started_settings.keys()
            if settings.get(k) != started_settings.get(k)
        )
        _log(f"refused: the request's {', '.join(names)} differ from mine")
        LINES.send(conn, {"error": "settings"})
        conn.close()
        return False
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 127
        try:
            listener.close()
            for other in children.values():
                other.close()
            conn.close()
            code = _run(request, argv, env)
        finally:
            os._exit(code)
    if not LINES.send(conn, {"pid": pid}):
        conn.close()
        os.kill(pid, signal.SIGKILL)
        conn = socket.socket()  # a placeholder until the child is reaped
    else:
        selector.register(conn, selectors.EVENT_READ, pid)
    children[pid] = conn
    return False


def _run(request: dict[str, Any], argv: list[str], env: dict[str, str]) -> int:
    """In the fork: become `python TARGET ARGS` with the request's environment, run main()."""
    os.setsid()
    for signum in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(request["cwd"])
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        out = os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        os.dup2(out, fd)
        os.close(out)
    os.environ.clear()
    os.environ.update(env)
    with contextlib.suppress(AttributeError):
        time.tzset()
    sys.argv = list(argv)
    main = NAMESPACE["main"]
    try:
        main()
    except SystemExit as error:
        code = error.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code & 0xFF
        print(code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    return 0


def _reap(children: dict[int, socket.socket], selector: selectors.BaseSelector) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        _log(f"served a capture request: child {pid} exited {code}")
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(conn)
        LINES.send(conn, {"exit": code})
        conn.close()


def _client_gone(conn: socket.socket, children: dict[int, socket.socket], selector: Any) -> None:
    with contextlib.suppress(KeyError, ValueError):
        selector.unregister(conn)
    for pid, held in children.items():
        if held is conn:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            children[pid] = socket.socket()  # reaped later, nobody to tell
            break
    conn.close()


PARENT_PID = os.getpid()
NAMESPACE: dict[str, Any] = {}


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("usage: capture_zygote.py SOCKET TARGET POOL_PID", file=sys.stderr)
        return 2
    path, target, pool_pid = Path(argv[1]), argv[2], int(argv[3])
    NAMESPACE.update(load_target(target))
    gc.collect()
    gc.freeze()  # the forks' collections (and their exit) skip what was imported here
    return serve(path, NAMESPACE, pool_pid)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
