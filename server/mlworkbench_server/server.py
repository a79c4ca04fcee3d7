"""The LanguageServer subclass and the wiring of its features, one module per feature."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from mlworkbench_server import (
    __version__,
    explorer_requests,
    monitor_requests,
    registry_requests,
    run_requests,
    run_sessions,
    script_lenses,
    script_requests,
)
from mlworkbench_server.analysis_cache import AnalysisCache
from mlworkbench_server.script_runs import ScriptRunIndex

F = TypeVar("F", bound=Callable[..., Any])


class WorkbenchServer(LanguageServer):
    """pygls server holding what features share: analyses, runs, and the client's settings."""

    def __init__(self) -> None:
        super().__init__("mlworkbench-server", __version__)
        self.analyses = AnalysisCache()
        self.runs = run_sessions.RunSessions(self)
        self.script_runs = ScriptRunIndex()
        # Until the client says otherwise, assume the safe case: nothing may run.
        self.trusted = False
        self.tracking_uri: str | None = os.environ.get("MLFLOW_TRACKING_URI") or None
        self._runs_changed_listeners: list[Callable[[str | None], None]] = []

    def thread(self) -> Callable[[F], F]:
        """pygls's `thread()`, but the worker first imports MLflow whole, under a lock.

        Handlers that run in threads are the ones that touch MLflow; concurrent first imports
        of its parts can deadlock (see `mlworkbench.mlflow_import`).
        """
        mark = super().thread()

        def decorator(handler: F) -> F:
            @functools.wraps(handler)
            def imported_first(*args: Any, **kwargs: Any) -> Any:
                from mlworkbench.mlflow_import import ensure_mlflow_imported

                ensure_mlflow_imported()
                return handler(*args, **kwargs)

            return mark(imported_first)  # type: ignore[return-value]

        return decorator

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

    @server.feature(types.INITIALIZE)
    def initialize(ls: WorkbenchServer, params: types.InitializeParams) -> None:
        ls.apply_options(params.initialization_options)

    @server.feature(types.INITIALIZED)
    def initialized(ls: WorkbenchServer, params: types.InitializedParams) -> None:
        run_sessions.reconcile_in_background(ls)

    script_lenses.register(server)
    script_requests.register(server)
    run_sessions.register(server)
    run_requests.register(server)
    explorer_requests.register(server)
    registry_requests.register(server)
    monitor_requests.register(server)
    return server
