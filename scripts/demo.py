"""Open the demo workspace in a real VS Code (code-server) with the packaged extension.

`make demo` runs this after `make vsix` and `make e2e-deps`. It installs dist/ml-workbench.vsix
into a persistent code-server profile under .demo/, points the extension at the project's .venv,
starts code-server on 127.0.0.1 (port $MLWB_DEMO_PORT, else 8080, else a free one), prints the
URL to open, and stays in the foreground until Ctrl+C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
# The code-server helpers are shared with the end-to-end tests.
sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))

from codeserver import (  # noqa: E402
    CODE_SERVER,
    VENV_PYTHON,
    VSIX,
    CodeServer,
    free_port,
    install_extension,
    user_settings,
)

DEMO_STATE = REPO_ROOT / ".demo"
DEFAULT_PORT = 8080


def merge_settings(path: Path, settings: dict[str, Any]) -> None:
    """Set our keys in a settings.json, keeping whatever else the user changed in the demo."""
    current: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text())
        except ValueError:  # JSON with comments: keep a copy, start again
            path.rename(path.with_suffix(".json.bak"))
        else:
            if isinstance(loaded, dict):
                current = loaded
    current.update(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2) + "\n")


def demo_port() -> int:
    raw = os.environ.get("MLWB_DEMO_PORT", "").strip()
    preferred = int(raw) if raw else DEFAULT_PORT
    return free_port(preferred)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Open the demo workspace in code-server with the packaged extension."
    )
    parser.add_argument(
        "--restricted",
        action="store_true",
        help="keep VS Code's workspace trust on: the folder opens in Restricted Mode",
    )
    args = parser.parse_args(argv)

    problems = []
    if not VSIX.is_file():
        problems.append(f"{VSIX.relative_to(REPO_ROOT)} is missing: run `make vsix`")
    if not CODE_SERVER.exists():
        problems.append("code-server is not installed: run `make e2e-deps`")
    if not VENV_PYTHON.exists():
        problems.append(".venv is missing: run `make venv`")
    if problems:
        for problem in problems:
            print(f"demo: {problem}", file=sys.stderr)
        return 1

    user_data, extensions = DEMO_STATE / "user-data", DEMO_STATE / "extensions"
    workspace = REPO_ROOT / "demo"
    settings = user_settings(VENV_PYTHON)
    merge_settings(user_data / "User" / "settings.json", settings)
    # code-server is a remote window: machine-scoped settings live in Machine/settings.json.
    merge_settings(
        user_data / "Machine" / "settings.json",
        {"mlWorkbench.python": settings["mlWorkbench.python"]},
    )
    print(f"demo: installing {VSIX.relative_to(REPO_ROOT)} into {extensions}", flush=True)
    install_extension(user_data, extensions)

    server = CodeServer(
        user_data,
        extensions,
        port=demo_port(),
        trusted=not args.restricted,
        log_path=DEMO_STATE / "code-server.log",
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Ctrl+C, also where a non-interactive shell started us with SIGINT ignored; and SIGTERM.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.start()
        url = server.folder_url(workspace)
        print(
            "\n"
            f"ML Workbench demo: open {url}\n"
            f"  (code-server {server.base_url}, log {server.log_path.relative_to(REPO_ROOT)})\n"
            "\n"
            "Desktop VS Code: code --install-extension dist/ml-workbench.vsix\n"
            f"  then open the folder {workspace} and set mlWorkbench.python to {VENV_PYTHON}\n"
            "\n"
            "Press Ctrl+C to stop.",
            flush=True,
        )
        assert server.proc is not None
        code = server.proc.wait()
        print(f"demo: code-server exited with {code}; log: {server.log_path}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("\ndemo: stopping code-server", flush=True)
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
