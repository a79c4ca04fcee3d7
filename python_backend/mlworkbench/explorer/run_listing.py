"""The workspace's runs as plain summaries, read through MLflow's client.

The Runs view and `mlworkbench runs list` both start here. MLflow is imported inside the
function: listing is the first thing that needs it, never start-up.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

TAG_PREFIX = "mlworkbench."
SCRIPT_TAG = TAG_PREFIX + "script"
RUN_NAME_TAG = "mlflow.runName"  # MLflow names a run by this tag where its name is empty
# Metrics people usually mean by "how did it do", in the order we look for them.
_PREFERRED = ("accuracy", "f1", "auc", "r2", "loss", "rmse", "mae")


def primary_metric(metrics: dict[str, float]) -> str | None:
    """The metric a one-line summary of a run shows (the tree, the `N runs` lens)."""
    keys = sorted(metrics)
    for wanted in _PREFERRED:
        for key in keys:
            if wanted in key.lower():
                return key
    return keys[0] if keys else None


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    experiment_id: str
    experiment_name: str
    run_name: str
    status: str
    start_time: int | None
    end_time: int | None
    script: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    exit_code: int | None = None
    error_tail: str | None = None
    primary_metric: str | None = None

    def to_dict(self) -> dict[str, object]:
        """`asdict`'s answer without its deep copy (a page of 1,000 runs is 13,000 values)."""
        return {**vars(self), "metrics": dict(self.metrics), "params": dict(self.params)}


def summary_of(
    *,
    run_id: str,
    experiment_id: str,
    experiment_name: str,
    run_name: str | None,
    status: str,
    start_time: int | None,
    end_time: int | None,
    metrics: dict[str, float],
    params: dict[str, str],
    tags: Mapping[str, str | None],
) -> RunSummary:
    """What a page shows of a run, however it was read (the cache, a store's tables, MLflow's
    search): named as MLflow names it (the name, else its `mlflow.runName` tag, else the
    id's start), metrics JSON can carry, the workbench's own tags. `tags` needs only those."""
    safe = json_safe_metrics(metrics)
    return RunSummary(
        run_id=run_id,
        experiment_id=experiment_id,
        experiment_name=experiment_name,
        run_name=run_name or tags.get(RUN_NAME_TAG) or run_id[:8],
        status=status,
        start_time=start_time,
        end_time=end_time,
        script=tags.get(SCRIPT_TAG),
        metrics=safe,
        params=dict(params),
        exit_code=int_or_none(tags.get(TAG_PREFIX + "exit_code")),
        error_tail=tags.get(TAG_PREFIX + "error_tail"),
        primary_metric=primary_metric(safe),
    )


def json_safe_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """Metrics JSON can carry: NaN left out, +/-inf as +/-max double (what MLflow's SQL stores
    keep for them). The editor's JSON parser rejects NaN and Infinity tokens outright."""
    return {
        key: math.copysign(sys.float_info.max, value) if math.isinf(value) else value
        for key, value in metrics.items()
        if not math.isnan(value)
    }


def int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def list_runs(
    workspace: Path,
    *,
    tracking_uri: str | None = None,
    max_results: int = 200,
    filter: str | None = None,
    order_by: str | None = None,
    experiment: str | None = None,
) -> list[RunSummary]:
    """Newest first (or by `order_by`), across the store's active experiments or `experiment`.

    `filter` is the language of `mlworkbench.explorer.run_filter` (MLflow's syntax plus `or`,
    `in` and ranges); it and `order_by` are checked before the store is opened.
    """
    from mlflow.entities import ViewType

    from mlworkbench.errors import UnknownExperimentError
    from mlworkbench.explorer.run_filter import (
        parse_order_by,
        search_runs_filtered,
        to_mlflow_filters,
    )
    from mlworkbench.tracking.tracking_client import open_client

    to_mlflow_filters(filter)  # an invalid filter is reported even without a store
    order = [order_by] if order_by else ["attributes.start_time DESC"]
    parse_order_by(order[0])
    # Listing never creates a store, and never lets MLflow migrate or touch a bad one.
    client = open_client(workspace, tracking_uri)
    if client is None:
        return []
    experiments = {
        e.experiment_id: e.name for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
    }
    experiment_ids = list(experiments)
    if experiment is not None:
        matching = [i for i, name in experiments.items() if name == experiment]
        if not matching:
            raise UnknownExperimentError(experiment, sorted(experiments.values()))
        experiment_ids = matching
    if not experiment_ids:
        return []
    runs = search_runs_filtered(client, experiment_ids, filter, order, max_results)
    return [
        summary_of(
            run_id=run.info.run_id,
            experiment_id=run.info.experiment_id,
            experiment_name=experiments.get(run.info.experiment_id, run.info.experiment_id),
            run_name=run.info.run_name,
            status=run.info.status,
            start_time=run.info.start_time,
            end_time=run.info.end_time,
            metrics=run.data.metrics,
            params=run.data.params,
            tags=run.data.tags,
        )
        for run in runs
    ]
