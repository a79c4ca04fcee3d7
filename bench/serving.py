"""Serving benchmark: `mlworkbench serve` against `mlflow models serve` on the same model.

The model is a 30-feature LogisticRegression (make_classification, 5,000 rows) logged with
`mlflow.sklearn.log_model(signature=..., input_example=...)` into a private sqlite store. Both
servers serve its `models:/` URI on 127.0.0.1: MLflow's as `mlflow models serve -m URI
--env-manager local` (the venv's bin first on PATH: it starts uvicorn through `bash -c`), ours
as `python -m mlworkbench serve --model URI` with a token (or the serve module directly while
cli.py does not list it). One load generator drives both: an asyncio client of its own
(HTTP/1.1 keep-alive, no library between it and the socket, so its own cost stays small beside
the servers'), `--concurrency` connections sending single-row `dataframe_split` requests, a
warm-up, then a fixed number of timed requests. Before the timing, both servers' predictions
on every bench row are compared (they must be equal).

Prints req/s, p50 and p99 for each server and the ratio; goals: ours >= 10x MLflow's req/s and
ours p99 <= 20 ms. Run: .venv/bin/python bench/serving.py [--requests N]
`--quick` (what `make bench-quick` runs): a few hundred requests, goals not checked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
ENV.pop("MLFLOW_TRACKING_URI", None)
FEATURES = 30
BENCH_ROWS = 200  # distinct rows the requests cycle through (and the equality check covers)
GOAL_RATIO = 10.0
GOAL_P99_MS = 20.0
START_TIMEOUT_S = 240.0  # a skops model's first load imports all of scikit-learn

LOG_MODEL = """
import json, sys
import mlflow, mlflow.sklearn, pandas as pd
from mlflow.models import infer_signature
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
store, rows_out, features, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
x, y = make_classification(n_samples=5000, n_features=features, random_state=0)
frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(features)])
model = LogisticRegression(max_iter=1000).fit(frame, y)
mlflow.set_tracking_uri(f"sqlite:///{store}/mlflow.db")
with mlflow.start_run():
    info = mlflow.sklearn.log_model(
        model, name="model", signature=infer_signature(frame, model.predict(frame)),
        input_example=frame.head(3), pip_requirements=["scikit-learn"],
    )
with open(rows_out, "w") as f:
    json.dump({"columns": list(frame.columns), "data": frame.head(rows).values.tolist()}, f)
print(info.model_uri)
"""

OUR_SERVE = (
    "import sys; from mlworkbench.commands.serve import COMMAND; import argparse; "
    "p = argparse.ArgumentParser(); COMMAND.configure(p); "
    "sys.exit(COMMAND.run(p.parse_args(sys.argv[1:])))"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def our_command() -> list[str]:
    """`python -m mlworkbench serve` once cli.py lists the verb; the module directly before."""
    from mlworkbench.cli import SUBCOMMANDS

    if any(command.name == "serve" for command in SUBCOMMANDS):
        return [sys.executable, "-m", "mlworkbench", "serve"]
    return [sys.executable, "-c", OUR_SERVE]


class Connection:
    """One keep-alive HTTP/1.1 connection: request bytes in, (status, body) out."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(
            int(line.split(":", 1)[1])
            for line in lines
            if line.lower().startswith("content-length")
        )
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def request_bytes(port: int, body: dict[str, object], token: str | None) -> bytes:
    data = json.dumps(body).encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode() + data


async def load(
    port: int, requests: list[bytes], total: int, concurrency: int
) -> tuple[float, list[float]]:
    """Seconds for `total` requests over `concurrency` connections, and each one's latency."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        connection = await Connection.open(port)
        try:
            for index in counter:
                start = time.perf_counter()
                status, body = await connection.send(requests[index % len(requests)])
                latencies.append(time.perf_counter() - start)
                if status != 200:
                    raise RuntimeError(f"status {status}: {body[:200]!r}")
        finally:
            connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies


async def predictions(port: int, rows: dict[str, list[object]], token: str | None) -> object:
    connection = await Connection.open(port)
    try:
        status, body = await connection.send(request_bytes(port, {"dataframe_split": rows}, token))
    finally:
        connection.close()
    if status != 200:
        raise RuntimeError(f"status {status}: {body[:300]!r}")
    return json.loads(body)


def wait_ready(servers: dict[str, tuple[subprocess.Popen[bytes], int, Path]]) -> dict[str, float]:
    """Seconds from now until each server's GET /ping answers 200 (polled together)."""
    start = time.perf_counter()
    ready: dict[str, float] = {}
    while len(ready) < len(servers):
        if time.perf_counter() - start > START_TIMEOUT_S:
            raise RuntimeError(
                f"servers not ready after {START_TIMEOUT_S} s: {set(servers) - set(ready)}"
            )
        for name, (process, port, log) in servers.items():
            if name in ready:
                continue
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited ({process.returncode}):\n{log.read_text()[-2000:]}"
                )
            if _pings(port):
                ready[name] = time.perf_counter() - start
        time.sleep(0.25)
    return ready


def _pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(f"GET /ping HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)  # its own session: uvicorn and any workers
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def figures(elapsed: float, latencies: list[float]) -> tuple[float, float, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * len(ordered)) - 1)]
    return len(ordered) / elapsed, statistics.median(ordered) * 1000, p99 * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per server")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1, help="our server's --workers")
    parser.add_argument(
        "--quick", action="store_true", help="a few hundred requests, goals not checked"
    )
    args = parser.parse_args()
    if args.quick:
        args.requests = 150  # MLflow's start (about a minute here) is most of it anyway
    warmup = max(20, args.requests // 10)

    folder = Path(tempfile.mkdtemp(prefix="mlworkbench-bench-serving-"))
    servers: list[subprocess.Popen[bytes]] = []
    try:
        rows_file = folder / "rows.json"
        logged = subprocess.run(
            [
                sys.executable,
                "-c",
                LOG_MODEL,
                str(folder),
                str(rows_file),
                str(FEATURES),
                str(BENCH_ROWS),
            ],
            env=ENV,
            capture_output=True,
            text=True,
            check=True,
        )
        uri = logged.stdout.strip().splitlines()[-1]
        rows = json.loads(rows_file.read_text())
        env = {
            **ENV,
            "MLFLOW_TRACKING_URI": f"sqlite:///{folder}/mlflow.db",
            "PATH": f"{VENV_BIN}{os.pathsep}{ENV.get('PATH', '')}",
        }
        token = secrets.token_urlsafe(32)
        token_file = folder / "token"
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)

        mlflow_port, our_port = free_port(), free_port()
        mlflow_cmd = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", uri]
        mlflow_cmd += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(mlflow_port)]
        ours_cmd = [*our_command(), "--model", uri, "--port", str(our_port)]
        ours_cmd += ["--token-file", str(token_file), "--workspace", str(folder)]
        ours_cmd += ["--workers", str(args.workers)]
        peer = start(mlflow_cmd, env, folder / "mlflow.log")
        servers.append(peer)
        ours = start(ours_cmd, env, folder / "ours.log")
        servers.append(ours)
        ready = wait_ready(
            {
                "mlflow": (peer, mlflow_port, folder / "mlflow.log"),
                "ours": (ours, our_port, folder / "ours.log"),
            }
        )

        expected = asyncio.run(predictions(mlflow_port, rows, None))
        got = asyncio.run(predictions(our_port, rows, token))
        if got != expected:
            print(f"FAIL: predictions differ\n  mlflow: {expected}\n  ours:   {got}")
            return 1

        results = {}
        columns = rows["columns"]
        for name, port, auth in (("ours", our_port, token), ("mlflow", mlflow_port, None)):
            bodies = [
                request_bytes(port, {"dataframe_split": {"columns": columns, "data": [row]}}, auth)
                for row in rows["data"]
            ]
            asyncio.run(load(port, bodies, warmup, args.concurrency))
            timed = asyncio.run(load(port, bodies, args.requests, args.concurrency))
            results[name] = figures(*timed)
    finally:
        for process in servers:
            stop(process)
        shutil.rmtree(folder, ignore_errors=True)

    ours_rps, ours_p50, ours_p99 = results["ours"]
    peer_rps, peer_p50, peer_p99 = results["mlflow"]
    ratio = ours_rps / peer_rps
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {FEATURES}-feature "
        f"LogisticRegression, single-row dataframe_split, concurrency {args.concurrency}, "
        f"{args.requests} timed requests after {warmup} warm-up, predictions equal on "
        f"{BENCH_ROWS} rows"
    )
    print(
        f"ready after: ours {ready['ours']:.1f} s, mlflow models serve {ready['mlflow']:.1f} s "
        f"(started together); load average {os.getloadavg()[0]:.1f}"
    )
    if args.quick:
        print("quick mode: few requests, goals not checked")
    print(f"{'server':22} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'mlworkbench serve':22} {ours_rps:9.1f} {ours_p50:8.2f} {ours_p99:8.2f}")
    print(f"{'mlflow models serve':22} {peer_rps:9.1f} {peer_p50:8.2f} {peer_p99:8.2f}")
    ratio_ok = ratio >= GOAL_RATIO
    p99_ok = ours_p99 <= GOAL_P99_MS
    marks = ("", "") if args.quick else ("ok" if ratio_ok else "UNDER", "ok" if p99_ok else "OVER")
    print(f"req/s ratio {ratio:.1f}x (goal >= {GOAL_RATIO:g}x) {marks[0]}".rstrip())
    print(f"our p99 {ours_p99:.2f} ms (goal <= {GOAL_P99_MS:g} ms) {marks[1]}".rstrip())
    return 0 if args.quick or (ratio_ok and p99_ok) else 1


if __name__ == "__main__":
    raise SystemExit(main())
