"""The one definition of every name the extension and the server share.

`scripts/gen_protocol.py` writes `extension/src/protocol.ts` from this module, and
`tests/server/test_protocol_sync.py` fails when the two (or package.json) drift apart, so a
name is never typed by hand on both sides.
"""

from __future__ import annotations

from typing import Final

# --- VS Code commands (contributed in package.json, implemented by the extension) ---------
COMMANDS: Final[dict[str, str]] = {
    "RESTART_SERVER": "mlWorkbench.restartServer",
    "SETUP_ENVIRONMENT": "mlWorkbench.setupEnvironment",
    "SHOW_LOG": "mlWorkbench.showLog",
    "RUN_SCRIPT": "mlWorkbench.runScript",
    "SHOW_SCRIPT_INFO": "mlWorkbench.showScriptInfo",
    "OPEN_TRAINING_SCRIPT": "mlWorkbench.openTrainingScript",
    "REFRESH_RUNS": "mlWorkbench.refreshRuns",
}

# --- custom LSP requests (client -> server) ------------------------------------------------
REQUESTS: Final[dict[str, str]] = {
    "ANALYZE_SCRIPT": "mlworkbench/analyzeScript",
    "SERVER_INFO": "mlworkbench/serverInfo",
}

# --- custom LSP notifications (server -> client) ------------------------------------------
NOTIFICATIONS: Final[dict[str, str]] = {}

# --- structured error codes the server puts in LSP ResponseError.code ----------------------
# JSON-RPC reserves -32768..-32000; application codes live outside that range.
ERROR_CODES: Final[dict[str, int]] = {
    "SCRIPT_NOT_FOUND": 1001,
    "SCRIPT_NOT_DECODABLE": 1002,
    "SCRIPT_SYNTAX_ERROR": 1003,
    "SCRIPT_NOT_READABLE": 1004,
    "UNKNOWN_EXTRA": 1005,
}

# --- views and context keys ---------------------------------------------------------------
VIEWS: Final[dict[str, str]] = {
    "CONTAINER": "mlWorkbench",
    "RUNS": "mlWorkbench.runs",
}

# Exit code of `mlworkbench_server --check` when the interpreter is too old.
EXIT_CODES: Final[dict[str, int]] = {
    "PYTHON_TOO_OLD": 3,
    "MISSING_DEPENDENCY": 4,
}

MIN_PYTHON: Final[tuple[int, int]] = (3, 10)
