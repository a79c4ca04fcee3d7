"""The LanguageServer subclass and the wiring of its features, one module per feature."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from mlworkbench_server import (
    __version__,
    compute_requests,
    compute_target_requests,
    deploy_requests,
    explorer_requests,
    monitor_requests,
    registry_requests,
    reports_requests,
    run_requests,
    run_sessions,
    script_lenses,
    script_requests,
)
from mlworkbench_server.analysis_cache import AnalysisCache
from mlworkbench_server.errors import quiet_expected_errors
from mlworkbench_server.request_path import response_converter
from mlworkbench_server.script_runs import ScriptRunIndex

if TYPE_CHECKING:
    from mlworkbench_server.request_path import Trust

F = TypeVar("F", bound=Callable[..., Any])


class WorkbenchServer(LanguageServer):
    """pygls server holding what features share: analyses, runs, and the client's settings."""

    def __init__(self) -> None:
        super().__init__("mlworkbench-server", __version__, converter_factory=response_converter)
        self.analyses = AnalysisCache()
        self.runs = run_sessions.RunSessions(self)
        self.script_runs = ScriptRunIndex()
        # Until the client says otherwise, assume the safe case: nothing may run.
        self.trusted = False
        self.tracking_uri: str | None = os.environ.get("MLFLOW_TRACKING_URI") or None
        self._runs_changed_listeners: list[Callable[[str | None], None]] = []
        self._start_tasks: list[tuple[Trust, Callable[[WorkbenchServer, list[Path]], None]]] = []
        self._start_holds: list[Callable[[], None]] = []
        # method -> trust class, filled by `request_path.request` (tests enumerate it).
        self.request_trust: dict[str, Trust] = {}

    def thread(self, import_mlflow: bool = True) -> Callable[[F], F]:
        """pygls's `thread()`, but the worker first imports MLflow whole, under a lock.

        Handlers that run in threads are the ones that touch MLflow; concurrent first imports
        of its parts can deadlock (see `mlworkbench.tracking.mlflow_import`). `import_mlflow`
        False: the handler answers some requests without MLflow (the Runs view's first page
        from the store's tables while the cache loads) and imports it itself before using it.
        """
        mark = super().thread()
        if not import_mlflow:
            return mark

        def decorator(handler: F) -> F:
            @functools.wraps(handler)
            def imported_first(*args: Any, **kwargs: Any) -> Any:
                from mlworkbench.tracking.mlflow_import import ensure_mlflow_imported

                ensure_mlflow_imported()
                return handler(*args, **kwargs)

            return mark(imported_first)  # type: ignore[return-value]

        return decorator

    def after_start(
        self, task: Callable[[WorkbenchServer, list[Path]], None], trust: Trust
    ) -> None:
        """Run `task(server, folders)` once after `initialized`, in a background thread, with
        the workspace folders that have a tracking store (none: the task does not run).

        `trust` is the task's class, as for requests: in Restricted Mode a task that writes
        does not run at all, and a read runs kept off the network.

        Tasks run one after another in the order added (stale runs are reconciled before the
        run cache is warmed), after the holds (`hold_start_tasks`) and MLflow's import:
        start-up itself imports nothing heavy, and a workspace without runs never pays for
        MLflow.
        """
        self._start_tasks.append((trust, task))

    def hold_start_tasks(self, wait: Callable[[], None]) -> None:
        """Have the start-up thread call `wait()` first, before MLflow's import and the tasks.

        Why: MLflow's import holds the GIL for over a second and a store's load for several;
        a view asking right after `initialized` (the Runs view's first page, answered from the
        store's tables) would wait for them. `wait` must return on its own, soon.
        """
        self._start_holds.append(wait)

    def start_background_tasks(self) -> threading.Thread | None:
        """Start the `after_start` tasks (called on `initialized`); the thread, if any."""
        folders = [Path(p) for f in self.workspace.folders.values() if (p := to_fs_path(f.uri))]
        if not folders and self.workspace.root_path:
            folders = [Path(self.workspace.root_path)]
        if not folders or not (
            self.tracking_uri or any((f / "mlflow.db").exists() for f in folders)
        ):
            return None

        def run_tasks() -> None:
            from mlworkbench.tracking.mlflow_import import ensure_mlflow_imported
            from mlworkbench_server.request_path import Trust, trust_policy

            for wait in self._start_holds:
                wait()
            ensure_mlflow_imported()  # this thread races the first requests for MLflow
            for trust, task in self._start_tasks:
                if trust is not Trust.READ_LOCAL and not self.trusted:
                    continue  # Restricted Mode writes nothing, not even at start-up
                try:
                    with trust_policy(self, trust):
                        task(self, folders)
                except Exception as error:  # one failed warm-up must not stop the others
                    self.window_log_message(
                        types.LogMessageParams(
                            type=types.MessageType.Warning,
                            message=f"start-up task {getattr(task, '__name__', task)}: {error}",
                        )
                    )

        thread = threading.Thread(target=run_tasks, name="start-up-tasks", daemon=True)
        thread.start()
        return thread

    def on_runs_changed(self, listener: Callable[[str | None], None]) -> None:
        """Call `listener(run_id)` whenever this server changes a run (None: many or unknown).

        The run summary cache listens to keep itself fresh without re-reading the whole store.
        """
        self._runs_changed_listeners.append(listener)

    def runs_changed(self, run_id: str | None = None) -> None:
        """Tell listeners a run was started, logged to, ended or edited through this server."""
        for listener in list(self._runs_changed_listeners):
            listener(run_id)

    def refresh_code_lenses(self) -> None:
        """Ask the client to re-request lenses, where it supports that."""
        workspace = self.client_capabilities.workspace
        if workspace and workspace.code_lens and workspace.code_lens.refresh_support:
            self.workspace_code_lens_refresh(None)

    def apply_options(self, options: Any) -> None:
        """Read the extension's `initializationOptions` (trust, tracking URI)."""
        if not isinstance(options, dict):
            return
        self.trusted = options.get("trusted") is True
        uri = options.get("trackingUri")
        if isinstance(uri, str) and uri.strip():
            self.tracking_uri = uri.strip()


def create_server() -> WorkbenchServer:
    """Build a server with every feature registered; tests and `__main__` both use this."""
    server = WorkbenchServer()
    quiet_expected_errors()

    @server.feature(types.INITIALIZE)
    def initialize(ls: WorkbenchServer, params: types.InitializeParams) -> None:
        ls.apply_options(params.initialization_options)

    @server.feature(types.INITIALIZED)
    def initialized(ls: WorkbenchServer, params: types.InitializedParams) -> None:
        ls.start_background_tasks()

    script_lenses.register(server)
    script_requests.register(server)
    run_sessions.register(server)
    run_requests.register(server)
    explorer_requests.register(server)
    registry_requests.register(server)
    monitor_requests.register(server)
    reports_requests.register(server)
    deploy_requests.register(server)
    compute_requests.register(server)
    compute_target_requests.register(server)
    return server
