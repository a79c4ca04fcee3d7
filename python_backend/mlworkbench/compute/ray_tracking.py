"""Which tracking server a run on a Ray target tracks to, and what the job needs to reach it.

A job on a cluster cannot write the workspace's `mlflow.db`, so it needs a server: one the user
named (`--tracking-uri`, `MLFLOW_TRACKING_URI`, the editor's `mlWorkbench.trackingUri`), else the
workspace's own (`mlworkbench server start`; the editor starts it on first use). The CLI and the
language server both decide here, so a run goes to the same place from either.

The workspace server's secret becomes this process's *scoped* token (`tracking_token`: sent to
that origin only), so the run created here and the explorer reach it; the job receives MLflow's
own token variable alone, inside its private job package.
"""

from __future__ import annotations

import os
from pathlib import Path

SUPPRESS_URL_ENV = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"


def tracking_for_ray(
    workspace: Path, named: str | None, *, start: bool
) -> tuple[str, dict[str, str]]:
    """(tracking URI, the job's environment for it).

    `named`: the user's own choice of store, used when it is a server (else ignored in favour of
    the workspace's server, as a file store cannot serve a cluster). `start`: start the
    workspace's server when none runs (the editor); otherwise TRACKING_SERVER_REQUIRED (a shell
    user is told to start it, and how).
    """
    from mlworkbench.compute.ray_errors import TrackingServerRequiredError
    from mlworkbench.compute.ray_jobs import tracking_env
    from mlworkbench.tracking import tracking_server

    if named and tracking_server.is_server_uri(named):
        return named, tracking_env(named)
    info = (
        tracking_server.start_server(workspace)
        if start
        else tracking_server.server_status(workspace)
    )
    token = tracking_server.server_token(workspace) if info is not None else None
    if info is None or token is None:
        raise TrackingServerRequiredError(named)
    admit(info.uri, token)
    # MLflow prints "View run … at <uri>" when a run ends on a server: this one admits only
    # requests with its token, so a browser cannot open the link; keep it out of the job's log.
    return info.uri, {"MLFLOW_TRACKING_TOKEN": token, SUPPRESS_URL_ENV: "true"}


def admit(uri: str, token: str) -> None:
    """Let this process's MLflow clients reach the workspace's server: its token, scoped to its
    origin (the request-auth plugin adds it to requests for that origin only)."""
    from mlworkbench.tracking.tracking_token import (
        AUTH_NAME,
        MLFLOW_AUTH_ENV,
        TOKEN_ENV,
        TOKEN_URI_ENV,
    )

    os.environ[TOKEN_ENV], os.environ[TOKEN_URI_ENV] = token, uri
    os.environ[MLFLOW_AUTH_ENV] = AUTH_NAME
