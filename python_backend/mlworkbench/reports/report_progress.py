"""Progress of a report, for whoever started it: the editor (JSON lines) or a person (text).

The server runs reports as `mlworkbench report … --progress json` in a child process and turns
each line on stderr into an LSP notification; a person at a terminal sees `… loading the model`
lines instead. Reports are minutes at most, so a step name is enough: no percentages invented.
"""

from __future__ import annotations

import json
import os
import sys

PROGRESS_ENV = "MLWORKBENCH_PROGRESS"  # "json" (the server sets it), "text" or "off"
PREFIX = "mlworkbench-progress: "


def step(message: str) -> None:
    """Announce the step about to start ("Loading the model")."""
    mode = os.environ.get(PROGRESS_ENV, "text")
    if mode == "json":
        sys.stderr.write(PREFIX + json.dumps({"message": message}) + "\n")
    elif mode == "text":
        sys.stderr.write(f"… {message[:1].lower()}{message[1:]}\n")
    else:
        return
    sys.stderr.flush()


def parse(line: str) -> str | None:
    """The step announced by one stderr line of a child in JSON mode, else None."""
    if not line.startswith(PREFIX):
        return None
    try:
        message = json.loads(line[len(PREFIX) :]).get("message")
    except (ValueError, AttributeError):
        return None
    return message if isinstance(message, str) else None
