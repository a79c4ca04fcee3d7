"""Per-script run counts for the `N runs · last: …` lens, kept from what the Runs view lists.

The server never queries MLflow just to draw a lens: it remembers the summaries the explorer
already fetched, and asks the client to refresh lenses when they change.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from mlworkbench.explorer.run_listing import RunSummary


@dataclass(frozen=True)
class ScriptRuns:
    count: int
    last_status: str
    last_metric: tuple[str, float] | None


def _last_metric(run: RunSummary) -> tuple[str, float] | None:
    key = run.primary_metric
    return (key, run.metrics[key]) if key is not None and key in run.metrics else None


class ScriptRunIndex:
    def __init__(self) -> None:
        self._by_script: dict[str, ScriptRuns] = {}
        self._lock = threading.Lock()

    def update(self, runs: Iterable[RunSummary]) -> bool:
        """Replace the index from newest-first summaries; True when anything changed."""
        index: dict[str, ScriptRuns] = {}
        for run in runs:
            if not run.script:
                continue
            key = os.path.realpath(run.script)
            seen = index.get(key)
            if seen is None:
                index[key] = ScriptRuns(1, run.status, _last_metric(run))
            else:
                index[key] = ScriptRuns(seen.count + 1, seen.last_status, seen.last_metric)
        with self._lock:
            changed = index != self._by_script
            self._by_script = index
        return changed

    def for_path(self, path: str) -> ScriptRuns | None:
        with self._lock:
            return self._by_script.get(os.path.realpath(path))


def lens_title(runs: ScriptRuns) -> str:
    noun = "run" if runs.count == 1 else "runs"
    if runs.last_metric is None:
        return f"{runs.count} {noun} · last: {runs.last_status.lower()}"
    key, value = runs.last_metric
    return f"{runs.count} {noun} · last: {key} {value:.4g}"
