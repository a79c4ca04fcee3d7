"""The explorer's REST reads of a tracking server without MLflow's client (rest_search.py).

They must read an answer exactly as MLflow's client does (protobuf defaults for absent fields,
NaN and the infinities as protobuf writes them), send the bearer token only to the server it
belongs to, follow no redirect, and leave to MLflow's client every setting that would make its
request differ. A loopback HTTP server records what reaches it; the end-to-end pages against a
real tracking server are in test_explorer_rest.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlworkbench.errors import NetworkRefusedError
from mlworkbench.explorer.rest_search import RestReader
from mlworkbench.explorer.store_tables import Unsupported
from mlworkbench.tracking import tracking_token
from mlworkbench.tracking.network_access import local_only

Answer = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, headers


class Recorder:
    """A loopback server: answers each POST to a path with `answers[path]` (a list: one by one)
    and keeps what it was sent."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any], str | None]] = []
        self.answers: dict[str, Answer | list[Answer]] = {}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                recorder.seen.append((self.path, body, self.headers.get("Authorization")))
                found = recorder.answers.get(self.path, (404, {}, {}))
                status, answer, headers = found.pop(0) if isinstance(found, list) else found
                data = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Recorder, Recorder]]:
    """The tracking server and another on the same host (another port: another origin)."""
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.mlflow/credentials of the machine's
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_AUTH"):
        monkeypatch.delenv(name, raising=False)
    mine, other = Recorder(), Recorder()
    try:
        yield mine, other
    finally:
        mine.close()
        other.close()


def _scope_token(monkeypatch: pytest.MonkeyPatch, uri: str) -> None:
    monkeypatch.setenv(tracking_token.TOKEN_ENV, "s3cret")
    monkeypatch.setenv(tracking_token.TOKEN_URI_ENV, uri)
    monkeypatch.setenv(tracking_token.MLFLOW_AUTH_ENV, tracking_token.AUTH_NAME)


RUNS: list[dict[str, Any]] = [
    {  # every field, NaN and the infinities as protobuf's JSON writes them, int64 as text
        "info": {
            "run_id": "a1",
            "run_uuid": "a1",
            "run_name": "full",
            "experiment_id": "3",
            "user_id": "ana",
            "status": "FAILED",
            "start_time": "1700000000123",
            "end_time": 1700000000999,
            "artifact_uri": "mlflow-artifacts:/3/a1/artifacts",
            "lifecycle_stage": "active",
        },
        "data": {
            "metrics": [
                {"key": "loss", "value": "NaN", "timestamp": 1, "step": 0},
                {"key": "up", "value": "Infinity", "timestamp": 1, "step": 0},
                {"key": "down", "value": "-Infinity", "timestamp": 1, "step": 0},
                {"key": "acc", "value": 0.30000000000000004, "timestamp": 1, "step": 2},
                {"key": "n", "value": 7, "timestamp": 1, "step": 2},
            ],
            "params": [{"key": "lr", "value": "0.1"}, {"key": "empty"}],
            "tags": [{"key": "note", "value": 'é ✓ "q" <b>'}, {"key": "blank"}],
        },
    },
    {"info": {"run_id": "b2", "experiment_id": "3"}, "data": {}},  # the defaults
    {"info": {"run_id": "c3", "end_time": 0, "status": "RUNNING"}},
]


def test_runs_read_as_mlflows_client_reads_them(
    servers: tuple[Recorder, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.entities import Run
    from mlflow.protos.service_pb2 import SearchRuns
    from mlflow.utils.proto_json_utils import parse_dict

    from mlworkbench.explorer.cached_runs import cached_run, same_run

    mine, _ = servers
    mine.answers["/api/2.0/mlflow/runs/search"] = (200, {"runs": RUNS}, {})
    found = RestReader.for_uri(mine.uri + "/").search_runs(
        ["3"], "metrics.acc > 0", deleted=True, max_results=11, order_by=["metrics.`acc` DESC"]
    )
    response = SearchRuns.Response()
    parse_dict({"runs": RUNS}, response)
    expected = [cached_run(Run.from_proto(run)) for run in response.runs]
    assert len(found) == len(expected) == 3
    assert all(same_run(mlflows, ours) for mlflows, ours in zip(expected, found, strict=True))
    assert repr(found) == repr(expected)  # types too: 7 read as 7.0, "" for absent text
    path, body, auth = mine.seen[0]
    assert (path, auth) == ("/api/2.0/mlflow/runs/search", None)
    assert body == {
        "experiment_ids": ["3"],
        "run_view_type": "DELETED_ONLY",
        "max_results": 11,
        "filter": "metrics.acc > 0",
        "order_by": ["metrics.`acc` DESC"],
    }


def test_experiments_are_read_page_by_page(servers: tuple[Recorder, Recorder]) -> None:
    mine, _ = servers
    first = {"experiment_id": "0", "name": "Default", "lifecycle_stage": "active"}
    deleted = {"experiment_id": "4", "name": "old", "lifecycle_stage": "deleted"}
    mine.answers["/api/2.0/mlflow/experiments/search"] = [
        (200, {"experiments": [first], "next_page_token": "t2"}, {}),
        (200, {"experiments": [deleted]}, {}),
    ]
    found = RestReader.for_uri(mine.uri).experiments()
    assert found == {"0": ("Default", "active"), "4": ("old", "deleted")}
    assert [body.get("page_token") for _, body, _ in mine.seen] == [None, "t2"]
    assert all(body["view_type"] == "ALL" for _, body, _ in mine.seen)


def test_the_token_goes_to_its_own_server_only(
    servers: tuple[Recorder, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, other = servers
    _scope_token(monkeypatch, mine.uri)
    for server in (mine, other):
        server.answers["/api/2.0/mlflow/runs/search"] = (200, {"runs": []}, {})
        RestReader.for_uri(server.uri).search_runs(
            ["0"], "", deleted=False, max_results=1, order_by=None
        )
    assert mine.seen[0][2] == "Bearer s3cret"
    assert other.seen[0][2] is None  # same host, another port: another origin


def test_a_redirect_is_not_followed_and_takes_no_token_elsewhere(
    servers: tuple[Recorder, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, other = servers
    _scope_token(monkeypatch, mine.uri)
    endpoint = "/api/2.0/mlflow/runs/search"
    mine.answers[endpoint] = (307, {}, {"Location": other.uri + endpoint})
    other.answers[endpoint] = (200, {"runs": RUNS}, {})
    with pytest.raises(Unsupported, match="307"):
        RestReader.for_uri(mine.uri).search_runs(
            ["0"], "", deleted=False, max_results=1, order_by=None
        )
    assert len(mine.seen) == 1 and other.seen == []


@pytest.mark.parametrize(
    "setting",
    [
        ("MLFLOW_TRACKING_USERNAME", "ana"),
        ("MLFLOW_TRACKING_TOKEN", "unscoped"),
        ("MLFLOW_TRACKING_INSECURE_TLS", "true"),
        ("MLFLOW_WORKSPACE", "team-b"),
        ("MLFLOW_TRACKING_AUTH", "someone-elses-plugin"),
        ("credentials file", ""),
    ],
)
def test_settings_that_change_mlflows_request_are_left_to_mlflow(
    servers: tuple[Recorder, Recorder],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    setting: tuple[str, str],
) -> None:
    mine, _ = servers
    name, value = setting
    if name == "credentials file":
        (tmp_path / ".mlflow").mkdir()
        (tmp_path / ".mlflow" / "credentials").write_text("[mlflow]\nmlflow_tracking_username=a\n")
    else:
        monkeypatch.setenv(name, value)
    with pytest.raises(Unsupported):
        RestReader.for_uri(mine.uri)
    assert mine.seen == []


def test_restricted_mode_reaches_no_server_and_a_bad_answer_is_refused(
    servers: tuple[Recorder, Recorder],
) -> None:
    mine, _ = servers
    with local_only(), pytest.raises(NetworkRefusedError):
        RestReader.for_uri(mine.uri)
    with pytest.raises(Unsupported):
        RestReader.for_uri("sqlite:///mlflow.db")
    mine.answers["/api/2.0/mlflow/runs/search"] = (
        200,
        {"runs": [{"info": {"start_time": 1.5}}]},
        {},
    )
    with pytest.raises(Unsupported, match="start_time"):
        RestReader.for_uri(mine.uri).search_runs(
            ["0"], "", deleted=False, max_results=1, order_by=None
        )
    assert len(mine.seen) == 1


def test_an_answer_a_header_plugin_would_have_changed_is_dropped(
    servers: tuple[Recorder, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plugin lookup runs while the request is out (0.1 s of a cold page): with a plugin
    installed, the answer is not used, and MLflow's client asks instead."""
    import importlib.metadata

    from mlworkbench.explorer import rest_search

    mine, _ = servers
    mine.answers["/api/2.0/mlflow/runs/search"] = (200, {"runs": RUNS}, {})
    installed = {"mlflow.request_header_provider": ["tenant = plugin:TenantHeader"]}
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: installed.get(group, []))
    monkeypatch.setattr(rest_search, "_plugins", rest_search._PluginCheck())
    with pytest.raises(Unsupported, match="plugin"):
        RestReader.for_uri(mine.uri).search_runs(
            ["0"], "", deleted=False, max_results=1, order_by=None
        )
    assert len(mine.seen) == 1
    installed.clear()
    monkeypatch.setattr(rest_search, "_plugins", rest_search._PluginCheck())
    found = RestReader.for_uri(mine.uri).search_runs(
        ["0"], "", deleted=False, max_results=1, order_by=None
    )
    assert [run.run_id for run in found] == ["a1", "b2", "c3"]
