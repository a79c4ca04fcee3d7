"""Entry point of `mlworkbench-server` / `python -m mlworkbench_server`.

Checks the interpreter before importing pygls, so a too-old Python or a missing dependency is
reported as one clear line and a distinct exit code that the extension turns into a message
with a fix, instead of a traceback in an output channel nobody reads.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import platform
import sys
from collections.abc import Sequence

from mlworkbench_server.protocol import EXIT_CODES, MIN_PYTHON


def _environment_problem() -> tuple[int, str] | None:
    if sys.version_info < MIN_PYTHON:
        wanted = ".".join(map(str, MIN_PYTHON))
        return (
            EXIT_CODES["PYTHON_TOO_OLD"],
            f"ML Workbench needs Python {wanted} or newer; {sys.executable} is "
            f"{platform.python_version()}. Select another interpreter.",
        )
    for module in ("pygls", "lsprotocol"):
        if importlib.util.find_spec(module) is None:
            return (
                EXIT_CODES["MISSING_DEPENDENCY"],
                f"{sys.executable} cannot import {module}. Run 'ML Workbench: Set up environment'"
                " or `pip install mlworkbench`.",
            )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlworkbench-server", description=__doc__)
    parser.add_argument(
        "--check",
        action="store_true",
        help="print the interpreter check as JSON and exit (used by the extension before start)",
    )
    parser.add_argument("--log-level", default="WARNING", help="logging level for stderr")
    args = parser.parse_args(argv)

    problem = _environment_problem()
    if args.check:
        print(
            json.dumps(
                {
                    "ok": problem is None,
                    "python": platform.python_version(),
                    "executable": sys.executable,
                    "in_venv": sys.prefix != sys.base_prefix,
                    "message": problem[1] if problem else None,
                }
            )
        )
        return problem[0] if problem else 0
    if problem:
        print(problem[1], file=sys.stderr)
        return problem[0]

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    import gc

    from mlworkbench.tracking.gc_pause import collector_paused

    # The imports (pygls, lsprotocol's ~1,000 classes and their converters) allocate in bursts
    # that trip the cyclic collector again and again, and none of it is garbage: collecting
    # paused, then freezing what they made, takes 0.15-0.2 s off each start (spawn to first
    # answer), and later collections walk none of it.
    with collector_paused():
        from mlworkbench.tracking.tracking_token import scope_process_token
        from mlworkbench_server.server import create_server

        # Before anything can read a store: the token may only reach its own server's origin.
        scope_process_token()
        server = create_server()
    gc.freeze()
    server.start_io()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
