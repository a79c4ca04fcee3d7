"""The detached process behind `mlworkbench server`: a bearer-token gate in front of MLflow.

`mlflow server` listens only on a Unix socket in a 0700 mkdtemp folder; this process binds the
TCP port itself and forwards a request only when it carries `Authorization: Bearer <secret>`
and a Host header naming exactly the address served (DNS rebinding). MLflow's own basic-auth
app would need a user database and passwords in every client; a bearer token is what our
clients already send through the request-auth plugin (`tracking_token`), so the gate reuses
monitor_gate's proxy and only swaps its login check. Past the same checks it answers the
explorer's reads itself, from the store's tables, where MLflow's routes take seconds to
minutes: the comparison (explorer/compared_route.py), a cold Runs view's first page and
experiments (explorer/first_page_route.py), and the run cache's whole read
(explorer/store_route.py).

The secret and the store's password arrive in the environment, never in argv, and the
password goes on to MLflow as `PGPASSWORD` with the URI stripped of it.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

SECRET_ENV = "MLWB_SERVER_SECRET"  # noqa: S105 (a variable name)
STORE_ENV = "MLWB_SERVER_STORE"


def _handler_class(store: str, password: str | None) -> type:
    from mlworkbench.explorer import compared_route, first_page_route, store_route
    from mlworkbench.monitor import monitor_gate

    # path -> (largest body, what the method is for, the answer of (store, password, body))
    own_routes: dict[str, tuple[int, str, Callable[[str, str | None, bytes], tuple[int, bytes]]]]
    own_routes = {
        compared_route.ROUTE: (compared_route.MAX_BODY, "comparison", compared_route.answer),
        first_page_route.PAGE_ROUTE: (
            first_page_route.MAX_BODY,
            "page",
            first_page_route.answer_page,
        ),
        first_page_route.EXPERIMENTS_ROUTE: (
            first_page_route.MAX_BODY,
            "experiments",
            first_page_route.answer_experiments,
        ),
        store_route.ROUTE: (store_route.MAX_BODY, "store", store_route.answer),
    }

    class BearerHandler(monitor_gate._GateHandler):
        def _handle(self) -> None:
            gate = self.server.gate
            hosts = self.headers.get_all("Host") or []
            if len(hosts) != 1 or not gate.host_allowed(hosts[0]):
                self._refuse(403, "this server answers only at its own address\n")
                return
            if not self.path.startswith("/"):
                self._refuse(400, "bad request target\n")
                return
            header = self.headers.get("Authorization") or ""
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not gate.secret_matches(value.strip()):
                self._refuse(401, "a bearer token is required (mlworkbench server status)\n")
                return
            if monitor_gate._request_body_length(self) < 0 and not monitor_gate._chunked(self):
                self._refuse(400, "bad Content-Length\n")
                return
            route = own_routes.get(self.path.split("?", 1)[0])
            if route is not None:
                self._own(*route)
                return
            self._forward(gate)

        def _own(
            self,
            max_body: int,
            what: str,
            answer: Callable[[str, str | None, bytes], tuple[int, bytes]],
        ) -> None:
            """One of the explorer's reads from the store's tables, answered here: MLflow's
            routes build an ORM object per row (seconds for a comparison at 100,000 runs)."""
            length = monitor_gate._request_body_length(self)
            if self.command != "POST":
                self._refuse(405, f"POST a {what} request\n")
                return
            if not 0 < length <= max_body:
                self._refuse(413, f"the {what} request is empty or too large\n")
                return
            status, body = answer(store, password, self.rfile.read(length))
            self._send_own(
                status, body, [("Content-Type", "application/json")], close=status != 200
            )

    return BearerHandler


def serve(workspace: Path, host: str, port: int, artifacts: str) -> int:
    """Bind, start MLflow on the private socket, forward until SIGTERM; stop MLflow on exit."""
    from mlworkbench.monitor import monitor_gate
    from mlworkbench.monitor.monitor_servers import _ready
    from mlworkbench.tracking.tracking_server_store import split_password

    secret = os.environ.pop(SECRET_ENV)
    store, password = split_password(os.environ.pop(STORE_ENV))
    backend = monitor_gate.private_socket("mlflow")
    gate = monitor_gate.MonitorGate.__new__(monitor_gate.MonitorGate)
    gate.backend = backend
    gate.secret = secret
    gate._server = monitor_gate._GateServer((host, port), _handler_class(store, password))
    gate._server.gate = gate
    gate.port = port
    gate.allowed_hosts = (f"{host}:{port}".lower(),)
    gate.cookie_name = "mlwb-unused"
    gate._thread = None
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    if password is not None:
        env["PGPASSWORD"] = password
    argv = [
        *(sys.executable, "-m", "mlflow", "server"),
        *("--backend-store-uri", store),
        "--serve-artifacts",
        *("--artifacts-destination", artifacts),
        *("--host", host, "--port", str(port), "--workers", "2"),
        *("--uvicorn-opts", f"--uds {shlex.quote(str(backend))}"),
        *("--allowed-hosts", f"{host}:{port}"),
    ]
    # In the gate's own process group (start_server made it a session): a signal to the group,
    # or a crash that kills it, takes MLflow and its workers along; no orphan keeps the store.
    process = subprocess.Popen(argv, cwd=workspace, env=env)
    from mlworkbench.explorer import compared_route, first_page_route

    # While MLflow starts (seconds): the first comparison and the first page are quick.
    compared_route.prepare(store)
    first_page_route.prepare(store)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        while not _ready(backend, "/health", f"{host}:{port}"):
            if process.poll() is not None or stopping.is_set():
                print(f"mlflow server exited with status {process.returncode}", flush=True)
                return 1
            time.sleep(0.2)
        gate.start()
        print(f"serving http://{host}:{port}", flush=True)
        while not stopping.wait(0.5):
            if process.poll() is not None:
                print(f"mlflow server exited with status {process.returncode}", flush=True)
                return 1
        return 0
    finally:
        with contextlib.suppress(Exception):
            gate.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    sys.exit(serve(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]))
