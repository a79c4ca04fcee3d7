"""Model registry requests for the Models view: list, register a run's model, move aliases.

Thin adapters over `mlworkbench.model_registry`: parse, call, convert. Writes change a store
other tools (and people) rely on, so they are refused until the workspace is trusted.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pygls.exceptions import JsonRpcException
from pygls.uris import to_fs_path

from mlworkbench_server.errors import to_lsp_error
from mlworkbench_server.protocol import ERROR_CODES, REQUESTS

if TYPE_CHECKING:
    from mlworkbench_server.server import WorkbenchServer


def workspace_of(params: Any) -> Path:
    uri = str(params.workspaceUri)
    return Path(to_fs_path(uri) or uri)


def require_trust(server: WorkbenchServer, what: str) -> None:
    if not server.trusted:
        raise JsonRpcException(
            code=ERROR_CODES["UNTRUSTED_WORKSPACE"],
            message=f"ML Workbench does not {what} in Restricted Mode: trust the workspace first.",
        )


def register(server: WorkbenchServer) -> None:
    @server.feature(REQUESTS["LIST_MODELS"])
    @server.thread()
    def list_models(ls: WorkbenchServer, params: Any) -> dict[str, object]:
        from mlworkbench import model_registry
        from mlworkbench.errors import MlWorkbenchError

        try:
            models = model_registry.list_models(workspace_of(params), tracking_uri=ls.tracking_uri)
        except MlWorkbenchError as error:
            raise to_lsp_error(error) from error
        return {"models": [model.to_dict() for model in models]}

    @server.feature(REQUESTS["REGISTER_MODEL"])
    @server.thread()
    def register_model(ls: WorkbenchServer, params: Any) -> dict[str, object]:
        from mlworkbench import model_registry
        from mlworkbench.errors import MlWorkbenchError

        require_trust(ls, "register models")
        try:
            version = model_registry.register_model(
                workspace_of(params),
                str(params.runId),
                str(params.name),
                model_path=getattr(params, "modelPath", None) or None,
                tracking_uri=ls.tracking_uri,
            )
        except MlWorkbenchError as error:
            raise to_lsp_error(error) from error
        return version.to_dict()

    @server.feature(REQUESTS["SET_MODEL_ALIAS"])
    @server.thread()
    def set_model_alias(ls: WorkbenchServer, params: Any) -> dict[str, object]:
        from mlworkbench import model_registry
        from mlworkbench.errors import MlWorkbenchError

        require_trust(ls, "change model aliases")
        try:
            model = model_registry.set_alias(
                workspace_of(params),
                str(params.name),
                str(params.alias),
                str(params.version),
                tracking_uri=ls.tracking_uri,
            )
        except MlWorkbenchError as error:
            raise to_lsp_error(error) from error
        return model.to_dict()

    @server.feature(REQUESTS["DELETE_MODEL_ALIAS"])
    @server.thread()
    def delete_model_alias(ls: WorkbenchServer, params: Any) -> dict[str, object]:
        from mlworkbench import model_registry
        from mlworkbench.errors import MlWorkbenchError

        require_trust(ls, "change model aliases")
        try:
            model = model_registry.delete_alias(
                workspace_of(params),
                str(params.name),
                str(params.alias),
                tracking_uri=ls.tracking_uri,
            )
        except MlWorkbenchError as error:
            raise to_lsp_error(error) from error
        return model.to_dict()
