"""The explorer on a workspace tracking server (`mlworkbench server`): what it reads over REST.

Why: with the store behind a tracking server (on PostgreSQL, for runs on a cluster), the Runs
view reads through MLflow's REST API. A comparison read every history with its own round trip
(30 of them for 10 runs x 3 metrics: 4.7-6.3 s at 100,000 runs on PostgreSQL); it now asks the
server's bulk route, one request per metric, and must answer exactly what the per-history path
answers (NaN, infinities, ties, a history the server may have cut). The cache reads such a
store in pages a server answers within the client's timeout (50,000 runs did not).
One server per module, on a SQLite store: what is tested is the client side.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlworkbench.tracking import tracking_server as ts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Path, str, dict[str, str]]]:
    workspace = Path(tempfile.mkdtemp(prefix="mlwb-rest-"))
    try:
        info = ts.start_server(workspace)
        yield workspace, info.uri, ts.server_env(workspace, {})
    finally:
        ts.stop_server(workspace)


@pytest.fixture(scope="module")
def histories(server: tuple[Path, str, dict[str, str]]) -> tuple[Path, str, list[str]]:
    import os

    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    workspace, uri, env = server
    os.environ["MLFLOW_TRACKING_TOKEN"] = env["MLFLOW_TRACKING_TOKEN"]
    try:
        client = MlflowClient(uri)
        experiment = client.create_experiment("h")
        ids = []
        for r in range(3):
            run_id = client.create_run(experiment, run_name=f"r{r}").info.run_id
            points = [
                Metric(f"k{k}", (s * 7 + k + r) % 5 / 3, 1000 + s % 4, s // 2)
                for k in range(2)
                for s in range(60)
            ]
            points += [
                Metric("k0", math.nan, 1, 99),
                Metric("k0", 0.25, 1, 99),
                Metric("k0", math.inf, 2, 100),
                Metric("k1", -math.inf, 2, 100),
                Metric("k1", 0.1 + 0.2, 3, -1),
            ]
            client.log_batch(run_id, metrics=points)
            ids.append(run_id)
        ids.append(client.create_run(experiment, run_name="no metrics").info.run_id)
    finally:
        del os.environ["MLFLOW_TRACKING_TOKEN"]
    return workspace, uri, ids


@pytest.fixture
def token(server: tuple[Path, str, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", server[2]["MLFLOW_TRACKING_TOKEN"])


def _compare(workspace: Path, uri: str, ids: list[str], max_points: int) -> Any:
    from mlflow.tracking import MlflowClient

    from mlworkbench.explorer.run_compare import compare_runs

    return compare_runs(
        workspace, ids, tracking_uri=uri, max_points=max_points, client=MlflowClient(uri)
    )


@pytest.mark.parametrize("max_points", [16, 2000])
def test_a_comparison_over_rest_is_the_per_history_answer(
    histories: tuple[Path, str, list[str]],
    token: None,
    monkeypatch: pytest.MonkeyPatch,
    max_points: int,
) -> None:
    from mlworkbench.explorer import run_compare

    workspace, uri, ids = histories
    asked: list[str] = []
    real = run_compare._bulk_request

    def counted(client: Any, key: str, run_ids: list[str]) -> Any:
        asked.append(key)
        return real(client, key, run_ids)

    monkeypatch.setattr(run_compare, "_bulk_request", counted)
    bulk = _compare(workspace, uri, ids, max_points)
    assert sorted(asked) == ["k0", "k1"]  # one request per metric, for every run at once
    monkeypatch.setattr(run_compare, "bulk_histories", lambda client, wanted: {})
    per_history = _compare(workspace, uri, ids, max_points)
    assert repr(bulk) == repr(per_history)  # repr: NaN equals NaN, order within ties included
    assert len(bulk.series) == 6 and all(s.total_points > 50 for s in bulk.series)


def test_an_answer_the_server_may_have_cut_is_asked_again_for_fewer_runs(
    histories: tuple[Path, str, list[str]], token: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server cuts a bulk answer at a number of points over all its runs (25,000): the
    runs after the cut would read as empty histories. A full answer is split, down to a single
    history, which is then read per history."""
    from mlflow.tracking import MlflowClient

    from mlworkbench.explorer import run_compare

    workspace, uri, ids = histories
    expected = _compare(workspace, uri, ids, 2000)
    client = MlflowClient(uri)
    wanted = [(run_id, key) for run_id in ids[:3] for key in ("k0", "k1")]
    monkeypatch.setattr(run_compare, "_BULK_MAX_POINTS", 130)  # two histories fit, not three
    found = run_compare.bulk_histories(client, wanted)
    assert found and all(len(points) > 50 for points in found.values())
    assert repr(_compare(workspace, uri, ids, 2000)) == repr(expected)
    monkeypatch.setattr(run_compare, "_BULK_MAX_POINTS", 50)  # not even one
    assert run_compare.bulk_histories(client, wanted) == {}
    assert repr(_compare(workspace, uri, ids, 2000)) == repr(expected)


def test_the_cache_reads_a_server_in_pages_it_answers(
    histories: tuple[Path, str, list[str]], token: None
) -> None:
    from mlworkbench.explorer.run_cache import RunCache

    _, uri, ids = histories
    cache = RunCache(uri)
    assert cache._page_size == 5_000  # a server builds a whole page before answering
    page = cache.query(limit=10)
    assert sorted(run.run_id for run in page.runs) == sorted(ids)
    assert cache.table_reads == 0 and cache.full_reloads == 1
