"""Open the demo workspace in a real VS Code (code-server) with the packaged extension.

`make demo` runs this after `make vsix` and `make e2e-deps`. It installs dist/ml-workbench.vsix
into a persistent code-server profile under .demo/, points the extension at the project's .venv,
copies demo/ to .demo/demo (git-ignored: runs, caches and edits stay out of the repository),
records a few example runs there with the real launcher the first time (so the Runs view,
Compare and the `N runs` lenses have something to show), starts code-server on 127.0.0.1 (port
$MLWB_DEMO_PORT, else 8080, else a free one), prints the URL to open, and stays in the
foreground until Ctrl+C.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

REPO_ROOT = Path(__file__).resolve().parents[1]
# The code-server helpers are shared with the end-to-end tests.
sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))

from codeserver import (  # noqa: E402
    CODE_SERVER,
    DEMO_DIR,
    VENV_PYTHON,
    VSIX,
    CodeServer,
    free_port,
    install_extension,
    user_settings,
)

if TYPE_CHECKING:
    from mlworkbench.launch.results import RunResult

DEMO_STATE = REPO_ROOT / ".demo"
# Named `demo` so the editor's title and the printed `?folder=…/demo` URL read as before.
DEMO_WORKSPACE = DEMO_STATE / "demo"
DEFAULT_PORT = 8080
# Not copied into the demo workspace: another demo's or test's tracking data and caches.
_NOT_COPIED = ("__pycache__", "mlruns", "mlflow.db", ".mlworkbench", ".venv")


@dataclass(frozen=True)
class SeedRun:
    """One example run: a script of the workspace, its arguments and the run's name."""

    script: str
    args: tuple[str, ...]
    name: str


# Three settings of one script (Compare shows what changed; its lens says `3 runs`) and the
# PyTorch script, whose TensorBoard scalars make `Open TensorBoard` and live metrics worth a look.
DEMO_RUNS: tuple[SeedRun, ...] = (
    SeedRun("train_iris.py", ("--n-estimators", "10", "--max-depth", "2"), "iris-10-trees-depth-2"),
    SeedRun("train_iris.py", ("--n-estimators", "50", "--max-depth", "4"), "iris-50-trees-depth-4"),
    SeedRun("train_iris.py", ("--n-estimators", "200"), "iris-200-trees"),
    SeedRun("train_torch_mlp.py", ("--epochs", "30", "--lr", "0.01"), "torch-mlp-30-epochs"),
    # A model worth a fairness report: Report… on it reads data/credit.csv, which it writes.
    SeedRun("train_credit.py", ("--c", "1.0"), "credit-logreg"),
)


def prepare_workspace(dest: Path = DEMO_WORKSPACE, source: Path = DEMO_DIR) -> Path:
    """Copy the demo's files that `dest` lacks; what the user changed there is kept."""
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part in _NOT_COPIED for part in relative.parts):
            continue
        target = dest / relative
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return dest


def seed_runs(
    workspace: Path,
    runs: Sequence[SeedRun] = DEMO_RUNS,
    *,
    parallel: int | None = None,
    report: Callable[[str], None] = print,
) -> list[RunResult]:
    """Record `runs` in the workspace's store with the real launcher, unless it has runs already.

    The first run goes alone until its run exists (it creates the store: two processes creating
    MLflow's tables at once would collide); the rest then run `parallel` at a time (default:
    one per CPU). A run that fails is reported and the others go on: the demo opens anyway.
    """
    from mlworkbench.errors import MlWorkbenchError
    from mlworkbench.explorer.run_listing import list_runs
    from mlworkbench.launch.launcher import RunHandle, start_run

    if not runs or list_runs(workspace, max_results=1):
        return []
    report(f"demo: recording {len(runs)} example runs in {workspace} (the first time only)")
    handles: list[RunHandle] = []

    def start(run: SeedRun) -> RunHandle:
        handle = start_run(Path(run.script), run.args, workspace=workspace, run_name=run.name)
        handles.append(handle)
        return handle

    def finish(run: SeedRun, handle: RunHandle | None, started: float) -> RunResult | None:
        try:
            result = (handle or start(run)).wait()
        except MlWorkbenchError as error:
            report(f"demo: example run {run.name} did not start: {error.message}")
            return None
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(result.metrics.items())[:3])
        report(
            f"demo: {run.name}: {result.status.lower()} in {time.monotonic() - started:.0f} s"
            + (f" ({metrics})" if metrics else "")
        )
        return result

    first, rest = runs[0], runs[1:]
    started = time.monotonic()
    try:
        first_handle = start(first)
    except MlWorkbenchError as error:
        report(f"demo: no example runs: the first did not start: {error.message}")
        return []
    workers = max(1, min(len(runs), parallel or os.cpu_count() or 1))
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        done = [pool.submit(finish, first, first_handle, started)]
        done += [pool.submit(finish, run, None, time.monotonic()) for run in rest]
        results = [future.result() for future in done]
    except KeyboardInterrupt:
        # The scripts run in their own sessions: Ctrl+C reaches only us, so pass it on.
        pool.shutdown(wait=False, cancel_futures=True)
        for handle in handles:
            handle.cancel(grace_s=0.0)
        raise
    pool.shutdown()
    return [result for result in results if result is not None]


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
    parser.add_argument(
        "--no-runs",
        action="store_true",
        help="open the workspace without recording example runs in it first",
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
    workspace = prepare_workspace()
    if os.environ.get("MLFLOW_TRACKING_URI"):
        print("demo: MLFLOW_TRACKING_URI is set: no example runs are recorded there", flush=True)
    elif not args.no_runs:
        started = time.monotonic()
        try:
            seeded = seed_runs(workspace, report=lambda line: print(line, flush=True))
        except KeyboardInterrupt:
            print("\ndemo: stopped while recording the example runs", flush=True)
            return 130
        if seeded:
            print(f"demo: example runs recorded in {time.monotonic() - started:.0f} s", flush=True)
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
