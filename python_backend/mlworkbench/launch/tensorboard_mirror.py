"""Mirror the scalars a script writes for TensorBoard into its MLflow run.

Scripts log with `torch.utils.tensorboard.SummaryWriter`, `tf.summary` or Keras's TensorBoard
callback; the launcher finds their event files under the workspace (where the script runs)
and reads them incrementally with TensorBoard's own loader, which tolerates a record the
writer has only half flushed. Files are attributed to the run by the host and pid that
TensorBoard puts in every event file name, so two runs in one workspace never take each
other's scalars, and files of earlier runs are ignored.
"""

from __future__ import annotations

import os
import re
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mlworkbench.launch.results import MetricPoint

EVENT_PREFIX = "events.out.tfevents."
# events.out.tfevents.<time>.<host>.<pid>.<n>[.v2 or a writer's suffix]; host may have dots.
_EVENT_NAME = re.compile(r"^events\.out\.tfevents\.\d+\.(?P<host>.+)\.(?P<pid>\d+)\.\d+(\..*)?$")
SKIP_DIRS = frozenset(
    {".git", ".venv", "venv", "env", "mlruns", "node_modules", "__pycache__", "site-packages"}
)
# Keras's TensorBoard callback writes the same tags (epoch_loss, …) into these two folders.
_SPLIT_DIRS = frozenset({"train", "validation"})
_INVALID_KEY_CHARS = re.compile(r"[^\w\-. /:]")


def event_file_owner(name: str) -> tuple[str, int] | None:
    match = _EVENT_NAME.match(name)
    return (match["host"], int(match["pid"])) if match else None


def metric_key(tag: str, event_file: Path) -> str:
    """The MLflow metric name for a TensorBoard tag: the tag itself (characters MLflow
    refuses become "_"), prefixed with train/ or validation/ for Keras's split folders."""
    key = _INVALID_KEY_CHARS.sub("_", tag)
    folder = event_file.parent.name
    return f"{folder}/{key}" if folder in _SPLIT_DIRS else key


def _event_file_loader() -> Any:
    """TensorBoard's EventFileLoader, kept off TensorFlow.

    tensorboard.compat imports TensorFlow when it can (seconds, and gigabytes of address
    space in the editor's server); the `notf` marker module is its documented switch to the
    pure-Python reader, which reads event files just as well.
    """
    if "tensorflow" not in sys.modules:
        sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("notf"))
    from tensorboard.backend.event_processing.event_file_loader import (  # type: ignore[import-untyped]
        EventFileLoader,
    )

    return EventFileLoader


def _scalar(value: Any) -> float | None:
    from tensorboard.util import tensor_util  # type: ignore[import-untyped]

    if value.metadata.plugin_data.plugin_name != "scalars" or not value.HasField("tensor"):
        return None
    array = tensor_util.make_ndarray(value.tensor)
    return float(array.item()) if array.size == 1 else None


class TensorBoardMirror:
    """Finds the run's event files and returns the scalar points not yet returned."""

    def __init__(
        self, root: Path, *, host: str, owner_pids: Callable[[], set[int]], since_s: float
    ) -> None:
        self.root = root
        self._host = host
        self._owner_pids = owner_pids
        self._since_s = since_s - 1.0  # file systems with coarse mtimes
        self._found: list[Path] = []
        self._loaders: dict[Path, Any] = {}
        self._skipped: set[Path] = set()
        self.available = True  # False once tensorboard turned out not to be installed
        self.error: str | None = None

    @property
    def files(self) -> list[Path]:
        return sorted(self._found)

    def logdir(self) -> Path | None:
        """The folder holding all the run's event files (what `tensorboard --logdir` wants)."""
        if not self._found:
            return None
        return Path(os.path.commonpath([str(path.parent) for path in self._found]))

    def _candidates(self) -> Iterator[Path]:
        for folder, dirs, names in os.walk(self.root):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
            for name in names:
                if name.startswith(EVENT_PREFIX):
                    yield Path(folder) / name

    def _discover(self) -> None:
        pids: set[int] | None = None
        for path in self._candidates():
            if path in self._found or path in self._skipped:
                continue
            owner = event_file_owner(path.name)
            try:
                recent = path.stat().st_mtime >= self._since_s
            except OSError:
                continue
            if pids is None:
                pids = self._owner_pids()
            if owner is None or owner[0] != self._host or owner[1] not in pids or not recent:
                self._skipped.add(path)
                continue
            self._found.append(path)

    def poll(self) -> list[MetricPoint]:
        """New scalar points from new and growing event files (none without tensorboard, but
        the files are still found, to be kept as artifacts)."""
        self._discover()
        if not self.available:
            return []
        try:
            for path in self._found:
                if path not in self._loaders:
                    self._loaders[path] = _event_file_loader()(str(path))
        except ImportError as error:
            self.available = False
            self.error = f"tensorboard is not installed ({error}); scalars were not mirrored"
            return []
        points: list[MetricPoint] = []
        for path, loader in self._loaders.items():
            for event in loader.Load():
                if not event.HasField("summary"):
                    continue
                for value in event.summary.value:
                    number = _scalar(value)
                    if number is not None:
                        points.append(
                            MetricPoint(
                                metric_key(value.tag, path),
                                number,
                                int(event.step),
                                int(event.wall_time * 1000),
                            )
                        )
        return points
