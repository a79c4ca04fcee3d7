"""Faster pip-requirement inference for a model logged in a warm pool's child, same result.

`mlflow.<flavor>.log_model` infers the model's requirements in two steps that cost seconds
each, every run:
- it maps every installed module to its distribution (`packages_distributions()`, reading the
  metadata of every installed package). The pool computes that map once (`prewarm`); a child
  uses a copy only while the distributions its `sys.path` finds are, path for path and mtime for
  mtime, the ones the pool's found (a script that put a folder with a package on `sys.path`
  gets the map computed afresh, as a cold run would);
- it starts `python _capture_modules.py` to record the modules that loading the model imports.
  The pool's capture helper (capture_zygote.py) is that process with mlflow already imported;
  the request goes there when the helper is up and has the run's import settings, else the
  subprocess is started as MLflow does. A helper's child that exits non-zero is retried as
  that subprocess, so errors read exactly as MLflow's own.

Both are wrappers around MLflow's private functions, installed only in a warm child, and
checked to be there: an MLflow that renamed them is simply not sped up.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import select
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

_PREWARMED: tuple[list[tuple[str, int]], dict[str, list[str]]] | None = None
"""(distributions fingerprint, packages_distributions()) as the pool computed them."""

CONNECT_TIMEOUT_S = 2.0


def _distributions_fingerprint() -> list[tuple[str, int]] | None:
    """The distributions `importlib_metadata` finds on the current `sys.path`, in its order, as
    (path, mtime); None when one of them is not a plain folder or file (then no shortcut)."""
    import importlib_metadata

    found: list[tuple[str, int]] = []
    for dist in importlib_metadata.distributions():
        path = getattr(dist, "_path", None)
        if path is None:
            return None
        try:
            found.append((str(path), os.stat(path).st_mtime_ns))
        except OSError:
            return None
    return found


def prewarm() -> bool:
    """In the pool: compute the module -> distribution map a child would compute."""
    global _PREWARMED
    try:
        import importlib_metadata

        fingerprint = _distributions_fingerprint()
        if fingerprint is None:
            return False
        _PREWARMED = (fingerprint, dict(importlib_metadata.packages_distributions()))
    except Exception:
        _PREWARMED = None
        return False
    return True


def _prewarmed_map() -> dict[str, list[str]] | None:
    """A copy of the pool's map when this process's `sys.path` finds the same distributions."""
    if _PREWARMED is None:
        return None
    try:
        if _distributions_fingerprint() != _PREWARMED[0]:
            return None
    except Exception:
        return None
    return copy.deepcopy(_PREWARMED[1])


def _wrap_init_map(requirements_utils: Any) -> None:
    original = requirements_utils._init_modules_to_packages_map
    metadata = requirements_utils.importlib_metadata

    def init_modules_to_packages_map() -> None:
        ready = None
        if requirements_utils._MODULES_TO_PACKAGES is None:
            ready = _prewarmed_map()
        if ready is None:
            return original()  # type: ignore[no-any-return]
        computed = metadata.packages_distributions
        metadata.packages_distributions = lambda: ready
        try:
            return original()  # type: ignore[no-any-return]
        finally:
            metadata.packages_distributions = computed

    requirements_utils._init_modules_to_packages_map = init_modules_to_packages_map


class _HelperUnavailable(Exception):
    """The helper could not serve this request: run the subprocess instead."""


def _read_message(conn: socket.socket, buffer: bytearray, deadline: float) -> dict[str, Any]:
    while b"\n" not in buffer:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([conn], [], [], remaining)
        if not ready:
            continue
        chunk = conn.recv(4096)
        if not chunk:
            raise _HelperUnavailable("the helper closed the connection")
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    message = json.loads(line)
    if not isinstance(message, dict):
        raise _HelperUnavailable("not a message")
    return message


def run_in_helper(
    socket_path: str, argv: list[str], env: Mapping[str, str], timeout_s: float
) -> None:
    """Run `python ARGV` in the helper; returns when it exited 0. Raises _HelperUnavailable
    for anything else but a timeout, which raises TimeoutError after killing the child."""
    from .private_folder import folder_problem
    from .unix_lines import peer_uid

    path = Path(socket_path)
    if folder_problem(path.parent) is not None:
        raise _HelperUnavailable("the helper's folder is not private")
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(CONNECT_TIMEOUT_S)
        try:
            conn.connect(socket_path)
        except OSError as error:
            raise _HelperUnavailable(str(error)) from error
        if peer_uid(conn) != os.getuid():
            raise _HelperUnavailable("the helper is not this user's")
        with tempfile.TemporaryDirectory(prefix="mlworkbench-capture-") as folder:
            request = {
                "argv": argv,
                "env": dict(env),
                "cwd": os.getcwd(),
                "stdout": os.path.join(folder, "stdout"),
                "stderr": os.path.join(folder, "stderr"),
            }
            conn.sendall(json.dumps(request).encode() + b"\n")
            buffer = bytearray()
            deadline = time.monotonic() + timeout_s
            reply = _read_message(conn, buffer, time.monotonic() + CONNECT_TIMEOUT_S + 3.0)
            if "pid" not in reply:
                raise _HelperUnavailable(str(reply.get("error")))
            pid = int(reply["pid"])
            try:
                done = _read_message(conn, buffer, deadline)
            except TimeoutError:
                with contextlib.suppress(OSError):
                    os.kill(pid, 9)
                raise
            if int(done.get("exit", 1)) != 0:
                raise _HelperUnavailable(f"exit status {done.get('exit')}")
    except (OSError, ValueError) as error:
        raise _HelperUnavailable(str(error)) from error
    finally:
        conn.close()


def _wrap_run_command(requirements_utils: Any, capture_file: str, socket_path: str) -> None:
    original: Callable[..., None] = requirements_utils._run_command

    def run_command(cmd: Any, timeout_seconds: Any, env: Any = None) -> None:
        argv = [str(part) for part in cmd] if isinstance(cmd, list | tuple) else []
        eligible = (
            len(argv) >= 2
            and argv[0] == sys.executable
            and os.path.realpath(argv[1]) == capture_file
            and "--record-full-module" not in argv
            and env is not None
        )
        if eligible:
            try:
                run_in_helper(socket_path, argv[1:], env, float(timeout_seconds))
                return
            except TimeoutError:
                from mlflow.exceptions import MlflowException

                # What MLflow's own timer does: the process is killed, the exit is -9.
                raise MlflowException(
                    "\n".join(
                        [
                            f"Encountered an unexpected error while running {cmd}",
                            "exit status: -9",
                            "stdout: ",
                            "stderr: ",
                        ]
                    )
                ) from None
            except _HelperUnavailable:
                pass
        original(cmd, timeout_seconds, env=env)

    requirements_utils._run_command = run_command


def capture_script() -> str:
    """The file MLflow runs to record a model's imports, found without importing it (its
    imports would load modules a cold run's process does not have)."""
    import importlib.util

    spec = importlib.util.find_spec("mlflow.utils._capture_modules")
    if spec is None or spec.origin is None:
        raise ImportError("mlflow.utils._capture_modules")
    return os.path.realpath(spec.origin)


def install(capture_socket: str | None) -> list[str]:
    """In a warm child, before its script: wrap MLflow's two slow steps (see the module doc);
    returns what was wrapped. Nothing raises: without them, inference runs as in a cold run."""
    installed: list[str] = []
    try:
        import mlflow.utils.requirements_utils as requirements_utils

        capture_file = capture_script()
    except Exception:
        return installed
    if _PREWARMED is not None and callable(
        getattr(requirements_utils, "_init_modules_to_packages_map", None)
    ):
        _wrap_init_map(requirements_utils)
        installed.append("packages map")
    if capture_socket and callable(getattr(requirements_utils, "_run_command", None)):
        _wrap_run_command(requirements_utils, capture_file, capture_socket)
        installed.append("capture helper")
    return installed
