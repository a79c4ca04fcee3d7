"""Data and checks the explorer's store tests share: SQLite tables, PostgreSQL, a tracking server.

Each reader of a store (the tables straight, MLflow's REST API) must answer what MLflow's own
client answers; the same histories and the same page-by-page comparison serve every backend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.entities import Metric

WINDOWS = ((0, 100), (0, 7), (7, 7), (200, 5))  # (offset, limit) of the pages compared


def history_points(r: int, keys: int = 2) -> list[Metric]:
    """Run `r`'s histories of `k0`... : 60 points each, ties on step and timestamp, NaN and
    the infinities, a negative step (MLflow's order within ties is part of the answer)."""
    from mlflow.entities import Metric

    points = [
        Metric(f"k{k}", (s * 7 + k + r) % 5 / 3, 1000 + s % 4, s // 2)
        for k in range(keys)
        for s in range(60)
    ]
    return [
        *points,
        Metric("k0", math.nan, 1, 99),
        Metric("k0", 0.25, 1, 99),
        Metric("k0", math.inf, 2, 100),
        Metric("k1", -math.inf, 2, 100),
        Metric("k1", 0.1 + 0.2, 3, -1),
    ]


def check_first_pages(
    read: Callable[..., tuple[list[Any], int, list[str]] | None],
    cache: Any,
    scopes: Sequence[str | None],
    windows: Sequence[tuple[int, int]] = WINDOWS,
) -> int:
    """Every default-order page `read(experiment_id=, offset=, limit=, deleted=)` gives, in
    each scope, window and stage, is the page the loaded `cache` answers; the runs compared."""
    checked = 0
    for experiment in scopes:
        for deleted in (False, True):
            for offset, limit in windows:
                expected = cache.query(
                    experiment_id=experiment, offset=offset, limit=limit, deleted=deleted
                )
                found = read(experiment_id=experiment, offset=offset, limit=limit, deleted=deleted)
                assert found is not None, (experiment, deleted, offset, limit)
                runs, total, scripts = found
                assert [r.to_dict() for r in runs] == [r.to_dict() for r in expected.runs]
                assert (total, scripts) == (expected.total, expected.scripts)
                checked += len(runs)
    return checked


class RouteClient:
    """A workspace server's own routes (first_page_route.py, store_route.py) called in this
    process, read back as RestReader.post hands answers to their clients: only the HTTP hop
    is left out (test_explorer_rest.py asks a real server). Any status but 200 fails."""

    def __init__(self, store_uri: str, password: str | None = None) -> None:
        self.store_uri, self.password = store_uri, password

    def post(self, endpoint: str, body: dict[str, object]) -> dict[str, Any]:
        import json

        from mlworkbench.explorer import first_page_route, store_route

        answer = {
            first_page_route.PAGE_ROUTE: first_page_route.answer_page,
            first_page_route.EXPERIMENTS_ROUTE: first_page_route.answer_experiments,
            store_route.ROUTE: store_route.answer,
        }[endpoint]
        status, text = answer(self.store_uri, self.password, json.dumps(body).encode())
        assert status == 200, text
        return json.loads(text)  # type: ignore[no-any-return]


def served_first_page(
    store_uri: str, password: str | None = None
) -> Callable[..., tuple[list[Any], int, list[str]]]:
    """A `check_first_pages` reader: the page a workspace server's route answers for the store,
    read back as its client reads it (`first_page_route.ask_page`)."""
    from mlworkbench.explorer import first_page_route
    from mlworkbench.explorer.remote_page import PageAsk

    def read(
        *, experiment_id: str | None, offset: int, limit: int, deleted: bool
    ) -> tuple[list[Any], int, list[str]]:
        ask = PageAsk(None, None, experiment_id, offset, limit, deleted)
        page = first_page_route.ask_page(RouteClient(store_uri, password), ask)  # type: ignore[arg-type]
        assert page.loading and page.total_known
        return page.runs, page.total, page.scripts

    return read
