"""Comparison data from a real store: params, exact latest metrics, histories, JSON, CSV."""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mlworkbench.errors import RunNotFoundError
from mlworkbench.explorer.run_compare import (
    MAX_RUNS,
    NoRunsToCompareError,
    TooManyRunsError,
    compare_runs,
    compare_table_csv,
    downsample,
)

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


@dataclass
class Store:
    workspace: Path
    client: MlflowClient
    ids: list[str]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("exp", artifact_location=(tmp_path / "mlruns").as_uri())
    ids = []
    for i, (lr, depth) in enumerate([("0.1", "3"), ("0.1", "5"), ("0.01", None)]):
        run_id = client.create_run(experiment, run_name=f"run-{i}", start_time=1000 + i).info.run_id
        params = [Param("lr", lr), Param("seed", "7")] + ([Param("depth", depth)] if depth else [])
        points = [Metric("loss", 1.0 / (s + 1 + i), 1_000 + s, s) for s in range(50)]
        points.append(Metric("acc", 0.123456789012345678 + i, 5, 0))
        client.log_batch(run_id, metrics=points, params=params)
        ids.append(run_id)
    client.log_metric(ids[2], "odd", math.nan, step=0)
    client.log_metric(ids[2], "odd", math.inf, step=1)
    client.log_metric(ids[1], "odd", -math.inf, step=0)
    return Store(tmp_path, client, ids)


def test_params_changed_keys_and_exact_latest_metrics(store: Store) -> None:
    data = compare_runs(store.workspace, store.ids)
    assert [r.run_name for r in data.runs] == ["run-0", "run-1", "run-2"]
    assert data.runs[0].experiment_name == "exp"
    assert data.param_keys == ["depth", "lr", "seed"]
    assert data.changed_param_keys == ["depth", "lr"]  # run-2 lacks depth; seed is the same
    assert data.metric_keys == ["acc", "loss", "odd"]
    assert data.runs[1].metrics["acc"] == 1.1234567890123457  # exactly what was logged
    assert data.runs[0].metrics["loss"] == 1.0 / 50


def test_nan_and_inf_survive_json(store: Store) -> None:
    data = compare_runs(store.workspace, store.ids)
    text = json.dumps(data.to_dict(), allow_nan=False)
    assert json.loads(text) == data.to_dict()
    (odd2,) = [s for s in data.series if s.run_id == store.ids[2] and s.key == "odd"]
    assert odd2.values == [None, sys.float_info.max] and odd2.steps == [0, 1]
    assert data.runs[2].metrics["odd"] == sys.float_info.max  # latest: the +inf at step 1
    assert data.runs[1].metrics["odd"] == -sys.float_info.max


def test_short_histories_are_exact_and_ordered_by_step(store: Store) -> None:
    data = compare_runs(store.workspace, store.ids[:1])
    (loss,) = [s for s in data.series if s.key == "loss"]
    assert loss.steps == list(range(50)) and loss.timestamps == [1000 + s for s in range(50)]
    assert loss.values == [1.0 / (s + 1) for s in range(50)]
    assert (loss.total_points, loss.downsampled) == (50, False)
    assert [
        s.key for s in compare_runs(store.workspace, store.ids[:1], metric_keys=[]).series
    ] == []


@pytest.mark.slow
def test_a_100000_point_history_is_downsampled_keeping_its_shape(store: Store) -> None:
    from mlflow.entities import Metric

    run_id = store.ids[0]
    values = [math.sin(s / 500) + (5.0 if s == 77_777 else 0.0) for s in range(100_000)]
    values[12_345] = -9.0
    points = [Metric("long", v, s, s) for s, v in enumerate(values)]
    for start in range(0, len(points), 1000):
        store.client.log_batch(run_id, metrics=points[start : start + 1000])
    data = compare_runs(store.workspace, [run_id], max_points=1000)
    (long,) = [s for s in data.series if s.key == "long"]
    assert long.total_points == 100_000 and long.downsampled
    assert len(long.values) <= 1000 and len(long.steps) == len(long.values)
    assert long.steps[0] == 0 and long.steps[-1] == 99_999
    assert 77_777 in long.steps and 12_345 in long.steps  # the spike and the dip
    assert max(v for v in long.values if v is not None) == max(values)
    assert long.steps == sorted(long.steps)


def test_downsample_keeps_nan_gaps_and_never_exceeds_the_budget() -> None:
    values = [float(i % 17) for i in range(10_000)]
    values[5000:5600] = [math.nan] * 600
    kept = downsample(values, 100)
    assert len(kept) <= 100 and kept[0] == 0 and kept[-1] == 9_999
    assert any(math.isnan(values[i]) for i in kept)
    assert downsample([1.0, 2.0], 8) == [0, 1]


def test_csv_has_one_row_per_run_with_params_then_metrics(store: Store) -> None:
    data = compare_runs(store.workspace, store.ids)
    rows = list(csv.reader(io.StringIO(compare_table_csv(data))))
    assert rows[0] == [
        "run_id",
        "run_name",
        "experiment",
        "status",
        "params.depth",
        "params.lr",
        "params.seed",
        "metrics.acc",
        "metrics.loss",
        "metrics.odd",
    ]
    assert rows[3][0] == store.ids[2] and rows[3][4] == "" and rows[3][5] == "0.01"
    assert float(rows[2][7]) == 1.1234567890123457 and rows[1][9] == ""
    assert len(rows) == 4


def _count_runs(workspace: Path) -> int:
    with sqlite3.connect(workspace / "mlflow.db") as connection:
        (count,) = connection.execute("select count(*) from runs").fetchone()
    connection.close()
    return int(count)


def test_bad_requests_are_clear_errors_and_change_nothing(store: Store) -> None:
    with pytest.raises(NoRunsToCompareError) as none:
        compare_runs(store.workspace, [])
    assert "at least one run" in none.value.message
    with pytest.raises(TooManyRunsError) as many:
        compare_runs(store.workspace, [f"{i:032x}" for i in range(MAX_RUNS + 1)])
    assert many.value.code == "TOO_MANY_RUNS" and many.value.data["max"] == MAX_RUNS
    for bad in ["0" * 32, "nope", "'; drop table runs; --", ""]:
        with pytest.raises(RunNotFoundError) as missing:
            compare_runs(store.workspace, [store.ids[0], bad])
        assert missing.value.run_id == bad
    with pytest.raises(ValueError, match="max_points"):
        compare_runs(store.workspace, store.ids, max_points=2)
    assert _count_runs(store.workspace) == 3
    # duplicates count once; the order given is kept
    assert [r.run_id for r in compare_runs(store.workspace, store.ids[::-1] * 2).runs] == (
        store.ids[::-1]
    )


def test_no_store_means_the_run_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(RunNotFoundError):
        compare_runs(tmp_path, ["0" * 32])
    assert not (tmp_path / "mlflow.db").exists()


def _cli(argv: list[str]) -> int:
    """`mlworkbench runs compare …` through the action's own argparse wiring."""
    import argparse

    from mlworkbench.commands import runs_compare

    parser = argparse.ArgumentParser(prog="mlworkbench runs")
    runs_compare.configure(parser.add_subparsers(dest="runs_action"))
    return runs_compare.run(parser.parse_args(argv))


def test_cli_table_json_and_csv(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    workspace = str(store.workspace)
    assert _cli(["compare", store.ids[0][:8], store.ids[2], "--workspace", workspace]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [store.ids[0][:8], store.ids[2][:8]]
    assert lines[3].split() == ["params.depth", "3", "-"]
    assert lines[4].split() == ["params.lr", "0.1", "0.01"]
    assert lines[-1] == "(1 param with the same value in every run)"
    assert any(line.split() == ["metrics.odd", "-", "1.79769e+308"] for line in lines)
    assert _cli(["compare", *store.ids, "--workspace", workspace, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in printed["runs"]] == store.ids and printed["series"]
    assert _cli(["compare", *store.ids, "--workspace", workspace, "--csv"]) == 0
    assert capsys.readouterr().out.count("\n") == 4


def test_cli_unknown_run_is_a_typed_error(store: Store) -> None:
    with pytest.raises(RunNotFoundError):
        _cli(["compare", "abcdef12", "--workspace", str(store.workspace)])
    with pytest.raises(SystemExit):
        _cli(["compare", store.ids[0], "--json", "--csv"])
