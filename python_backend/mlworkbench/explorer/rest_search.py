"""A tracking server's run and experiment searches over its REST API, without MLflow's client.

Why: MLflow takes 2.5-3.6 s to import in a cold language server, and a Runs view opened on a
workspace that tracks to a server waited for it before its first page (3.96 s at 100,000 runs;
the goal is 1 s). While the cache loads, a page is a search or two (remote_page.py): asked here
with `urllib`, as the same request body MLflow's `RestStore` posts, and read into the
`CachedRun`s MLflow's `Run.from_proto` gives. Absent fields take their protobuf defaults as
there: "" for text, 0 for a start time, RUNNING for a status, no end time for 0.

It is used only where MLflow's client would send that request with nothing more
(`RestReader.for_uri` raises `Unsupported` otherwise, and the caller asks MLflow): no user
name or password (variables or ~/.mlflow/credentials), no TLS or AWS settings, no MLflow
workspace, no request-header plugin (looked up while the first request is out, and its answer
dropped if there is one), and a token only as the workbench's scoped one. That token
goes to its own server's origin and nowhere else (tracking_token.py); redirects are refused,
since one could lead the request, and the token, elsewhere; Restricted Mode's network policy is
checked before anything connects.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlworkbench.explorer.cached_runs import CachedRun
from mlworkbench.explorer.store_tables import Unsupported
from mlworkbench.tracking import tracking_token

# What would make MLflow's request differ from ours (credentials.py, rest_utils.py).
_MLFLOW_SETTINGS = (
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_AWS_SIGV4",
    "MLFLOW_TRACKING_INSECURE_TLS",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
    "MLFLOW_TRACKING_SERVER_CERT_PATH",
    "MLFLOW_WORKSPACE",
)
_HEADER_PLUGINS = "mlflow.request_header_provider"
_DEFAULT_TIMEOUT_S = 120.0  # MLflow's MLFLOW_HTTP_REQUEST_TIMEOUT default
EXPERIMENTS_PER_REQUEST = 50_000


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx is raised as an HTTPError: MLflow's client answers it instead


@functools.cache
def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirects)


class _PluginCheck:
    """Whether a request-header plugin is installed, looked up once per process on a thread.

    Why a thread: scanning every installed distribution's entry points takes ~0.1 s, a tenth
    of a cold page's budget; a request sent meanwhile leaks nothing (a plugin only adds
    headers), so the scan overlaps the first request's wait for the server, and the answer is
    used only once the scan says no plugin would have changed it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._started = False
        self._found = False

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._scan, name="header-plugin-check", daemon=True).start()

    def _scan(self) -> None:
        try:
            from importlib.metadata import entry_points

            self._found = bool(entry_points(group=_HEADER_PLUGINS))
        except Exception:  # metadata it cannot read: assume a plugin, and let MLflow ask
            self._found = True
        finally:
            self._done.set()

    def found(self) -> bool:
        self.start()
        self._done.wait()
        return self._found


_plugins = _PluginCheck()


@dataclass(frozen=True)
class RestReader:
    """Searches of one tracking server, as MLflow's `RestStore` asks them."""

    base: str  # the tracking URI without a trailing slash
    token: str | None  # the scoped bearer token, when it belongs to this server
    timeout_s: float

    @classmethod
    def for_uri(cls, tracking_uri: str) -> RestReader:
        """A reader of `tracking_uri`; `Unsupported` where MLflow would send more than we do,
        `NetworkRefusedError` for another host in Restricted Mode."""
        from mlworkbench.tracking.network_access import require_local

        if tracking_token.origin(tracking_uri) is None:
            raise Unsupported("not an http(s) tracking URI")
        env = os.environ
        if any(env.get(name) for name in _MLFLOW_SETTINGS):
            raise Unsupported("MLflow's client has credentials or TLS settings for this server")
        if env.get(tracking_token.MLFLOW_AUTH_ENV, tracking_token.AUTH_NAME) != (
            tracking_token.AUTH_NAME
        ):
            raise Unsupported("another request-auth plugin is configured")
        if Path("~/.mlflow/credentials").expanduser().exists():
            raise Unsupported("MLflow's client adds credentials of its own")
        _plugins.start()  # its answer is awaited in `post`, after the server's
        require_local(tracking_uri, "the tracking store")
        try:
            timeout_s = float(env.get("MLFLOW_HTTP_REQUEST_TIMEOUT") or _DEFAULT_TIMEOUT_S)
        except ValueError as error:
            raise Unsupported("MLFLOW_HTTP_REQUEST_TIMEOUT is not a number") from error
        return cls(tracking_uri.rstrip("/"), tracking_token.bearer_for(tracking_uri), timeout_s)

    def experiments(self) -> dict[str, tuple[str, str]]:
        """Every experiment ({id: (name, lifecycle stage)}), as `experiments_of` reads them."""
        found: dict[str, tuple[str, str]] = {}
        token: str | None = None
        while True:
            body: dict[str, object] = {
                "max_results": EXPERIMENTS_PER_REQUEST,
                "view_type": "ALL",
            }
            if token:
                body["page_token"] = token
            answer = self.post("/api/2.0/mlflow/experiments/search", body)
            for experiment in _list(answer, "experiments"):
                found[_text(experiment, "experiment_id")] = (
                    _text(experiment, "name"),
                    _text(experiment, "lifecycle_stage"),
                )
            token = _text(answer, "next_page_token")
            if not token:
                return found

    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str,
        *,
        deleted: bool,
        max_results: int,
        order_by: list[str] | None,
    ) -> list[CachedRun]:
        """One `runs/search` page: what `MlflowClient.search_runs` returns, as CachedRuns."""
        body: dict[str, object] = {
            "experiment_ids": [str(i) for i in experiment_ids],
            "run_view_type": "DELETED_ONLY" if deleted else "ACTIVE_ONLY",
            "max_results": max_results,
        }
        if filter_string:
            body["filter"] = filter_string
        if order_by:
            body["order_by"] = order_by
        answer = self.post("/api/2.0/mlflow/runs/search", body)
        return [_cached_run(run) for run in _list(answer, "runs")]

    def post(self, endpoint: str, body: dict[str, object]) -> dict[str, Any]:
        """POST `body` as JSON to `endpoint`; the answer's JSON object, or Unsupported for an
        HTTP error status or an answer that is not an object (urllib's errors otherwise)."""
        request = urllib.request.Request(  # noqa: S310 - for_uri admits http(s) only
            self.base + endpoint,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        if self.token is not None:
            request.add_unredirected_header("Authorization", f"Bearer {self.token}")
        try:
            with _opener().open(request, timeout=self.timeout_s) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            error.close()
            raise Unsupported(f"the server answered {error.code} to {endpoint}") from None
        if _plugins.found():
            raise Unsupported("a request-header plugin would have changed MLflow's request")
        if not isinstance(answer, dict):
            raise Unsupported(f"{endpoint} answered {type(answer).__name__}, not an object")
        return answer


def _cached_run(run: object) -> CachedRun:
    """What `cached_run(Run.from_proto(...))` keeps of one run of a search's answer."""
    if not isinstance(run, dict):
        raise Unsupported("a run that is not an object")
    info, data = _object(run, "info"), _object(run, "data")
    end_time = _int(info, "end_time")
    metrics: dict[str, float] = {}
    for metric in _list(data, "metrics"):
        metrics[_text(metric, "key")] = _double(metric.get("value", 0.0))
    return CachedRun(
        run_id=_text(info, "run_id"),
        experiment_id=_text(info, "experiment_id"),
        run_name=_text(info, "run_name"),
        status=_text(info, "status") or "RUNNING",
        start_time=_int(info, "start_time"),
        end_time=end_time or None,
        user_id=_text(info, "user_id"),
        artifact_uri=_text(info, "artifact_uri"),
        lifecycle_stage=_text(info, "lifecycle_stage"),
        metrics=metrics,
        params={_text(p, "key"): _text(p, "value") for p in _list(data, "params")},
        tags={_text(t, "key"): _text(t, "value") for t in _list(data, "tags")},
    )


def _object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key, {})
    if not isinstance(value, dict):
        raise Unsupported(f"'{key}' is not an object")
    return value


def _list(parent: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = parent.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise Unsupported(f"'{key}' is not a list of objects")
    return value


def _text(parent: dict[str, Any], key: str) -> str:
    value = parent.get(key, "")
    if not isinstance(value, str):
        raise Unsupported(f"'{key}' is not text")
    return value


def _int(parent: dict[str, Any], key: str) -> int:
    """An int64 field: a JSON number, or the decimal string protobuf's JSON may write."""
    value = parent.get(key, 0)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if type(value) is not int:
        raise Unsupported(f"'{key}' is not an integer")
    return value


def _double(value: object) -> float:
    """A double field: a JSON number, or "NaN", "Infinity", "-Infinity" as protobuf writes."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Unsupported("a metric value that is not a number")
    try:
        return float(value)
    except ValueError as error:
        raise Unsupported(f"a metric value {value!r}") from error
