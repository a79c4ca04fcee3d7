"""Typed errors of the monitoring servers (MLflow UI, TensorBoard): nothing to show, or a server
that did not come up. The server maps their `code` like every `MlWorkbenchError`.
"""

from __future__ import annotations

from mlworkbench.errors import MlWorkbenchError


class NoEventFilesError(MlWorkbenchError):
    """TensorBoard was asked for a run that kept no TensorBoard event files."""

    code = "NO_EVENT_FILES"

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"run {run_id} has no TensorBoard event files; write them with "
            "torch.utils.tensorboard.SummaryWriter, tf.summary or Keras's TensorBoard callback "
            "and run the script from ML Workbench so they are kept with the run"
        )
        self.run_id = run_id

    @property
    def data(self) -> dict[str, object]:
        return {"runId": self.run_id}


class MonitorStartError(MlWorkbenchError):
    """The MLflow UI or TensorBoard server did not come up (or cannot be started here)."""

    code = "MONITOR_START_FAILED"

    def __init__(self, kind: str, reason: str, output: str = "") -> None:
        detail = f"\n{output.rstrip()}" if output.strip() else ""
        super().__init__(f"cannot start {kind}: {reason}{detail}")
        self.kind = kind
        self.reason = reason
        self.output = output

    @property
    def data(self) -> dict[str, object]:
        return {"kind": self.kind, "reason": self.reason, "output": self.output}
