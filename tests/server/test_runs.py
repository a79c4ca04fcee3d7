"""Tracked runs through the real server: start, stream, finish, cancel, list, refuse.

The language client is pytest-lsp's real one; the store is a real MLflow sqlite file in a
temporary workspace, read back with MLflow's own client.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from mlworkbench_server.protocol import ERROR_CODES, NOTIFICATIONS, REQUESTS

from .lsp_helpers import lenses, open_document, titles


class Inbox:
    """Every custom notification the server sent, by method, as they arrive."""

    def __init__(self, client: LanguageClient) -> None:
        self.messages: dict[str, list[Any]] = defaultdict(list)
        self.arrived = asyncio.Event()
        for method in NOTIFICATIONS.values():
            client.feature(method)(self._collector(method))

    def _collector(self, method: str) -> Any:
        def collect(params: Any) -> None:
            self.messages[method].append(params)
            self.arrived.set()

        return collect

    async def status_of(self, run_id: str, timeout: float = 90.0) -> Any:
        """Wait for the run's final status notification."""

        async def final() -> Any:
            while True:
                for params in self.messages[NOTIFICATIONS["RUN_STATUS"]]:
                    if params.runId == run_id and params.status != "RUNNING":
                        return params
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(final(), timeout)

    def output_of(self, run_id: str) -> str:
        return "".join(
            p.text for p in self.messages[NOTIFICATIONS["RUN_OUTPUT"]] if p.runId == run_id
        )


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "mlworkbench_server"]),
)
async def trusted(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    """conftest.py's trusted client, plus what these tests read: it advertises code-lens
    refresh (which only `initialize` can say) and keeps every notification from the start."""
    lsp_client.inbox = Inbox(lsp_client)  # type: ignore[attr-defined]
    lsp_client.lens_refreshes = 0  # type: ignore[attr-defined]

    @lsp_client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def refresh(params: None) -> None:
        lsp_client.lens_refreshes += 1  # type: ignore[attr-defined]

    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                workspace=types.WorkspaceClientCapabilities(
                    code_lens=types.CodeLensWorkspaceClientCapabilities(refresh_support=True)
                )
            ),
            initialization_options={"trusted": True},
        )
    )
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "mlworkbench_server"]),
)
async def uninitialized(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    """A client that has not said `initialize` yet: the test chooses the workspace."""
    yield


def write_script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


async def start(client: LanguageClient, script: Path, *args: str) -> str:
    started = await client.protocol.send_request_async(
        REQUESTS["START_RUN"],
        {"uri": script.as_uri(), "workspaceUri": script.parent.as_uri(), "args": list(args)},
    )
    return str(started.runId)


@pytest.mark.slow
async def test_a_run_streams_its_output_and_ends_finished_in_the_store(
    trusted: LanguageClient, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path,
        "train.py",
        """
        import argparse
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        parser = argparse.ArgumentParser()
        parser.add_argument("--c", type=float, default=1.0)
        args = parser.parse_args()
        x, y = load_iris(return_X_y=True)
        model = LogisticRegression(C=args.c, max_iter=300).fit(x, y)
        print("trained", model.score(x, y))
        """,
    )
    inbox: Inbox = trusted.inbox  # type: ignore[attr-defined]
    run_id = await start(trusted, script, "--c", "0.5")
    final = await inbox.status_of(run_id)

    assert final.status == "FINISHED"
    assert "trained" in inbox.output_of(run_id)

    from mlflow.tracking import MlflowClient

    stored = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_run(run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.params["c"] == "0.5"
    assert any(key.startswith("training_") for key in stored.data.metrics)

    listed = await trusted.protocol.send_request_async(
        REQUESTS["LIST_RUNS"], {"workspaceUri": tmp_path.as_uri()}
    )
    assert [run.run_id for run in listed.runs] == [run_id]
    assert listed.runs[0].script == str(script)

    # Listing told the client to refresh lenses, and the lens now counts this script's runs.
    assert trusted.lens_refreshes == 1  # type: ignore[attr-defined]
    uri = open_document(trusted, script)
    found = titles(await lenses(trusted, uri))
    assert any(t.startswith("1 run · last: training_") for t in found), found


@pytest.mark.slow
async def test_cancel_marks_the_run_killed(trusted: LanguageClient, tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        "slow.py",
        """
        import time
        print("started", flush=True)
        time.sleep(120)
        """,
    )
    inbox: Inbox = trusted.inbox  # type: ignore[attr-defined]
    run_id = await start(trusted, script)
    for _ in range(200):
        if "started" in inbox.output_of(run_id):
            break
        await asyncio.sleep(0.1)
    await trusted.protocol.send_request_async(REQUESTS["CANCEL_RUN"], {"runId": run_id})
    final = await inbox.status_of(run_id, timeout=60)
    assert final.status == "KILLED"


async def test_a_crashing_script_is_failed_with_its_error(
    trusted: LanguageClient, tmp_path: Path
) -> None:
    script = write_script(tmp_path, "crash.py", "raise RuntimeError('bad data in row 7')\n")
    inbox: Inbox = trusted.inbox  # type: ignore[attr-defined]
    run_id = await start(trusted, script)
    final = await inbox.status_of(run_id)
    assert final.status == "FAILED"
    assert final.result.exit_code == 1
    assert "bad data in row 7" in final.result.error_tail


async def test_missing_script_is_a_structured_error(
    trusted: LanguageClient, tmp_path: Path
) -> None:
    with pytest.raises(JsonRpcException) as raised:
        await start(trusted, tmp_path / "nope.py")
    assert raised.value.code == ERROR_CODES["SCRIPT_NOT_FOUND"]


async def test_cancelling_an_unknown_run_says_so(trusted: LanguageClient) -> None:
    with pytest.raises(JsonRpcException) as raised:
        await trusted.protocol.send_request_async(REQUESTS["CANCEL_RUN"], {"runId": "0" * 32})
    assert raised.value.code == ERROR_CODES["RUN_NOT_FOUND"]


async def test_an_untrusted_workspace_runs_nothing(client: LanguageClient, tmp_path: Path) -> None:
    script = write_script(tmp_path, "train.py", "open('ran', 'w').write('yes')\n")
    with pytest.raises(JsonRpcException) as raised:
        await start(client, script)
    assert raised.value.code == ERROR_CODES["UNTRUSTED_WORKSPACE"]
    assert not (tmp_path / "ran").exists()
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.slow
async def test_a_run_whose_process_died_unrecorded_is_failed_at_start(
    tmp_path: Path, uninitialized: LanguageClient
) -> None:
    lsp_client = uninitialized
    from mlflow.tracking import MlflowClient

    from mlworkbench.launch.child.proc_info import host_name

    store = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    orphan = store.create_run(
        "0",
        tags={"mlworkbench.host": host_name(), "mlworkbench.pid": "4194000"},
        run_name="editor-crashed",
    )
    foreign = store.create_run("0", run_name="not-ours")  # no workbench tags: left alone

    inbox = Inbox(lsp_client)
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=tmp_path.as_uri(),
            initialization_options={"trusted": True},
        )
    )
    lsp_client.initialized(types.InitializedParams())
    final = await inbox.status_of(orphan.info.run_id, timeout=60)
    await lsp_client.shutdown_session()

    assert final.status == "FAILED"
    reread = store.get_run(orphan.info.run_id)
    assert reread.info.status == "FAILED"
    assert "pid 4194000" in reread.data.tags["mlworkbench.error"]
    assert store.get_run(foreign.info.run_id).info.status == "RUNNING"


@pytest.mark.slow
async def test_a_debug_launch_is_tracked_like_a_run(
    trusted: LanguageClient, tmp_path: Path
) -> None:
    import os
    import subprocess

    script = write_script(
        tmp_path,
        "train.py",
        """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int, default=1)
        print("epochs", parser.parse_args().epochs)
        """,
    )
    launch = await trusted.protocol.send_request_async(
        REQUESTS["PREPARE_DEBUG_RUN"],
        {"uri": script.as_uri(), "workspaceUri": tmp_path.as_uri(), "args": ["--epochs", "3"]},
    )
    # What the debugger does with the configuration, minus the breakpoints.
    env = {**os.environ, **{k: getattr(launch.env, k) for k in launch.env._fields}}
    done = subprocess.run(
        [launch.python, launch.program, *launch.args],
        cwd=launch.cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "epochs 3" in done.stdout

    from mlflow.tracking import MlflowClient

    (run,) = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").search_runs(["0"])
    assert run.info.status == "FINISHED"
    assert run.data.params["epochs"] == "3"
    assert run.data.tags["mlworkbench.exit_code"] == "0"


@pytest.mark.slow
async def test_the_tracking_uri_setting_sends_runs_elsewhere(
    tmp_path: Path, uninitialized: LanguageClient
) -> None:
    elsewhere = tmp_path / "shared-store"
    elsewhere.mkdir()
    workspace = tmp_path / "ws"
    workspace.mkdir()
    script = write_script(workspace, "train.py", "print('hello')\n")
    inbox = Inbox(uninitialized)
    await uninitialized.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            initialization_options={
                "trusted": True,
                "trackingUri": f"sqlite:///{elsewhere / 'mlflow.db'}",
            },
        )
    )
    run_id = await start(uninitialized, script)
    final = await inbox.status_of(run_id)
    await uninitialized.shutdown_session()

    assert final.status == "FINISHED"
    assert not (workspace / "mlflow.db").exists()
    from mlflow.tracking import MlflowClient

    stored = MlflowClient(f"sqlite:///{elsewhere / 'mlflow.db'}").get_run(run_id)
    assert stored.info.status == "FINISHED"
