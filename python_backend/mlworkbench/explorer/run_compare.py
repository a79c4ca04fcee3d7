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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
        """`asdict`'s answer without its deep copy of every point (0.1-0.2 s for 30,000):
        the lists are shared with this object, which nothing changes after it is made."""
        return {
            "runs": [
                {**vars(run), "params": dict(run.params), "metrics": dict(run.metrics)}
                for run in self.runs
            ],
            "param_keys": list(self.param_keys),
            "changed_param_keys": list(self.changed_param_keys),
            "metric_keys": list(self.metric_keys),
            "series": [vars(series).copy() for series in self.series],
        }


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
    client_factory: Callable[[], MlflowClient] | None = None,
) -> CompareData:
    """Params, latest metrics and histories of `run_ids` (1 to MAX_RUNS, in the order given).

    `metric_keys` limits the histories read (default: every metric of the runs). `client`: one
    already open on a store that passed the pre-open checks (the server's run cache holds one);
    without it the store is checked and opened here, which on a large SQLite file costs its
    integrity check (0.6 s at 100,000 runs) on every comparison; `client_factory` makes one
    only when needed (a SQLite store of a known schema is compared from its tables). Raises
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
    quick = _from_tables(workspace, tracking_uri, wanted, max_points, metric_keys)
    if quick is not None:
        return quick
    from mlworkbench.tracking.mlflow_import import ensure_mlflow_imported

    ensure_mlflow_imported()  # whole, before any part of it (mlflow_import.py)
    if client is None and client_factory is not None:
        client = client_factory()
    if client is None:
        client = open_client(workspace, tracking_uri)
    if client is None:
        raise RunNotFoundError(wanted[0])
    runs = _get_runs(client, wanted)
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
    wanted_series = _wanted_series(compared, metric_keys)
    with collector_paused():  # one ORM object per metric point (gc_pause.py)
        histories = bulk_histories(client, wanted_series, max_points=max_points)
        series = [
            _series(client, run_id, key, max_points, histories.get((run_id, key)))
            for run_id, key in wanted_series
        ]
    return _compare_data(compared, series)


def _from_tables(
    workspace: Path,
    tracking_uri: str | None,
    wanted: list[str],
    max_points: int,
    metric_keys: Sequence[str] | None,
) -> CompareData | None:
    """The comparison read straight from a SQLite or PostgreSQL store's tables
    (store_tables.read_compared, pg_tables.read_compared; a tracking server the workbench
    started reads its own, compared_route.py), or None: another store, a schema or
    a value it does not read exactly, an unknown run (MLflow's path then raises its error), a
    database it may not reach (Restricted Mode), any error.

    Why: through MLflow's client, 10 runs x 3 metrics x 1,000 steps cost 10 `get_run` (ORM
    objects for every tag and param) and an ORM read of 30,000 points, 0.3-0.5 s; the tables
    answer in under 0.1 s, without MLflow.
    """
    from mlworkbench.explorer import compared_route, pg_tables, store_tables
    from mlworkbench.explorer.remote_page import is_remote
    from mlworkbench.launch.child.store_open import sqlite_path
    from mlworkbench.tracking.network_access import require_local
    from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

    if any(not run_id.strip() for run_id in wanted):
        return None
    uri = resolve_tracking_uri(workspace, tracking_uri)
    db = sqlite_path(uri)
    keys = None if metric_keys is None else list(metric_keys)
    try:
        if db is not None:
            read = store_tables.read_compared(db, wanted, keys) if db.is_file() else None
        elif pg_tables.is_postgres(uri):
            require_local(uri, "the tracking store")  # Restricted Mode: the MLflow path refuses
            read = pg_tables.read_compared(uri, wanted, keys)
        elif is_remote(uri):  # the workspace's own server reads its tables (compared_route.py)
            read = compared_route.ask(uri, wanted, keys)
        else:
            return None
    except Exception:  # Unsupported, a database error, a value it does not read: MLflow's path
        return None
    if read is None:
        return None
    runs, names, histories = read
    compared = [
        CompareRun(
            run_id=run.run_id,
            run_name=run.run_name or run.run_id[:8],
            experiment_name=names[run.experiment_id],
            status=run.status,
            start_time=run.start_time,
            params=dict(run.params),
            metrics={k: json_number(v) for k, v in run.metrics.items()},
        )
        for run in runs
    ]
    series = [
        _series_of(run_id, key, max_points, histories.get((run_id, key), []))
        for run_id, key in _wanted_series(compared, metric_keys)
    ]
    return _compare_data(compared, series)


def _wanted_series(
    compared: list[CompareRun], metric_keys: Sequence[str] | None
) -> list[tuple[str, str]]:
    all_metrics = sorted({k for run in compared for k in run.metrics})
    chart_keys = set(all_metrics if metric_keys is None else metric_keys)
    return [
        (run.run_id, key) for run in compared for key in sorted(run.metrics) if key in chart_keys
    ]


def _compare_data(compared: list[CompareRun], series: list[MetricSeries]) -> CompareData:
    param_keys = sorted({k for run in compared for k in run.params})
    return CompareData(
        runs=compared,
        param_keys=param_keys,
        changed_param_keys=[
            key for key in param_keys if len({run.params.get(key) for run in compared}) > 1
        ],
        metric_keys=sorted({k for run in compared for k in run.metrics}),
        series=series,
    )


def _get_runs(client: MlflowClient, run_ids: list[str]) -> list[Run]:
    """`get_run` of each id, in order; over REST several at once (each is a round trip, and a
    tracking server answers a few in parallel), raising the first error in `run_ids`' order."""
    if not _is_rest(client) or len(run_ids) < 2:
        return [_get_run(client, run_id) for run_id in run_ids]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=_REST_PARALLEL) as pool:
        futures = [pool.submit(_get_run, client, run_id) for run_id in run_ids]
        return [future.result() for future in futures]


def _is_rest(client: MlflowClient) -> bool:
    try:
        from mlflow.store.tracking.rest_store import RestStore

        return isinstance(client._tracking_client.store, RestStore)
    except Exception:
        return False


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
    client: MlflowClient, wanted: Sequence[tuple[str, str]], *, max_points: int | None = None
) -> dict[tuple[str, str], list[Point]]:
    """Every history in `wanted` ((run id, key) pairs) read with one query, where possible.

    Why: `get_metric_history` costs a query and an ORM object per point for each run and key;
    10 runs x 3 metrics x 1,000 steps took 1.0 s that way, one column query ~0.1 s. The query
    goes through MLflow's own SQL store, session and `SqlMetric` model (so its schema is the one
    this MLflow reads), in MLflow's order (timestamp, step, value) and with its NaN rule
    (`is_nan` rows read as NaN). Any other store (a tracking server), or any error here, gives
    an empty answer and the caller reads each history through `get_metric_history` instead.
    `max_points`: the comparison's, which lets a tracking server answer through its lighter
    route (see `rest_histories`).
    """
    if not wanted:
        return {}
    if _is_rest(client):
        return rest_histories(client, wanted, max_points=max_points)
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


_REST_PARALLEL = 4  # REST calls a comparison has in flight at once
_BULK_ENDPOINT = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"  # what MLflow's own UI reads
_INTERVAL_ENDPOINT = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
_BULK_MAX_RUNS = 100  # run ids per bulk request (the server's limit)
_BULK_MAX_POINTS = 25_000  # points the server returns at most per request (all runs together)
_INTERVAL_MAX_POINTS = 2_500  # points per run the interval route returns at most


def rest_histories(
    client: MlflowClient, wanted: Sequence[tuple[str, str]], *, max_points: int | None = None
) -> dict[tuple[str, str], list[Point]]:
    """The histories in `wanted` from a tracking server: one request per metric key (for up to
    100 runs), several at once, instead of a `get_metric_history` per run and key.

    Why: through `get_metric_history`, 10 runs x 3 metrics x 1,000 steps took 4.7-6.3 s from
    a server on PostgreSQL (30 round trips, each answer parsed through protobuf); the bulk route
    is the one MLflow's UI charts with. With `max_points` (under 2,500) the interval route goes
    first: the server reads its rows without an ORM object per point (10,000 points: 0.6 s
    instead of 0.8 s), and a history of at most `max_points` points comes back whole, as every
    point is then its own sample; a longer one (the route would sample it its own way) is read
    through the bulk route. Same points, in the server's (MLflow's) order per run. A bulk answer
    the server may have cut (25,000 points in all) is asked again for fewer runs; a single
    history that long, or any error: left out, and the caller reads it through
    `get_metric_history`.
    """
    from concurrent.futures import ThreadPoolExecutor

    by_key: dict[str, list[str]] = {}
    for run_id, key in wanted:
        by_key.setdefault(key, []).append(run_id)
    requests = [
        (key, run_ids[start : start + _BULK_MAX_RUNS])
        for key, run_ids in by_key.items()
        for start in range(0, len(run_ids), _BULK_MAX_RUNS)
    ]
    interval = max_points is not None and max_points < _INTERVAL_MAX_POINTS

    def read(key: str, run_ids: list[str]) -> dict[tuple[str, str], list[Point]]:
        found = _interval_histories(client, key, run_ids, max_points) if interval else {}
        rest = [run_id for run_id in run_ids if (run_id, key) not in found]
        return {**found, **_bulk_histories(client, key, rest)} if rest else found

    found: dict[tuple[str, str], list[Point]] = {}
    with ThreadPoolExecutor(max_workers=_REST_PARALLEL) as pool:
        for answer in pool.map(lambda request: read(*request), requests):
            found.update(answer)
    return {pair: points for pair, points in found.items() if pair in set(wanted)}


def _interval_histories(
    client: MlflowClient, key: str, run_ids: list[str], max_points: int | None
) -> dict[tuple[str, str], list[Point]]:
    """`key`'s histories of `run_ids` that the interval route returns whole: asked for one
    point more than `max_points`, a history that comes back with more than `max_points` may
    have been sampled and is left out (as is everything on any surprise)."""
    assert max_points is not None
    points = _history_request(
        client,
        _INTERVAL_ENDPOINT,
        {"run_ids": run_ids, "metric_key": key, "max_results": max_points + 1},
        key,
        run_ids,
    )
    if points is None:
        return {}
    return {pair: found for pair, found in points.items() if len(found) <= max_points}


def _bulk_histories(
    client: MlflowClient, key: str, run_ids: list[str]
) -> dict[tuple[str, str], list[Point]]:
    """`key`'s histories of `run_ids`; the server cuts an answer at _BULK_MAX_POINTS points in
    all, so a full answer is asked again for each half of the runs (one run's: left out)."""
    found = _bulk_request(client, key, run_ids)
    if found is None:
        return {}
    if sum(len(points) for points in found.values()) < _BULK_MAX_POINTS:
        return found
    if len(run_ids) == 1:
        return {}
    half = len(run_ids) // 2
    return {
        **_bulk_histories(client, key, run_ids[:half]),
        **_bulk_histories(client, key, run_ids[half:]),
    }


def _bulk_request(
    client: MlflowClient, key: str, run_ids: list[str]
) -> dict[tuple[str, str], list[Point]] | None:
    params = {"run_id": run_ids, "metric_key": key, "max_results": _BULK_MAX_POINTS}
    return _history_request(client, _BULK_ENDPOINT, params, key, run_ids)


def _history_request(
    client: MlflowClient,
    endpoint: str,
    params: dict[str, object],
    key: str,
    run_ids: list[str],
) -> dict[tuple[str, str], list[Point]] | None:
    """One history route's answer by (run id, key), or None on any surprise. Both routes
    answer JSON points with `run_id`, `key`, `step`, `timestamp` and `value` (NaN and the
    infinities as MLflow writes them, which `float` reads; a field at its default may be left
    out by the interval route's protobuf JSON)."""
    try:
        from mlflow.utils.rest_utils import http_request

        store = client._tracking_client.store
        response = http_request(  # type: ignore[no-untyped-call]
            store.get_host_creds(), endpoint, "GET", params=params
        )
        if response.status_code != 200:
            return None
        found: dict[tuple[str, str], list[Point]] = {(run_id, key): [] for run_id in run_ids}
        for metric in response.json().get("metrics", []):
            points = found.get((metric["run_id"], metric.get("key", "")))
            if points is None:
                return None  # not what was asked for: trust none of it
            points.append(
                (
                    int(metric.get("step", 0)),
                    int(metric.get("timestamp", 0)),
                    float(metric.get("value", 0.0)),
                )
            )
        return found
    except Exception:  # any surprise: the per-history path is always right
        return None


def _series(
    client: MlflowClient, run_id: str, key: str, max_points: int, points: list[Point] | None
) -> MetricSeries:
    if points is None:
        points = [(m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)]
    history = sorted(points, key=lambda p: (p[0], p[1]))  # stable: MLflow's order within ties
    return _series_of(run_id, key, max_points, history)


def _series_of(run_id: str, key: str, max_points: int, history: list[Point]) -> MetricSeries:
    """The series of `history` (already in step, timestamp order), downsampled."""
    values = [p[2] for p in history]
    kept = downsample(values, max_points)
    if len(kept) < len(history):
        history = [history[i] for i in kept]
    steps = [p[0] for p in history]
    stamps = [p[1] for p in history]
    return MetricSeries(
        run_id=run_id,
        key=key,
        steps=steps,
        timestamps=stamps,
        # x - x is 0.0 only for a finite x: the rest (NaN, +/-inf) goes through json_number
        values=[v if (v := p[2]) - v == 0.0 else json_number(v) for p in history],
        total_points=len(values),
        downsampled=len(kept) < len(values),
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
