"""Start-up benchmark: ML Workbench's server against a minimal pygls 2 server and ast.parse.

Prints three figures with ratios measured in the same run (goals from the foundation issue):
  initialize round trip vs a minimal pygls server (<= 1.25x), code lenses on a 5,000-line
  script vs ast.parse of it (<= 2x), idle RSS vs the minimal server (<= 1.3x).
Run: `make bench` (or .venv/bin/python bench/startup.py [--repeat N]).
`--quick` (what `make bench-quick` and so `make test` run) takes one sample of each figure and
prints the same rows without checking the goals: it keeps the bench working, not the figures.
"""

from __future__ import annotations

import argparse
import ast
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lsp_wire import WireClient

from mlworkbench_server.protocol import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
OURS = [sys.executable, str(ROOT / "extension" / "tool" / "launch_server.py")]
PEER = [sys.executable, str(ROOT / "bench" / "minimal_server.py")]
INIT = {"processId": None, "rootUri": None, "capabilities": {}}
# The lenses this bench times: ▶ Run and the frameworks/parameters summary. Other lenses may
# come and go beside them (Run with…, Debug, N runs) without breaking it.
MEASURED_LENSES = {COMMANDS["RUN_SCRIPT"], COMMANDS["SHOW_SCRIPT_INFO"]}


def generated_script(lines: int = 5000) -> str:
    body = "\n".join(f"def step_{i}(x):\n    return x * {i} + 1\n" for i in range(lines // 3))
    return (
        "import argparse\nimport torch\nfrom sklearn.linear_model import LogisticRegression\n"
        f"{body}\n"
        "def main():\n    p = argparse.ArgumentParser()\n"
        "    p.add_argument('--epochs', type=int, default=3, help='passes')\n"
        "    p.add_argument('--lr', type=float, default=0.1)\n    p.parse_args()\n\n"
        "if __name__ == '__main__':\n    main()\n"
    )


def time_initialize(command: list[str]) -> tuple[float, int]:
    """Seconds from spawn to the initialize response, and RSS (KiB) once idle after it."""
    start = time.perf_counter()
    client = WireClient(command)
    client.request("initialize", INIT)
    elapsed = time.perf_counter() - start
    client.send("initialized", {}, notify=True)
    time.sleep(0.3)
    rss = client.rss_kib()
    client.close()
    return elapsed, rss


def time_lenses(source: str, repeat: int) -> float:
    """Median seconds for a codeLens round trip on a freshly changed (uncached) document."""
    client = WireClient(OURS)
    client.request("initialize", INIT)
    client.send("initialized", {}, notify=True)
    uri = "file:///bench/big_train.py"
    doc = {"uri": uri, "languageId": "python", "version": 0, "text": source}
    client.send("textDocument/didOpen", {"textDocument": doc}, notify=True)
    client.request("textDocument/codeLens", {"textDocument": {"uri": uri}})  # warm caches
    samples = []
    for version in range(1, repeat + 1):
        client.send(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"text": source + f"\n# edit {version}\n"}],
            },
            notify=True,
        )
        start = time.perf_counter()
        result = client.request("textDocument/codeLens", {"textDocument": {"uri": uri}})
        samples.append(time.perf_counter() - start)
        shown = {lens["command"]["command"] for lens in result or []}
        assert shown >= MEASURED_LENSES, f"missing {MEASURED_LENSES - shown} in {result}"
    client.close()
    return statistics.median(samples)


def time_ast_parse(source: str, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        ast.parse(source)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7, help="samples per figure (median)")
    parser.add_argument(
        "--quick", action="store_true", help="one sample each, goals not checked (make test)"
    )
    args = parser.parse_args()
    if args.quick:
        args.repeat = 1

    ours_init, ours_rss, peer_init, peer_rss = [], [], [], []
    for _ in range(args.repeat):  # interleaved so machine noise hits both alike
        t, r = time_initialize(OURS)
        ours_init.append(t)
        ours_rss.append(r)
        t, r = time_initialize(PEER)
        peer_init.append(t)
        peer_rss.append(r)
    source = generated_script()
    lens_s = time_lenses(source, args.repeat)
    parse_s = time_ast_parse(source, args.repeat)

    rows = [
        (
            "initialize round trip (s)",
            statistics.median(ours_init),
            statistics.median(peer_init),
            "minimal pygls 2 server",
            1.25,
        ),
        ("code lenses, 5,000-line script (s)", lens_s, parse_s, "ast.parse of the file", 2.0),
        (
            "idle RSS (MiB)",
            statistics.median(ours_rss) / 1024,
            statistics.median(peer_rss) / 1024,
            "minimal pygls 2 server",
            1.3,
        ),
    ]
    print(f"python {sys.version.split()[0]}, {args.repeat} samples each, medians")
    if args.quick:
        print("quick mode: one sample per figure, goals not checked")
    print(f"{'figure':36} {'ours':>9} {'peer':>9} {'ratio':>7} {'goal':>6}  peer")
    failed = False
    for name, ours, peer, peer_name, goal in rows:
        ratio = ours / peer
        failed |= ratio > goal
        mark = "" if args.quick else "ok" if ratio <= goal else "OVER"
        line = f"{name:36} {ours:9.4f} {peer:9.4f} {ratio:6.2f}x {goal:5.2f}x  {peer_name} {mark}"
        print(line.rstrip())
    return 1 if failed and not args.quick else 0


if __name__ == "__main__":
    raise SystemExit(main())
