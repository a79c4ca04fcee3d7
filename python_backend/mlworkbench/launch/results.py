"""The plain data a run hands back: its outcome and its metric points (JSON-able)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class MetricPoint:
    """One value of one metric, as the live chart plots it."""

    key: str
    value: float
    step: int
    timestamp_ms: int


@dataclass(frozen=True)
class RunResult:
    """How a run ended, as recorded in (and read back from) the tracking store.

    `exit_code` follows the shell: 128 + N when the script died of signal N, 130 for Ctrl+C.
    `error_tail` is the last lines of output for runs that did not finish, else None.
    """

    run_id: str
    experiment_id: str
    status: str  # FINISHED | FAILED | KILLED
    exit_code: int
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    error_tail: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
