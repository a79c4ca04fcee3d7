"""The Runs view's pages from a tracking server while the run cache reads it whole.

Why: a tracking server builds ~2.5 ms of JSON per run, so the cache's whole read of 100,000
runs took minutes (250 s from a server on PostgreSQL) and the view had no page until then.
MLflow's REST API answers one page with `search_runs(max_results=...)` in its own order and
filter semantics (a filter with `or` is asked as its parts and merged, as run_filter does), so
while the cache loads, a page of any filter and order is a search or two: the runs and the
order the cache will answer (sorted again with `sort_cached`, the cache's own rules).

A cold language server asks without MLflow's client (rest_search.py: its import alone took
longer than the 1 s a first page may take), a client that adds more to its requests with it.

What one search cannot tell is how many runs match (MLflow's API counts nothing): such a page's
`total` is the runs it has seen, a lower bound (`total_known` False) while the server has more,
and its scripts are those of the runs it read. Experiments come with no run count
(`run_count_known` False) until the cache has read every run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mlworkbench.explorer.cached_runs import CachedRun, cached_run, sort_cached
from mlworkbench.explorer.run_filter import OrderKey, to_mlflow_filters
from mlworkbench.explorer.run_listing import SCRIPT_TAG
from mlworkbench.explorer.store_tables import Unsupported, page_scope

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlworkbench.explorer.run_cache import RunPage
    from mlworkbench.explorer.run_listing import RunSummary

# Runs (offset + limit) a quick page reads at most: a server answers 5,000 in about 12 s at
# 100,000 runs; past that, the query waits for the cache as any query did before.
QUICK_MAX = 5_000


def is_remote(tracking_uri: str) -> bool:
    return tracking_uri.lower().startswith(("http://", "https://"))


class RunSearch(Protocol):
    """One page of MLflow's `search_runs`, as CachedRuns (rest_search.RestReader's, or
    `mlflow_search` of an MLflow client)."""

    def __call__(
        self,
        experiment_ids: list[str],
        filter_string: str,
        *,
        deleted: bool,
        max_results: int,
        order_by: list[str] | None,
    ) -> list[CachedRun]: ...


def mlflow_search(client: MlflowClient) -> RunSearch:
    """`RunSearch` through MLflow's client."""

    def search(
        experiment_ids: list[str],
        filter_string: str,
        *,
        deleted: bool,
        max_results: int,
        order_by: list[str] | None,
    ) -> list[CachedRun]:
        from mlflow.entities import ViewType

        found = client.search_runs(
            experiment_ids,
            filter_string,
            run_view_type=ViewType.DELETED_ONLY if deleted else ViewType.ACTIVE_ONLY,
            max_results=max_results,
            order_by=order_by,
        )
        return [cached_run(run) for run in found]

    return search


def experiments_of(client: MlflowClient) -> dict[str, tuple[str, str]]:
    """Every experiment ({id: (name, lifecycle stage)}), one request per 50,000."""
    from mlflow.entities import ViewType

    found: dict[str, tuple[str, str]] = {}
    token: str | None = None
    while True:
        page = client.search_experiments(
            view_type=ViewType.ALL, max_results=50_000, page_token=token
        )
        found.update((e.experiment_id, (e.name, e.lifecycle_stage)) for e in page)
        token = page.token
        if not token:
            return found


@dataclass(frozen=True)
class PageAsk:
    """What a query asks for: a page of a filter's runs in an order, in one scope."""

    filter: str | None
    order: OrderKey | None
    experiment_id: str | None
    offset: int
    limit: int
    deleted: bool


def remote_page(
    search: RunSearch,
    experiments: dict[str, tuple[str, str]],
    summary: Callable[[CachedRun, str], RunSummary],
    ask: PageAsk,
) -> RunPage | None:
    """The page as the loaded cache would answer it, marked `loading`, from MLflow's search;
    None when this is not a page to ask that way (too deep, an experiment that is unknown or
    deleted: the cache answers, with its errors). `summary(run, experiment name)` is the
    cache's own summary of a run; the search's errors reach the caller."""
    from mlworkbench.explorer.run_cache import RunPage

    offset, limit, order, deleted = ask.offset, ask.limit, ask.order, ask.deleted
    if offset + limit > QUICK_MAX:
        return None
    try:
        scope = page_scope(experiments, ask.experiment_id)
    except Unsupported:
        return None
    if not scope:
        return RunPage(runs=[], total=0, next_offset=None, scripts=[], deleted_run_ids=[])
    wanted = offset + limit
    found: dict[str, CachedRun] = {}
    for filter_string in to_mlflow_filters(ask.filter):
        # One run more than the page: whether more match, without trusting a page token
        # (a server may hand one out when the results just fill the page).
        for run in search(
            scope,
            filter_string,
            deleted=deleted,
            max_results=wanted + 1,
            order_by=[order.to_mlflow()] if order else None,
        ):
            found.setdefault(run.run_id, run)
    more = len(found) > wanted
    ordered = sort_cached(list(found.values()), order)[:wanted]  # the cache's order
    window = ordered[offset:wanted]
    end = offset + len(window)
    return RunPage(
        runs=[summary(run, experiments[run.experiment_id][0]) for run in window],
        total=len(ordered),
        next_offset=end if more or end < len(ordered) else None,
        scripts=sorted({s for run in ordered if (s := run.tags.get(SCRIPT_TAG))}),
        deleted_run_ids=[run.run_id for run in window] if deleted else [],
        loading=True,
        total_known=not more,
    )
