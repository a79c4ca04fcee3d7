"""Side-by-side data for comparing runs: params, latest metrics and (downsampled) histories.

The Compare panel and `mlworkbench runs compare` both start here. A history longer than
`max_points` is cut down per bucket to its minimum and maximum (plus the first and last point),
which keeps the curve's shape, its spikes and its global extremes, where every-Nth sampling
would drop them. JSON has no NaN or Infinity, so the data is JSON-safe by construction: a NaN
value is None (in `CompareRun.metrics` and in a series' `values`: a gap in the chart) and +/-inf
is +/-1.7976931348623157e308, which is what MLflow's SQL stores keep for it anyway.
"""

from __future__ import annotations

import csv
import io
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlworkbench.errors import MlWorkbenchError, RunNotFoundError
from mlworkbench.tracking.gc_pause import collector_paused

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

MAX_RUNS = 200
MIN_POINTS = 8
_MISSING_CODES = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


class TooManyRunsError(MlWorkbenchError):
    """More runs than a comparison can show side by side."""

    code = "TOO_MANY_RUNS"

    def __init__(self, count: int) -> None:
        super().__init__(
            f"cannot compare {count} runs: at most {MAX_RUNS} at a time; select fewer runs "
            "or narrow the Runs view with a filter"
        )
        self.count = count

    @property
    def data(self) -> dict[str, object]:
        return {"count": self.count, "max": MAX_RUNS}


class NoRunsToCompareError(MlWorkbenchError):
    """A comparison was asked for without a run."""

    code = "NO_RUNS_TO_COMPARE"

    def __init__(self) -> None:
        super().__init__("no runs to compare: select at least one run (two or more to compare)")


@dataclass(frozen=True)
class CompareRun:
    run_id: str
    run_name: str
    experiment_name: str
    status: str
    start_time: int | None
    params: dict[str, str]
    metrics: dict[str, float | None]  # latest value; None: NaN


@dataclass(frozen=True)
class MetricSeries:
    run_id: str
    key: str
    steps: list[int]
    timestamps: list[int]
    values: list[float | None]  # None: NaN (a gap)
    total_points: int
    downsampled: bool


@dataclass(frozen=True)
class CompareData:
    runs: list[CompareRun]
    param_keys: list[str]
    changed_param_keys: list[str]  # a value differs between runs, or some run lacks the param
    metric_keys: list[str]
    series: list[MetricSeries]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def json_number(value: float) -> float | None:
    """`value` as JSON can carry it: NaN is None, +/-inf the largest finite double."""
    if math.isnan(value):
        return None
    if math.isinf(value):
        return math.copysign(sys.float_info.max, value)
    return value


def compare_runs(
    workspace: Path,
    run_ids: Sequence[str],
    *,
    tracking_uri: str | None = None,
    max_points: int = 2000,
    metric_keys: Sequence[str] | None = None,
    client: MlflowClient | None = None,
) -> CompareData:
    """Params, latest metrics and histories of `run_ids` (1 to MAX_RUNS, in the order given).

    `metric_keys` limits the histories read (default: every metric of the runs). `client`: one
    already open on a store that passed the pre-open checks (the server's run cache holds one);
    without it the store is checked and opened here, which on a large SQLite file costs its
    integrity check (0.6 s at 100,000 runs) on every comparison. Raises
    NoRunsToCompareError, TooManyRunsError, RunNotFoundError (for the first unknown id).
    """
    from mlworkbench.tracking.tracking_client import open_client

    wanted = list(dict.fromkeys(run_ids))
    if not wanted:
        raise NoRunsToCompareError()
    if len(wanted) > MAX_RUNS:
        raise TooManyRunsError(len(wanted))
    if max_points < MIN_POINTS:
        raise ValueError(f"max_points must be at least {MIN_POINTS}, got {max_points}")
    if client is None:
        client = open_client(workspace, tracking_uri)
    if client is None:
        raise RunNotFoundError(wanted[0])
    runs = [_get_run(client, run_id) for run_id in wanted]
    names: dict[str, str] = {}
    for run in runs:
        if run.info.experiment_id not in names:
            names[run.info.experiment_id] = client.get_experiment(run.info.experiment_id).name
    compared = [
        CompareRun(
            run_id=run.info.run_id,
            run_name=run.info.run_name or run.info.run_id[:8],
            experiment_name=names[run.info.experiment_id],
            status=run.info.status,
            start_time=run.info.start_time,
            params=dict(run.data.params),
            metrics={k: json_number(v) for k, v in run.data.metrics.items()},
        )
        for run in runs
    ]
    param_keys = sorted({k for run in compared for k in run.params})
    all_metrics = sorted({k for run in compared for k in run.metrics})
    chart_keys = set(all_metrics if metric_keys is None else metric_keys)
    wanted_series = [
        (run.run_id, key) for run in compared for key in sorted(run.metrics) if key in chart_keys
    ]
    with collector_paused():  # one ORM object per metric point (gc_pause.py)
        histories = bulk_histories(client, wanted_series)
        series = [
            _series(client, run_id, key, max_points, histories.get((run_id, key)))
            for run_id, key in wanted_series
        ]
    return CompareData(
        runs=compared,
        param_keys=param_keys,
        changed_param_keys=[
            key for key in param_keys if len({run.params.get(key) for run in compared}) > 1
        ],
        metric_keys=all_metrics,
        series=series,
    )


def _get_run(client: MlflowClient, run_id: str) -> Run:
    from mlflow.exceptions import MlflowException

    if not run_id.strip():
        raise RunNotFoundError(run_id)
    try:
        return client.get_run(run_id)
    except MlflowException as error:
        if error.error_code in _MISSING_CODES:
            raise RunNotFoundError(run_id) from error
        raise


# One point of a history: (step, timestamp, value), NaN as float("nan") as MLflow returns it.
Point = tuple[int, int, float]


def bulk_histories(
    client: MlflowClient, wanted: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[Point]]:
    """Every history in `wanted` ((run id, key) pairs) read with one query, where possible.

    Why: `get_metric_history` costs a query and an ORM object per point for each run and key;
    10 runs x 3 metrics x 1,000 steps took 1.0 s that way, one column query ~0.1 s. The query
    goes through MLflow's own SQL store, session and `SqlMetric` model (so its schema is the one
    this MLflow reads), in MLflow's order (timestamp, step, value) and with its NaN rule
    (`is_nan` rows read as NaN). Any other store (a tracking server), or any error here, gives
    an empty answer and the caller reads each history through `get_metric_history` instead.
    """
    if not wanted:
        return {}
    try:
        from mlflow.store.tracking.dbmodels.models import SqlMetric
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store = client._tracking_client.store
        if not isinstance(store, SqlAlchemyStore):
            return {}
        run_ids = sorted({run_id for run_id, _ in wanted})
        keys = sorted({key for _, key in wanted})
        found: dict[tuple[str, str], list[Point]] = {pair: [] for pair in wanted}
        with store.ManagedSessionMaker() as session:
            rows = (
                session.query(
                    SqlMetric.run_uuid,
                    SqlMetric.key,
                    SqlMetric.step,
                    SqlMetric.timestamp,
                    SqlMetric.value,
                    SqlMetric.is_nan,
                )
                .filter(SqlMetric.run_uuid.in_(run_ids), SqlMetric.key.in_(keys))
                .order_by(SqlMetric.timestamp, SqlMetric.step, SqlMetric.value)
                .all()
            )
        for run_id, key, step, timestamp, value, is_nan in rows:
            points = found.get((run_id, key))
            if points is not None:
                points.append((int(step), int(timestamp), math.nan if is_nan else float(value)))
        return found
    except Exception:  # any surprise: the per-history path is always right
        return {}


def _series(
    client: MlflowClient, run_id: str, key: str, max_points: int, points: list[Point] | None
) -> MetricSeries:
    if points is None:
        points = [(m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)]
    history = sorted(points, key=lambda p: (p[0], p[1]))  # stable: MLflow's order within ties
    values = [p[2] for p in history]
    kept = downsample(values, max_points)
    return MetricSeries(
        run_id=run_id,
        key=key,
        steps=[history[i][0] for i in kept],
        timestamps=[history[i][1] for i in kept],
        values=[json_number(values[i]) for i in kept],
        total_points=len(history),
        downsampled=len(kept) < len(history),
    )


def downsample(values: Sequence[float], max_points: int) -> list[int]:
    """Indices of at most `max_points` points that keep the shape of `values`.

    Every index when there are few enough; otherwise the first and the last point and, in each
    of (max_points - 2) // 2 equal buckets between them, the minimum and the maximum (a bucket
    of only NaN keeps one NaN, so the gap stays visible). The global extremes are always kept.
    """
    count = len(values)
    if count <= max_points:
        return list(range(count))
    buckets = (max_points - 2) // 2
    inner = count - 2
    kept = {0, count - 1}
    for bucket in range(buckets):
        low = 1 + bucket * inner // buckets
        high = 1 + (bucket + 1) * inner // buckets
        finite = [i for i in range(low, high) if not math.isnan(values[i])]
        if finite:
            kept.add(min(finite, key=values.__getitem__))
            kept.add(max(finite, key=values.__getitem__))
        elif high > low:
            kept.add(low)
    return sorted(kept)


def compare_table_csv(data: CompareData) -> str:
    """One row per run: id, name, experiment, status, then every param and latest metric.

    Floats are written with `repr` (exact round trip); a NaN metric is `nan`, a missing one empty.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["run_id", "run_name", "experiment", "status"]
        + [f"params.{k}" for k in data.param_keys]
        + [f"metrics.{k}" for k in data.metric_keys]
    )
    for run in data.runs:
        metrics = [
            "" if k not in run.metrics else _csv_number(run.metrics[k]) for k in data.metric_keys
        ]
        writer.writerow(
            [run.run_id, run.run_name, run.experiment_name, run.status]
            + [run.params.get(k, "") for k in data.param_keys]
            + metrics
        )
    return out.getvalue()


def _csv_number(value: float | None) -> str:
    return "nan" if value is None else repr(value)
