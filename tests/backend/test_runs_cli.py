"""`mlworkbench runs list`: the table, --json, the filter language and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlworkbench.cli import main
from mlworkbench.commands.runs import format_duration

pytestmark = pytest.mark.usefixtures("no_tracking_env")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    artifacts = (tmp_path / "mlruns").as_uri()
    iris = client.create_experiment("iris", artifact_location=artifacts)
    wine = client.create_experiment("wine", artifact_location=artifacts)
    for experiment, name, start, accuracy, c in [
        (iris, "low", 1_000, 0.5, "0.1"),
        (iris, "mid", 2_000, 0.8, "1.0"),
        (iris, "high", 3_000, 0.95, "10"),
        (wine, "wine-run", 4_000, 0.7, "1.0"),
    ]:
        run = client.create_run(experiment, run_name=name, start_time=start)
        client.log_metric(run.info.run_id, "accuracy", accuracy)
        client.log_param(run.info.run_id, "c", c)
        if name != "high":
            client.set_terminated(run.info.run_id, "FINISHED", end_time=start + 65_000)
    return tmp_path


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["runs", "list", "--json", *args]) == 0
    result: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return result


def test_json_lists_run_summaries_newest_first(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = _json(capsys, "--workspace", str(workspace))
    assert [r["run_name"] for r in runs] == ["wine-run", "high", "mid", "low"]
    assert runs[0]["experiment_name"] == "wine"
    assert runs[0]["params"] == {"c": "1.0"} and runs[0]["primary_metric"] == "accuracy"


def test_filter_order_max_and_experiment(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = ["--workspace", str(workspace)]
    query = "metrics.accuracy > 0.9 or params.c = '0.1'"
    assert [r["run_name"] for r in _json(capsys, *ws, "--filter", query)] == ["high", "low"]
    by_accuracy = _json(
        capsys,
        *ws,
        "--filter",
        "params.c in ('1.0', '10')",
        "--order-by",
        "metrics.accuracy DESC",
        "--max",
        "2",
    )
    assert [r["run_name"] for r in by_accuracy] == ["high", "mid"]
    only_iris = _json(capsys, *ws, "--experiment", "iris", "--filter", "0.6 <= metrics.accuracy")
    assert [r["run_name"] for r in only_iris] == ["high", "mid"]


def test_the_table_shows_id_name_status_start_duration_and_metric(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "list", "--workspace", str(workspace), "--experiment", "iris"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["RUN", "NAME", "STATUS", "STARTED", "DURATION", "METRIC"]
    assert len(lines) == 4
    high, mid = lines[1], lines[2]
    assert "high" in high and "RUNNING" in high and "accuracy=0.95" in high
    assert "mid" in mid and "FINISHED" in mid and "1m 05s" in mid and "accuracy=0.8" in mid


def test_no_matching_runs(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = ["--workspace", str(workspace)]
    assert _json(capsys, *ws, "--filter", "metrics.accuracy > 2") == []
    assert main(["runs", "list", *ws, "--filter", "metrics.accuracy > 2"]) == 0
    assert capsys.readouterr().err == "no runs\n"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--filter", "metrics.accuracy >"], "at position 18"),
        (["--filter", "foo.bar = 1"], "unknown key type 'foo'"),
        (["--order-by", "metrics.accuracy upward"], "at position 17"),
        (["--experiment", "nope"], "known experiments: 'Default', 'iris', 'wine'"),
    ],
)
def test_errors_go_to_stderr_with_exit_status_2(
    workspace: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["runs", "list", "--workspace", str(workspace), *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and message in captured.err


def test_usage_errors(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs"]) == 2
    assert main(["runs", "list", "--max", "0"]) == 2
    assert "expected at least 1" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "runs      list and filter the workspace's tracked runs" in capsys.readouterr().out


def test_an_invalid_filter_is_reported_even_without_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "list", "--workspace", str(tmp_path), "--filter", "metrics.x < 1 or"]) == 2
    assert "at position 16" in capsys.readouterr().err
    assert not (tmp_path / "mlflow.db").exists()
    assert _json(capsys, "--workspace", str(tmp_path)) == []


def test_format_duration() -> None:
    assert format_duration(0, 4_200) == "4.2 s"
    assert format_duration(0, 3_725_000) == "1h 02m"
    assert format_duration(0, None) == "-"
