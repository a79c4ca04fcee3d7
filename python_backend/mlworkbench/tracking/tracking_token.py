"""The tracking server's bearer token, sent only to that server's own origin.

MLflow sends `MLFLOW_TRACKING_TOKEN` with every REST call it makes: to the tracking server, but
also to an `http(s)://` artifact location or model source that a store names. A store that came
with a repository can name any host, so the token never sits in that variable in a process that
reads such stores. Instead it is held in `MLWORKBENCH_TRACKING_TOKEN`, with the URI of the server
it belongs to in `MLWORKBENCH_TRACKING_TOKEN_URI`, and MLflow's request-auth plugin hook
(`MLFLOW_TRACKING_AUTH`, entry point `mlflow.request_auth_provider`) adds the header to a request
only when the request's origin (scheme, host, port) is that server's. A child process that
tracks to that very server (a training run) gets the plain variable; others get nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

TOKEN_ENV = "MLWORKBENCH_TRACKING_TOKEN"  # noqa: S105 (a variable name)
TOKEN_URI_ENV = "MLWORKBENCH_TRACKING_TOKEN_URI"  # noqa: S105
AUTH_NAME = "mlworkbench-scoped-token"
# What MLflow itself reads: never left in a process that opens stores it did not choose.
MLFLOW_TOKEN_ENV = "MLFLOW_TRACKING_TOKEN"  # noqa: S105
MLFLOW_AUTH_ENV = "MLFLOW_TRACKING_AUTH"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(uri: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URI, host lower-cased, default port filled in."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def same_origin(uri: str, other: str) -> bool:
    mine = origin(uri)
    return mine is not None and mine == origin(other)


def scope_process_token(environ: MutableMapping[str, str] | None = None) -> None:
    """Take the token out of MLflow's variable and switch MLflow to the scoped plugin.

    Called once when a process that reads stores starts (the language server). A token found in
    `MLFLOW_TRACKING_TOKEN` (the user's shell) is kept only for `MLFLOW_TRACKING_URI`, the server
    the user meant it for; without an http(s) tracking URI there is nowhere it may go.
    """
    env = os.environ if environ is None else environ
    inherited = env.pop(MLFLOW_TOKEN_ENV, None)
    if inherited and TOKEN_ENV not in env:
        scope = env.get("MLFLOW_TRACKING_URI", "")
        if origin(scope) is not None:
            env[TOKEN_ENV], env[TOKEN_URI_ENV] = inherited, scope
    if env.get(TOKEN_ENV) and origin(env.get(TOKEN_URI_ENV, "")) is not None:
        env[MLFLOW_AUTH_ENV] = AUTH_NAME
    else:
        env.pop(TOKEN_ENV, None)
        env.pop(TOKEN_URI_ENV, None)
        if env.get(MLFLOW_AUTH_ENV) == AUTH_NAME:
            env.pop(MLFLOW_AUTH_ENV)


def bearer_for(uri: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The scoped token when `uri` is on its server's origin, else None (a request made without
    MLflow, remote pages' REST reads: the same rule as `ScopedTokenAuth`)."""
    env = os.environ if environ is None else environ
    token, scope = env.get(TOKEN_ENV), env.get(TOKEN_URI_ENV, "")
    return token if token and same_origin(uri, scope) else None


def child_token_env(
    environ: Mapping[str, str], tracking_uri: str, *, tracks_there: bool = True
) -> dict[str, str]:
    """A child's environment: `environ` without the token, plus MLflow's own token variable when
    the child tracks to the token's server (`tracks_there`: it is a training run; an MLflow UI or
    TensorBoard serving files gets none)."""
    env = {
        key: value
        for key, value in environ.items()
        if key not in (TOKEN_ENV, TOKEN_URI_ENV, MLFLOW_TOKEN_ENV)
    }
    if env.get(MLFLOW_AUTH_ENV) == AUTH_NAME:
        del env[MLFLOW_AUTH_ENV]
    token, scope = environ.get(TOKEN_ENV), environ.get(TOKEN_URI_ENV, "")
    if tracks_there and token and same_origin(tracking_uri, scope):
        env[MLFLOW_TOKEN_ENV] = token
    return env


class ScopedTokenAuth:
    """A `requests` auth callable: the bearer header for the scoped origin, nothing elsewhere."""

    def __init__(self, token: str, scope: str) -> None:
        self._token = token
        self._scope = scope

    def __call__(self, request: Any) -> Any:
        url = str(getattr(request, "url", "") or "")
        if same_origin(url, self._scope):
            request.headers["Authorization"] = f"Bearer {self._token}"
        else:
            request.headers.pop("Authorization", None)
        return request

    def __repr__(self) -> str:  # never the token, should MLflow log the object
        return f"ScopedTokenAuth(scope={self._scope!r})"


class ScopedTokenProvider:
    """MLflow's request-auth provider for `MLFLOW_TRACKING_AUTH=mlworkbench-scoped-token`.

    Registered through the `mlflow.request_auth_provider` entry point (pyproject.toml); MLflow
    asks it for an auth object per request and passes that object to `requests`.
    """

    def get_name(self) -> str:
        return AUTH_NAME

    def get_auth(self) -> ScopedTokenAuth | None:
        token, scope = os.environ.get(TOKEN_ENV), os.environ.get(TOKEN_URI_ENV, "")
        if not token or origin(scope) is None:
            return None
        return ScopedTokenAuth(token, scope)
