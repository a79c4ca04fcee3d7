"""Envelopes of the monitoring requests (monitor_requests): the MLflow UI and TensorBoard.

Part of the protocol (`protocol.py` lists them in ENVELOPES, `scripts/gen_protocol.py` turns
them into TypeScript).
"""

from __future__ import annotations

from typing import Final, TypedDict


class _OpenMonitorOptions(TypedDict, total=False):
    runId: str  # required for kind "tensorboard"
    port: int  # the MLflow UI's port, chosen by the editor (default: a free one)
    allowedHosts: list[str]  # host[:port] names the browser uses besides 127.0.0.1


class OpenMonitorParams(_OpenMonitorOptions):
    workspaceUri: str
    kind: str  # "mlflow" or "tensorboard"


class OpenMonitorResult(TypedDict):
    kind: str
    url: str
    reused: bool


class StopMonitorsResult(TypedDict):
    stopped: int


MONITOR_ENVELOPES: Final[list[type]] = [
    OpenMonitorParams,
    OpenMonitorResult,
    StopMonitorsResult,
]
