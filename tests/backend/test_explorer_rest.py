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

import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from explorer_checks import history_points

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

    from mlflow.tracking import MlflowClient

    workspace, uri, env = server
    os.environ["MLFLOW_TRACKING_TOKEN"] = env["MLFLOW_TRACKING_TOKEN"]
    try:
        client = MlflowClient(uri)
        experiment = client.create_experiment("h")
        ids = []
        for r in range(3):
            run_id = client.create_run(experiment, run_name=f"r{r}").info.run_id
            client.log_batch(run_id, metrics=history_points(r))
            ids.append(run_id)
        ids.append(client.create_run(experiment, run_name="no metrics").info.run_id)
        # What a page reads besides metrics: params, text past ASCII, an ended run.
        client.log_param(ids[0], "lr", "0.001")
        client.set_tag(ids[1], "note", 'é ✓ "quoted" <b>')
        client.set_terminated(ids[2], "FAILED")
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
    asked: list[tuple[str, str]] = []
    real = run_compare._history_request

    def counted(client: Any, endpoint: str, params: Any, key: str, run_ids: list[str]) -> Any:
        asked.append((endpoint.rsplit("/", 1)[1], key))
        return real(client, endpoint, params, key, run_ids)

    monkeypatch.setattr(run_compare, "_history_request", counted)
    bulk = _compare(workspace, uri, ids, max_points)
    # One request per metric, for every run at once: the interval route, whole where each
    # history has at most max_points points (62 here), else the bulk route too.
    interval = [("get-history-bulk-interval", "k0"), ("get-history-bulk-interval", "k1")]
    cut = [("get-history-bulk", "k0"), ("get-history-bulk", "k1")] if max_points < 62 else []
    assert sorted(asked) == sorted(interval + cut)
    monkeypatch.setattr(run_compare, "bulk_histories", lambda client, wanted, **_: {})
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


@pytest.fixture(params=["rest", "mlflow"])
def searched_with(
    request: pytest.FixtureRequest,
    server: tuple[Path, str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """How a loading cache searches the server: over REST without MLflow, with the token scoped
    to the server as the language server holds it; or through MLflow's client, which the
    token in MLflow's own variable calls for (rest_search.py leaves such settings to it)."""
    from mlworkbench.tracking import tracking_token

    _, uri, env = server
    if request.param == "rest":
        monkeypatch.setenv(tracking_token.TOKEN_ENV, env["MLFLOW_TRACKING_TOKEN"])
        monkeypatch.setenv(tracking_token.TOKEN_URI_ENV, uri)
        monkeypatch.setenv(tracking_token.MLFLOW_AUTH_ENV, tracking_token.AUTH_NAME)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", env["MLFLOW_TRACKING_TOKEN"])
    return str(request.param)


def test_pages_answer_from_one_search_while_the_cache_reads_the_server(
    histories: tuple[Path, str, list[str]], searched_with: str
) -> None:
    """A cache on a tracking server answers each query from MLflow's search while it reads the
    server whole (minutes at 100,000 runs): the runs and order the loaded cache answers, with
    `total` a lower bound (`total_known` False) while the server has more. Where the cache asks
    without MLflow, the workspace server answers the default pages and the experiments from its
    tables (first_page_route.py), with exact totals and run counts."""
    import threading

    from mlworkbench.explorer.run_cache import RunCache

    _, uri, ids = histories
    release = threading.Event()
    cache = RunCache(uri, first_page_while_loading=True, load_gate=release.wait)
    loaded = RunCache(uri)
    queries: list[dict[str, Any]] = [
        {},
        {"order_by": "metrics.k1 DESC"},
        {"filter": "metrics.k0 > 0.2", "order_by": "attributes.run_name ASC"},
        {"filter": "metrics.k0 > 0.5 or attributes.run_name = 'no metrics'"},
        {"deleted": True},
    ]
    served = 0  # queries the server answers from its tables
    try:
        for query in queries:
            from_tables = searched_with == "rest" and set(query) <= {"deleted"}
            for offset, limit in ((0, 2), (1, 2), (0, 50)):
                quick = cache.query(offset=offset, limit=limit, **query)
                exact = loaded.query(offset=offset, limit=limit, **query)
                assert quick.loading and not cache.loaded, query
                assert quick.runs == exact.runs and quick.next_offset == exact.next_offset, query
                assert quick.total_known is (from_tables or exact.next_offset is None), query
                if quick.total_known:
                    assert (quick.total, quick.scripts) == (exact.total, exact.scripts), query
                else:
                    assert quick.total == offset + limit < exact.total, query
                served += from_tables
        experiments = cache.experiments()
        counted = searched_with == "rest"
        assert [(e.name, e.run_count_known) for e in experiments] == [
            ("Default", counted),
            ("h", counted),
        ]
        if counted:
            assert [e.run_count for e in experiments] == [0, len(ids)]
        assert cache.quick_pages == len(queries) * 3
        # Without MLflow where its client adds nothing: the default pages and the experiments
        # from the server's tables, every other page from one search over REST.
        assert served == (6 if searched_with == "rest" else 0)
        assert cache.served_reads == (served + 1 if searched_with == "rest" else 0)
        assert cache.rest_reads == (len(queries) * 3 - served if searched_with == "rest" else 0)
    finally:
        release.set()
    assert cache.wait_loaded(60)
    assert cache.query(limit=2) == loaded.query(limit=2)
    assert [e.run_count for e in cache.experiments()] == [0, len(ids)]


def test_a_remote_store_is_asked_what_changed_in_the_background(
    histories: tuple[Path, str, list[str]], token: None
) -> None:
    """Past its TTL, a query of a tracking server's cache answers from what the cache holds
    and asks the server what changed off the query path (0.1-0.5 s over HTTP); a run this
    server changed (`mark_stale`) is still read before the answer."""
    from mlflow.tracking import MlflowClient

    from mlworkbench.explorer.run_cache import RunCache

    _, uri, ids = histories
    client = MlflowClient(uri)
    cache = RunCache(uri, ttl_s=0.0)
    experiment = client.get_run(ids[0]).info.experiment_id
    before = cache.query(experiment_id=experiment, limit=50)
    outside = client.create_run(experiment, run_name="outside").info.run_id
    try:
        stale = cache.query(experiment_id=experiment, limit=50)
        assert stale.runs == before.runs  # answered at once, from the cache
        cache.wait_checked_changes(60)
        fresh = cache.query(experiment_id=experiment, limit=50)
        assert fresh.runs[0].run_id == outside and fresh.total == before.total + 1
        assert cache.background_checks >= 1 and cache.full_reloads == 1
        client.set_tag(outside, "mlflow.runName", "renamed")
        client.update_run(outside, name="renamed")
        cache.mark_stale(outside)  # what the server does for its own edits
        edited = cache.query(experiment_id=experiment, limit=50)
        assert edited.runs[0].run_name == "renamed"
    finally:
        client.delete_run(outside)


def _scoped(monkeypatch: pytest.MonkeyPatch, uri: str, token: str) -> None:
    """The token as the language server holds it: scoped to the server's origin."""
    from mlworkbench.tracking import tracking_token

    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.setenv(tracking_token.TOKEN_ENV, token)
    monkeypatch.setenv(tracking_token.TOKEN_URI_ENV, uri)
    monkeypatch.setenv(tracking_token.MLFLOW_AUTH_ENV, tracking_token.AUTH_NAME)


@pytest.mark.parametrize("max_points", [16, 2000])
def test_the_workspace_server_answers_a_comparison_from_its_tables(
    server: tuple[Path, str, dict[str, str]],
    histories: tuple[Path, str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    max_points: int,
) -> None:
    """`mlworkbench server` reads a comparison from its store's tables (compared_route.py):
    exactly what MLflow's history routes give, without a request to them."""
    from mlflow.tracking import MlflowClient

    from mlworkbench.explorer import compared_route, run_compare
    from mlworkbench.explorer.run_compare import compare_runs

    workspace, uri, ids = histories
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", server[2]["MLFLOW_TRACKING_TOKEN"])
    through_mlflow = _compare(workspace, uri, ids, max_points)  # MLflow's settings: its routes
    _scoped(monkeypatch, uri, server[2]["MLFLOW_TRACKING_TOKEN"])
    assert compared_route.ask(uri, ids, None) is not None
    monkeypatch.setattr(run_compare, "bulk_histories", lambda *a, **k: pytest.fail("MLflow"))
    monkeypatch.setattr(run_compare, "_get_runs", lambda *a, **k: pytest.fail("MLflow"))
    from_tables = compare_runs(
        workspace, ids, tracking_uri=uri, max_points=max_points, client=MlflowClient(uri)
    )
    assert repr(from_tables) == repr(through_mlflow)
    assert from_tables.runs[2].status == "FAILED" and from_tables.runs[0].params == {"lr": "0.001"}


def _gate_status(
    uri: str,
    path: str,
    body: bytes,
    *,
    bearer: str | None,
    method: str = "POST",
    host: str | None = None,
) -> int:
    """The HTTP status the workspace server's gate answers a request to one of its routes."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(uri + path, data=body, method=method)
    if bearer is not None:
        request.add_header("Authorization", f"Bearer {bearer}")
    if host is not None:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_the_comparison_route_keeps_the_gates_checks_and_refuses_bad_requests(
    server: tuple[Path, str, dict[str, str]],
    histories: tuple[Path, str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from mlworkbench.errors import RunNotFoundError
    from mlworkbench.explorer import compared_route
    from mlworkbench.explorer.run_compare import compare_runs

    workspace, uri, ids = histories
    token = server[2]["MLFLOW_TRACKING_TOKEN"]

    def status(body: bytes, *, bearer: str | None = token, method: str = "POST") -> int:
        return _gate_status(uri, compared_route.ROUTE, body, bearer=bearer, method=method)

    good = json.dumps({"run_ids": ids[:2], "metric_keys": None}).encode()
    assert status(good) == 200
    assert status(good, bearer=None) == 401 and status(good, bearer="wrong") == 401
    assert status(good, method="PUT") == 405
    assert status(b"{not json") == 400
    assert status(json.dumps({"run_ids": []}).encode()) == 400
    assert status(json.dumps({"run_ids": ids, "metric_keys": "k0"}).encode()) == 400
    assert status(b" " * (compared_route.MAX_BODY + 1)) == 413
    # An unknown run: the server says so, and MLflow's path raises the error the view shows.
    _scoped(monkeypatch, uri, token)
    assert compared_route.ask(uri, [ids[0], "0" * 32], None) is None
    with pytest.raises(RunNotFoundError):
        compare_runs(workspace, [ids[0], "0" * 32], tracking_uri=uri)


def test_the_workspace_server_answers_a_cold_views_first_pages_from_its_tables(
    server: tuple[Path, str, dict[str, str]],
    histories: tuple[Path, str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cold view's default pages, in every scope, window and stage, come over HTTP from the
    server's tables (first_page_route.py) without a search through MLflow's routes, and are
    the pages the loaded cache answers, with their exact totals."""
    import threading

    from explorer_checks import check_first_pages

    from mlworkbench.explorer.rest_search import RestReader
    from mlworkbench.explorer.run_cache import RunCache

    _, uri, ids = histories
    loaded = RunCache(uri)  # MLflow's own search (the token in MLflow's variable)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", server[2]["MLFLOW_TRACKING_TOKEN"])
    experiments = [e.experiment_id for e in loaded.experiments()]
    _scoped(monkeypatch, uri, server[2]["MLFLOW_TRACKING_TOKEN"])
    monkeypatch.setattr(RestReader, "search_runs", lambda *a, **k: pytest.fail("searched"))
    release = threading.Event()
    cold = RunCache(uri, first_page_while_loading=True, load_gate=release.wait)

    def read(**asked: Any) -> tuple[list[Any], int, list[str]]:
        page = cold.query(**asked)
        assert page.loading and page.total_known and not cold.loaded
        return page.runs, page.total, page.scripts

    try:
        assert check_first_pages(read, loaded, [None, *experiments]) >= 2 * len(ids)
        assert cold.experiments() == loaded.experiments()
        assert cold.served_reads == cold.quick_pages + 1 and cold.rest_reads == 0
    finally:
        release.set()


def test_a_server_without_the_routes_is_paged_through_mlflows_search(
    server: tuple[Path, str, dict[str, str]],
    histories: tuple[Path, str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Any other MLflow server answers the routes 404 (here: routes the gate does not have,
    forwarded to MLflow): the page is MLflow's search over REST, as before the routes."""
    import threading

    from mlworkbench.explorer import first_page_route
    from mlworkbench.explorer.run_cache import RunCache

    _, uri, ids = histories
    _scoped(monkeypatch, uri, server[2]["MLFLOW_TRACKING_TOKEN"])
    monkeypatch.setattr(first_page_route, "PAGE_ROUTE", "/mlworkbench/v1/absent-page")
    monkeypatch.setattr(first_page_route, "EXPERIMENTS_ROUTE", "/mlworkbench/v1/absent-list")
    release = threading.Event()
    cold = RunCache(uri, first_page_while_loading=True, load_gate=release.wait)
    try:
        page = cold.query(limit=2)
        assert page.loading and not page.total_known and len(page.runs) == 2
        assert [(e.name, e.run_count_known) for e in cold.experiments()] == [
            ("Default", False),
            ("h", False),
        ]
        assert (cold.served_reads, cold.rest_reads, cold.quick_pages) == (0, 2, 1)
    finally:
        release.set()
    assert cold.wait_loaded(60) and cold.query(limit=50).total >= len(ids)


@pytest.mark.parametrize("route", ["page", "experiments", "store"])
def test_the_explorers_routes_keep_the_gates_checks_and_refuse_bad_requests(
    server: tuple[Path, str, dict[str, str]], histories: tuple[Path, str, list[str]], route: str
) -> None:
    import json
    import urllib.parse

    from mlworkbench.explorer import first_page_route, store_route

    _, uri, _ = histories
    token = server[2]["MLFLOW_TRACKING_TOKEN"]
    path, good, largest = {
        "page": (
            first_page_route.PAGE_ROUTE,
            {"experiment_id": None, "offset": 0, "limit": 5},
            first_page_route.MAX_BODY,
        ),
        "experiments": (first_page_route.EXPERIMENTS_ROUTE, {}, first_page_route.MAX_BODY),
        "store": (store_route.ROUTE, {"run_ids": None}, store_route.MAX_BODY),
    }[route]

    def status(
        body: bytes, *, bearer: str | None = token, method: str = "POST", host: str | None = None
    ) -> int:
        return _gate_status(uri, path, body, bearer=bearer, method=method, host=host)

    body = json.dumps(good).encode()
    assert status(body) == 200
    assert status(body, bearer=None) == 401 and status(body, bearer="wrong") == 401
    port = urllib.parse.urlsplit(uri).port
    assert status(body, host=f"attacker.example:{port}") == 403  # DNS rebinding
    assert status(body, method="PUT") == 405
    assert status(b"{not json") == 400 and status(b"[1]") == 400
    assert status(b" " * (largest + 1)) == 413


@pytest.mark.parametrize("served", [True, False])
def test_the_cache_reads_a_workspace_server_from_its_tables_checked_against_mlflow(
    server: tuple[Path, str, dict[str, str]],
    histories: tuple[Path, str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    served: bool,
) -> None:
    """The run cache's whole read of `mlworkbench server` comes from the server's tables in
    one request (store_route.py; 5,000 runs a search through MLflow's routes took 160-260 s
    at 100,000 runs) and is checked once against MLflow's own search; a server without the
    route (404) is read through MLflow's search as before. The same runs either way."""
    from mlworkbench.explorer import store_route
    from mlworkbench.explorer.cached_runs import same_run
    from mlworkbench.explorer.run_cache import RunCache

    _, uri, ids = histories
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", server[2]["MLFLOW_TRACKING_TOKEN"])
    through_mlflow = RunCache(uri)  # MLflow's settings: its client reads
    through_mlflow.query(limit=1)
    _scoped(monkeypatch, uri, server[2]["MLFLOW_TRACKING_TOKEN"])
    if not served:
        monkeypatch.setattr(store_route, "ROUTE", "/mlworkbench/v1/absent-store")
    cache = RunCache(uri)
    page = cache.query(limit=50)
    assert page.runs == through_mlflow.query(limit=50).runs and page.total >= len(ids)
    assert (cache.table_reads, through_mlflow.table_reads) == (int(served), 0)
    assert cache._runs.keys() == through_mlflow._runs.keys()
    assert all(same_run(through_mlflow._runs[i], run) for i, run in cache._runs.items())
    assert cache.experiments() == through_mlflow.experiments()
    if served:
        assert cache.wait_checked(60) is True and cache.table_checks == 1
        # The corner the JSON answer must carry: a logged infinity, kept as +/-max double.
        assert {v for run in cache._runs.values() for v in run.metrics.values()} >= {
            sys.float_info.max,
            -sys.float_info.max,
        }


def test_a_cold_process_pages_a_server_without_importing_mlflow(
    server: tuple[Path, str, dict[str, str]], histories: tuple[Path, str, list[str]]
) -> None:
    """The point of rest_search.py: a cold language server's first page of a tracking server
    must not wait for MLflow's import (2.5-3.6 s). Run in a fresh interpreter, with the token
    scoped as the server holds it and the cache's own load held back."""
    import os
    import subprocess
    import sys

    from mlworkbench.tracking import tracking_token

    _, uri, ids = histories
    script = (
        "import sys, threading\n"
        "from mlworkbench.explorer.run_cache import RunCache\n"
        f"cache = RunCache({uri!r}, first_page_while_loading=True,"
        " load_gate=threading.Event().wait)\n"
        "page = cache.query(limit=2)\n"
        "experiments = cache.experiments()\n"
        "print(page.loading, len(page.runs), page.total_known, len(experiments),"
        " cache.served_reads, cache.rest_reads, 'mlflow' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env[tracking_token.TOKEN_ENV] = server[2]["MLFLOW_TRACKING_TOKEN"]
    env[tracking_token.TOKEN_URI_ENV] = uri
    env[tracking_token.MLFLOW_AUTH_ENV] = tracking_token.AUTH_NAME
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    # The page and the experiments from the server's tables (first_page_route.py): exact.
    assert done.stdout.split() == ["True", "2", "True", "2", "2", "0", "False"], (
        len(ids),
        done.stdout,
    )


@pytest.mark.parametrize(
    ("store", "with_psycopg"),
    [("postgresql+psycopg://mlwb@127.0.0.1:5432/mlflow", True), ("sqlite:///m/mlflow.db", False)],
)
def test_the_gate_imports_its_table_readers_before_the_first_comparison(
    store: str, with_psycopg: bool
) -> None:
    """`prepare` runs while MLflow starts behind the gate: the first comparison then finds the
    table readers (and psycopg, for PostgreSQL) imported. Fresh interpreter; nothing connects."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from mlworkbench.explorer import compared_route\n"
        "before = 'mlworkbench.explorer.pg_tables' in sys.modules\n"
        f"compared_route.prepare({store!r})\n"
        "print(before, 'mlworkbench.explorer.pg_tables' in sys.modules,"
        " 'mlworkbench.explorer.store_tables' in sys.modules, 'psycopg' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "True", str(with_psycopg)]
