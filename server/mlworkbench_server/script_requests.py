"""Custom requests about scripts and the server itself (`mlworkbench/analyzeScript`, …)."""

from __future__ import annotations

import os
import platform
import sys
from typing import TYPE_CHECKING

from mlworkbench_server import __version__
from mlworkbench_server.protocol import REQUESTS
from mlworkbench_server.request_path import Trust, request

if TYPE_CHECKING:
    from mlworkbench_server.protocol import AnalyzeScriptParams, NoParams, ServerInfoResult
    from mlworkbench_server.server import WorkbenchServer


def register(server: WorkbenchServer) -> None:
    # Parsing with `ast` runs nothing: Restricted Mode keeps the lenses.
    @request(server, REQUESTS["ANALYZE_SCRIPT"], Trust.READ_LOCAL, thread=False)
    def analyze_script(ls: WorkbenchServer, params: AnalyzeScriptParams) -> dict[str, object]:
        """Analysis of an open document (its live text) or, failing that, the file on disk."""
        uri = params["uri"]
        document = ls.workspace.text_documents.get(uri)
        if document is not None:
            return ls.analyses.analysis_for(document).to_dict()
        from pathlib import Path

        from pygls.uris import to_fs_path

        from mlworkbench.analysis.script_analysis import analyze_file

        path = to_fs_path(uri)
        return analyze_file(Path(path or uri)).to_dict()

    @request(server, REQUESTS["SERVER_INFO"], Trust.READ_LOCAL, thread=False)
    def server_info(ls: WorkbenchServer, params: NoParams) -> ServerInfoResult:
        return {
            "version": __version__,
            "python": platform.python_version(),
            "executable": sys.executable,
            "pid": os.getpid(),
        }
