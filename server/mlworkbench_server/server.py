"""The LanguageServer subclass and the wiring of its features, one module per feature."""

from __future__ import annotations

from pygls.lsp.server import LanguageServer

from mlworkbench_server import __version__, script_lenses, script_requests
from mlworkbench_server.analysis_cache import AnalysisCache


class WorkbenchServer(LanguageServer):
    """pygls server that also holds the per-document analysis cache shared by features."""

    def __init__(self) -> None:
        super().__init__("mlworkbench-server", __version__)
        self.analyses = AnalysisCache()


def create_server() -> WorkbenchServer:
    """Build a server with every feature registered; tests and `__main__` both use this."""
    server = WorkbenchServer()
    script_lenses.register(server)
    script_requests.register(server)
    return server
