"""Fixtures for the end-to-end tests: the packaged .vsix in code-server, seen through Chromium.

Each editor fixture copies demo/ to a temporary workspace, makes a fresh code-server profile
(user data + extensions dir), installs dist/ml-workbench.vsix into it the way a user would, starts
code-server on a free 127.0.0.1 port and opens the workspace in headless Debian Chromium.
Screenshots go to tests/e2e/artifacts/<test name>/, code-server's log and the editor's own logs
(extension host, ML Workbench output channel) to tests/e2e/artifacts/<editor name>/.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from codeserver import (
    ARTIFACTS_DIR,
    CODE_SERVER,
    VENV_PYTHON,
    VSIX,
    CodeServer,
    Editor,
    Workbench,
    install_extension,
    launch_chromium,
    make_workspace,
    write_settings,
)
from playwright.sync_api import BrowserContext, Playwright, sync_playwright

# A warm pool (launch/warm_pool.py) outlives the run that started it by its idle timeout (10 min):
# tests that start runs would each leave one behind. The pool's own tests switch it on
# (tests/backend/test_warm_pool.py); everywhere else runs are cold, as the bench's peers are.
os.environ["MLWORKBENCH_WARM"] = "0"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def pw() -> Iterator[Playwright]:
    problems = []
    if not CODE_SERVER.exists():
        problems.append(f"{CODE_SERVER} is missing: run `make e2e-deps`")
    if not VSIX.is_file():
        problems.append(f"{VSIX} is missing: run `make vsix`")
    if not VENV_PYTHON.exists():
        problems.append(f"{VENV_PYTHON} is missing: run `make venv`")
    if shutil.which("chromium") is None:
        problems.append("Debian's chromium is not on PATH: run `make e2e-deps`")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
    with sync_playwright() as playwright:
        yield playwright


@contextlib.contextmanager
def open_editor(
    pw: Playwright,
    tmp: Path,
    name: str,
    *,
    trusted: bool,
    files: Mapping[str, str] | None = None,
) -> Iterator[Editor]:
    """An editor on a fresh copy of demo/, plus ``files`` (relative path -> text).

    Extra files are written before the editor opens: Quick Open may not list a file created
    later for a while (its file index is refreshed by the watcher, not on every search).
    """
    artifacts = ARTIFACTS_DIR / name
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    user_data, extensions = tmp / "user-data", tmp / "extensions"
    workspace = make_workspace(tmp / "workspace")
    for relative, text in (files or {}).items():
        target = workspace / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    write_settings(user_data, VENV_PYTHON)
    (artifacts / "install.log").write_text(install_extension(user_data, extensions))
    server = CodeServer(
        user_data, extensions, trusted=trusted, log_path=artifacts / "code-server.log"
    )
    context: BrowserContext | None = None
    try:
        server.start()
        context = launch_chromium(pw, tmp / "chromium")
        context.set_default_timeout(30_000)
        page = context.pages[0] if context.pages else context.new_page()
        wb = Workbench(page, artifacts)
        wb.open(server.folder_url(workspace))
        yield Editor(name, workspace, server, context, wb, artifacts)
    finally:
        if context is not None:
            with contextlib.suppress(Exception):
                context.close()
        server.stop()
        # The editor's own logs: extension host, the ML Workbench output channel, the server.
        if (user_data / "logs").is_dir():
            shutil.copytree(user_data / "logs", artifacts / "logs", dirs_exist_ok=True)


@contextlib.contextmanager
def per_test(editor: Editor, request: pytest.FixtureRequest) -> Iterator[Editor]:
    """Point the editor's screenshots at artifacts/<test name>/; add one more on failure."""
    directory = ARTIFACTS_DIR / request.node.name
    shutil.rmtree(directory, ignore_errors=True)
    editor.wb.use_artifacts(directory)
    editor.wb.dismiss_quick_input()
    yield editor
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        editor.wb.shot("failure")


@pytest.fixture(scope="class")
def trusted_editor(
    pw: Playwright, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Editor]:
    """One editor shared by a class of tests: workspace trusted (--disable-workspace-trust).

    A test class may set ``editor_name`` (its logs then go to artifacts/<editor_name>/ rather
    than artifacts/trusted-editor/, so two classes' editors do not overwrite each other's logs)
    and ``workspace_files`` (relative path -> text, added to the copy of demo/).
    """
    name = getattr(request.cls, "editor_name", "trusted-editor")
    files = getattr(request.cls, "workspace_files", None)
    tmp = tmp_path_factory.mktemp("trusted")
    with open_editor(pw, tmp, name, trusted=True, files=files) as ed:
        yield ed


@pytest.fixture
def trusted(trusted_editor: Editor, request: pytest.FixtureRequest) -> Iterator[Editor]:
    with per_test(trusted_editor, request) as editor:
        yield editor


@pytest.fixture
def untrusted(pw: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Editor]:
    """An editor of its own whose workspace opens in Restricted Mode."""
    tmp = tmp_path_factory.mktemp("untrusted")
    with open_editor(pw, tmp, "untrusted-editor", trusted=False) as editor:
        yield editor


@pytest.fixture
def restricted(untrusted: Editor, request: pytest.FixtureRequest) -> Iterator[Editor]:
    with per_test(untrusted, request) as editor:
        yield editor
