"""Caches script analyses per open document version.

VS Code asks for code lenses after every edit pause and again on scroll; re-parsing a
5,000-line script each time would waste the budget the benchmark holds us to.
"""

from __future__ import annotations

import threading

from pygls.workspace import TextDocument

from mlworkbench.analysis.script_analysis import ScriptAnalysis, analyze_source


class AnalysisCache:
    """Maps a document URI to the analysis of one version of its text."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int | None, ScriptAnalysis]] = {}
        self._lock = threading.Lock()

    def analysis_for(self, document: TextDocument) -> ScriptAnalysis:
        with self._lock:
            cached = self._entries.get(document.uri)
        if cached is not None and cached[0] == document.version and document.version is not None:
            return cached[1]
        analysis = analyze_source(document.source)
        with self._lock:
            self._entries[document.uri] = (document.version, analysis)
        return analysis

    def forget(self, uri: str) -> None:
        with self._lock:
            self._entries.pop(uri, None)
