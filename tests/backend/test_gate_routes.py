"""The workspace server's own routes for the explorer (first_page_route.py, store_route.py):
what they refuse and when they leave the answer to MLflow's routes.

Why: the routes take a request body from the network (behind the gate's token) and read the
store's tables with it, so a body that is not a request they know must be a 400 naming what is
wrong, never a query; and a store the tables cannot read exactly must be a 409, which sends the
client back to MLflow's routes instead of a guess; and an answer the client cannot read is
left to MLflow's routes too. The answers' parity with MLflow is tested on real stores
(test_explorer_scale.py, test_explorer_pg.py) and through a real server
(test_explorer_rest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlworkbench.explorer import first_page_route, store_route


def _body(**asked: object) -> bytes:
    return json.dumps({"experiment_id": None, "offset": 0, "limit": 100, **asked}).encode()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", "must be an object"),
        (_body(offset=-1), "'offset'"),
        (_body(offset=1.5), "'offset'"),
        (_body(offset=True), "'offset'"),
        (_body(limit=0), "'limit'"),
        (_body(limit=first_page_route.MAX_LIMIT + 1), "'limit'"),
        (_body(limit="100"), "'limit'"),
        (_body(experiment_id=1), "'experiment_id'"),
        (_body(experiment_id="1 OR 1=1"), "'experiment_id'"),
        (_body(experiment_id="-1"), "'experiment_id'"),
        (_body(deleted="yes"), "'deleted'"),
    ],
)
def test_a_body_that_is_not_a_page_request_is_a_400_naming_the_field(
    tmp_path: Path, body: bytes, says: str
) -> None:
    status, answer = first_page_route.answer_page(f"sqlite:///{tmp_path / 'm.db'}", None, body)
    assert status == 400
    assert says in json.loads(answer)["error"]
    assert not (tmp_path / "m.db").exists()  # nothing was opened, let alone created


@pytest.mark.parametrize("body", [b"", b"[]", b'{"x": 1}', b"null"])
def test_the_experiments_route_takes_only_an_empty_object(tmp_path: Path, body: bytes) -> None:
    status, answer = first_page_route.answer_experiments(
        f"sqlite:///{tmp_path / 'm.db'}", None, body
    )
    assert (status, json.loads(answer)) == (400, {"error": "the body must be an empty object"})


def test_a_store_the_tables_cannot_read_is_a_409_and_is_left_as_it_was(tmp_path: Path) -> None:
    """Missing, corrupt, or not a store the tables read: MLflow's routes answer instead."""
    reads = {
        first_page_route.answer_page: _body(),
        first_page_route.answer_experiments: b"{}",
        store_route.answer: b'{"run_ids": null}',
    }
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"not a database" * 100)
    stores = [
        f"sqlite:///{tmp_path / 'absent.db'}",
        f"sqlite:///{corrupt}",
        "mysql://u@127.0.0.1:1/mlflow",
        f"file://{tmp_path}",
    ]
    for store in stores:
        for read, body in reads.items():
            status, answer = read(store, None, body)
            assert status == 409 and json.loads(answer)["error"], (store, read)
    assert not (tmp_path / "absent.db").exists()
    assert corrupt.read_bytes() == b"not a database" * 100


class _Answers:
    """A server's answer to `ask_page`/`ask_experiments`, as RestReader.post returns it."""

    def __init__(self, answer: dict[str, object]) -> None:
        self.answer = answer
        self.asked: list[tuple[str, dict[str, object]]] = []

    def post(self, endpoint: str, body: dict[str, object]) -> dict[str, object]:
        self.asked.append((endpoint, body))
        return self.answer


_RUN = {
    "run_id": "a" * 32,
    "experiment_id": "1",
    "experiment_name": "e",
    "run_name": "r",
    "status": "FINISHED",
    "start_time": 1,
    "end_time": 2,
    "script": None,
    "metrics": {"m": 0.5},
    "params": {"p": "1"},
    "exit_code": None,
    "error_tail": None,
    "primary_metric": "m",
}


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"runs": [], "total": "1", "scripts": []},
        {"runs": [], "total": 1, "scripts": [1]},
        {"runs": [{**_RUN, "extra": 1}], "total": 1, "scripts": []},
        {"runs": [{**_RUN, "run_id": 5}], "total": 1, "scripts": []},
        {"runs": [{**_RUN, "metrics": []}], "total": 1, "scripts": []},
        {"runs": [{**_RUN, "metrics": {"m": "high"}}], "total": 1, "scripts": []},
    ],
)
def test_an_answer_this_client_cannot_read_is_left_to_mlflows_search(
    answer: dict[str, object],
) -> None:
    from mlworkbench.explorer.remote_page import PageAsk
    from mlworkbench.explorer.store_tables import Unsupported

    with pytest.raises(Unsupported):
        first_page_route.ask_page(_Answers(answer), PageAsk(None, None, None, 0, 10, False))  # type: ignore[arg-type]


def test_a_page_answer_is_the_loading_page_and_only_the_default_order_is_asked() -> None:
    from mlworkbench.explorer.remote_page import PageAsk
    from mlworkbench.explorer.run_filter import OrderKey
    from mlworkbench.explorer.store_tables import Unsupported

    server = _Answers({"runs": [_RUN], "total": 7, "scripts": ["/ws/t.py"]})
    page = first_page_route.ask_page(server, PageAsk(None, None, "1", 3, 1, True))  # type: ignore[arg-type]
    assert server.asked == [
        (
            first_page_route.PAGE_ROUTE,
            {"experiment_id": "1", "offset": 3, "limit": 1, "deleted": True},
        )
    ]
    assert page.runs[0].to_dict() == _RUN and page.loading and page.total_known
    assert (page.total, page.next_offset, page.scripts) == (7, 4, ["/ws/t.py"])
    assert page.deleted_run_ids == ["a" * 32]
    for ask in (
        PageAsk("metrics.m > 0", None, None, 0, 1, False),
        PageAsk(None, OrderKey("metrics", "m", ascending=True), None, 0, 1, False),
    ):
        with pytest.raises(Unsupported):
            first_page_route.ask_page(server, ask)  # type: ignore[arg-type]
    assert len(server.asked) == 1  # a filter or another order is never sent


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "not JSON"),
        (b"{}", "'run_ids'"),
        (b"[null]", "'run_ids'"),
        (b'{"run_ids": []}', "'run_ids'"),
        (b'{"run_ids": "abc"}', "'run_ids'"),
        (b'{"run_ids": [1]}', "'run_ids'"),
        (b'{"run_ids": [" "]}', "'run_ids'"),
        (json.dumps({"run_ids": ["a"] * (store_route.MAX_RUN_IDS + 1)}).encode(), "'run_ids'"),
    ],
)
def test_a_body_that_is_not_a_store_read_is_a_400(tmp_path: Path, body: bytes, says: str) -> None:
    status, answer = store_route.answer(f"sqlite:///{tmp_path / 'm.db'}", None, body)
    assert status == 400 and says in json.loads(answer)["error"]
    assert not (tmp_path / "m.db").exists()


_ROW = ["a" * 32, "1", "r", "FINISHED", 1, 2, "u", "file:///x", "active", {"m": 0.5}, {}, {}]


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"experiments": [["1", "e"]], "runs": []},
        {"experiments": [[1, "e", "active"]], "runs": []},
        {"experiments": [], "runs": [_ROW[:-1]]},
        {"experiments": [], "runs": [{"run_id": "a"}]},
        {"experiments": [], "runs": [[5, *_ROW[1:]]]},
        {"experiments": [], "runs": [[*_ROW[:9], {"m": "0.5"}, {}, {}]]},
        {"experiments": [], "runs": [[*_ROW[:9], {"m": 1}, {}, {}]]},
        {"experiments": [], "runs": [[*_ROW[:11], []]]},
    ],
)
def test_a_store_this_client_cannot_read_is_left_to_mlflows_search(
    answer: dict[str, object],
) -> None:
    from mlworkbench.explorer.store_tables import Unsupported

    with pytest.raises(Unsupported):
        store_route.ask(_Answers(answer), None)  # type: ignore[arg-type]


def test_a_store_answer_is_the_caches_runs() -> None:
    server = _Answers({"experiments": [["1", "e", "active"]], "runs": [_ROW]})
    experiments, runs = store_route.ask(server, ["a" * 32])  # type: ignore[arg-type]
    assert server.asked == [(store_route.ROUTE, {"run_ids": ["a" * 32]})]
    assert experiments == {"1": ("e", "active")}
    assert runs[0].run_id == "a" * 32 and runs[0].metrics == {"m": 0.5}
    assert runs[0].artifact_uri == "file:///x" and runs[0].lifecycle_stage == "active"


def test_a_kept_answer_is_given_again_only_in_the_same_snapshot() -> None:
    """The gate's PostgreSQL answers (first_page_route.SnapshotAnswers): read again whenever
    the store's snapshot differs, the newest kept, the oldest dropped past the size."""
    kept = first_page_route.SnapshotAnswers(size=2)
    reads: list[str] = []

    def read(text: str) -> bytes:
        reads.append(text)
        return text.encode()

    assert kept.answer("page", "10:10:", lambda: read("a")) == b"a"
    assert kept.answer("page", "10:10:", lambda: read("b")) == b"a"  # the same snapshot
    assert kept.answer("page", "10:11:", lambda: read("c")) == b"c"  # a commit since
    assert kept.answer("page", "10:10:", lambda: read("d")) == b"d"  # never an older answer
    assert kept.answer("experiments", "10:10:", lambda: read("e")) == b"e"  # another request
    assert kept.answer("other", "10:10:", lambda: read("f")) == b"f"
    assert kept.answer("page", "10:10:", lambda: read("g")) == b"g"  # dropped: size 2
    assert reads == ["a", "c", "d", "e", "f", "g"] and kept.reused == 1
