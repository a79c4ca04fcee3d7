"""The run explorer's requests through the real server: pages, experiments, comparisons.

The client is pytest-lsp's real one; stores are real MLflow sqlite files in temporary
workspaces, written by a second MlflowClient the way a training script or the MLflow UI would.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from mlworkbench_server.protocol import ERROR_CODES, NOTIFICATIONS, REQUESTS

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


@pytest.fixture
def statuses(trusted: LanguageClient) -> list[Any]:
    """The run statuses the server sends the `trusted` client (conftest.py) from now on."""
    received: list[Any] = []

    @trusted.feature(NOTIFICATIONS["RUN_STATUS"])
    def on_status(params: Any) -> None:
        received.append(params)

    return received


def make_store(workspace: Path, runs: int = 25) -> tuple[MlflowClient, str, list[str]]:
    """`runs` runs newest first by start time; metric m = i / 10, param p = i % 3."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    experiment = client.create_experiment("exp", artifact_location=(workspace / "mlruns").as_uri())
    ids = []
    for i in range(runs):
        run_id = client.create_run(experiment, run_name=f"r{i}", start_time=1000 + i).info.run_id
        client.log_batch(
            run_id, metrics=[Metric("m", i / 10, 0, 0)], params=[Param("p", str(i % 3))]
        )
        client.set_terminated(run_id, "FINISHED")
        ids.append(run_id)
    return client, experiment, ids[::-1]


async def query(client: LanguageClient, workspace: Path, **options: Any) -> Any:
    return await client.protocol.send_request_async(
        REQUESTS["QUERY_RUNS"], {"workspaceUri": workspace.as_uri(), **options}
    )


async def test_pages_follow_next_offset_in_mlflows_order(
    client: LanguageClient, tmp_path: Path
) -> None:
    _, _, newest_first = make_store(tmp_path)
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        result = await query(client, tmp_path, offset=offset, limit=10)
        assert result.page.total == 25 and result.running == []
        seen += [run.run_id for run in result.page.runs]
        offset = result.page.next_offset
    assert seen == newest_first
    ordered = await query(
        client, tmp_path, filter="metrics.m < 1 or params.p = '2'", orderBy="metrics.m ASC"
    )
    by_i = newest_first[::-1]
    wanted = [by_i[i] for i in range(25) if i < 10 or i % 3 == 2]
    assert [run.run_id for run in ordered.page.runs] == wanted
    assert ordered.page.runs[0].metrics.m == 0.0


@pytest.mark.slow
async def test_a_bad_filter_is_an_lsp_error_with_its_position(
    client: LanguageClient, tmp_path: Path
) -> None:
    make_store(tmp_path, runs=1)
    with pytest.raises(JsonRpcException) as raised:
        await query(client, tmp_path, filter="metrics.m < 0.5 and params.p = ")
    assert raised.value.code == ERROR_CODES["INVALID_FILTER"]
    assert raised.value.data["position"] == 31
    assert raised.value.data["kind"] == "INVALID_FILTER"
    with pytest.raises(JsonRpcException) as order:
        await query(client, tmp_path, orderBy="metrics.m sideways")
    assert order.value.code == ERROR_CODES["INVALID_FILTER"] and order.value.data["position"] == 10
    with pytest.raises(JsonRpcException) as paging:
        await query(client, tmp_path, limit=0)
    assert paging.value.code == types.ErrorCodes.InvalidParams


@pytest.mark.slow
async def test_a_run_logged_from_outside_shows_up_on_the_next_query(
    client: LanguageClient, tmp_path: Path
) -> None:
    store, experiment, _ = make_store(tmp_path, runs=3)
    assert (await query(client, tmp_path)).page.total == 3
    outside = store.create_run(experiment, run_name="outside").info.run_id
    store.log_metric(outside, "m", 42.0)
    result = await query(client, tmp_path, filter="metrics.m > 40")
    assert [run.run_id for run in result.page.runs] == [outside]
    assert result.page.runs[0].status == "RUNNING"
    # an edit of an old run (here: a rename, as the MLflow UI does it) shows up too
    oldest = (await query(client, tmp_path, orderBy="attributes.start_time ASC")).page.runs[0]
    store.update_run(oldest.run_id, name="renamed")
    renamed = await query(client, tmp_path, orderBy="attributes.start_time ASC", limit=1)
    assert renamed.page.runs[0].run_name == "renamed"


async def test_no_store_is_an_empty_page_and_creates_nothing(
    client: LanguageClient, tmp_path: Path
) -> None:
    result = await query(client, tmp_path)
    assert (result.page.total, result.page.runs, result.page.next_offset) == (0, [], None)
    listed = await client.protocol.send_request_async(
        REQUESTS["LIST_EXPERIMENTS"], {"workspaceUri": tmp_path.as_uri()}
    )
    assert listed.experiments == []
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.slow
async def test_experiments_and_a_deleted_one(client: LanguageClient, tmp_path: Path) -> None:
    store, experiment, _ = make_store(tmp_path, runs=4)
    listed = await client.protocol.send_request_async(
        REQUESTS["LIST_EXPERIMENTS"], {"workspaceUri": tmp_path.as_uri()}
    )
    assert [(e.name, e.run_count) for e in listed.experiments] == [("Default", 0), ("exp", 4)]
    page = await query(client, tmp_path, experimentId=experiment)
    assert page.page.total == 4
    store.delete_experiment(experiment)
    with pytest.raises(JsonRpcException) as raised:
        await query(client, tmp_path, experimentId=experiment)
    assert raised.value.code == ERROR_CODES["EXPERIMENT_DELETED"]
    with pytest.raises(JsonRpcException) as unknown:
        await query(client, tmp_path, experimentId="12345")
    assert unknown.value.code == ERROR_CODES["UNKNOWN_EXPERIMENT"]


@pytest.mark.slow
async def test_compare_runs_and_its_errors(client: LanguageClient, tmp_path: Path) -> None:
    store, _, ids = make_store(tmp_path, runs=3)
    store.log_metric(ids[0], "m", float("nan"), step=1)
    data = await client.protocol.send_request_async(
        REQUESTS["COMPARE_RUNS"], {"workspaceUri": tmp_path.as_uri(), "runIds": ids[:2]}
    )
    assert [run.run_id for run in data.runs] == ids[:2]
    assert data.changed_param_keys == ["p"] and data.metric_keys == ["m"]
    assert data.runs[0].metrics.m is None  # NaN arrives as null
    (first,) = [s for s in data.series if s.run_id == ids[0]]
    assert first.values == [0.2, None] and first.steps == [0, 1]
    with pytest.raises(JsonRpcException) as many:
        await client.protocol.send_request_async(
            REQUESTS["COMPARE_RUNS"],
            {"workspaceUri": tmp_path.as_uri(), "runIds": [f"{i:032x}" for i in range(201)]},
        )
    assert many.value.code == ERROR_CODES["TOO_MANY_RUNS"]
    with pytest.raises(JsonRpcException) as missing:
        await client.protocol.send_request_async(
            REQUESTS["COMPARE_RUNS"],
            {"workspaceUri": tmp_path.as_uri(), "runIds": [ids[0], "0" * 32]},
        )
    assert missing.value.code == ERROR_CODES["RUN_NOT_FOUND"]
    with pytest.raises(JsonRpcException) as bad:
        await client.protocol.send_request_async(
            REQUESTS["COMPARE_RUNS"], {"workspaceUri": tmp_path.as_uri(), "runIds": "abc"}
        )
    assert bad.value.code == types.ErrorCodes.InvalidParams


@pytest.mark.slow
async def test_a_run_this_server_starts_and_ends_is_fresh_in_the_next_page(
    trusted: LanguageClient, statuses: list[Any], tmp_path: Path
) -> None:
    make_store(tmp_path, runs=2)
    assert (await query(trusted, tmp_path)).page.total == 2
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import mlflow
            mlflow.log_metric("m", 7.5)
            """
        ),
        encoding="utf-8",
    )
    started = await trusted.protocol.send_request_async(
        REQUESTS["START_RUN"],
        {"uri": script.as_uri(), "workspaceUri": tmp_path.as_uri(), "args": []},
    )
    for _ in range(600):
        if any(s.runId == started.runId and s.status != "RUNNING" for s in statuses):
            break
        await asyncio.sleep(0.1)
    result = await query(trusted, tmp_path, filter="metrics.m = 7.5")
    assert [run.run_id for run in result.page.runs] == [started.runId]
    assert result.page.runs[0].status == "FINISHED"
    assert result.page.runs[0].script == str(script)
    assert result.page.scripts == [str(script)]


async def test_a_cold_server_pages_from_the_store_while_its_cache_loads(
    client: LanguageClient, tmp_path: Path
) -> None:
    """Why: on 100,000 runs the cache takes minutes to load; the view's default page must not
    wait for it. The quick page is marked `loading` and is exactly the cache's page."""
    _, experiment, newest_first = make_store(tmp_path, runs=12)
    quick = await query(client, tmp_path, limit=5, offset=5)
    assert quick.page.loading is True
    assert [run.run_id for run in quick.page.runs] == newest_first[5:10]
    assert (quick.page.total, quick.page.next_offset) == (12, 10)
    experiments = await client.protocol.send_request_async(
        REQUESTS["LIST_EXPERIMENTS"], {"workspaceUri": tmp_path.as_uri()}
    )
    assert [(e.name, e.run_count) for e in experiments.experiments] == [("Default", 0), ("exp", 12)]
    # A filter or another order waits for the cache: its answer is not `loading`.
    filtered = await query(client, tmp_path, filter="metrics.m >= 0", orderBy="metrics.m DESC")
    assert filtered.page.loading is False and filtered.page.total == 12
    cached = await query(client, tmp_path, limit=5, offset=5, experimentId=experiment)
    assert cached.page.loading is False
    assert [run.run_id for run in cached.page.runs] == newest_first[5:10]
    assert [r.metrics.m for r in cached.page.runs] == [r.metrics.m for r in quick.page.runs]
