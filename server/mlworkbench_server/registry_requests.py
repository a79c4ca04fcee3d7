"""Model registry requests for the Models view: list, register a run's model, move aliases.

Thin adapters over `mlworkbench.registry.model_registry`: parse, call, convert. Writes change a
store other tools (and people) rely on, so they are refused until the workspace is trusted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlworkbench_server.protocol import REQUESTS
from mlworkbench_server.request_path import Trust, request, workspace_of

if TYPE_CHECKING:
    from mlworkbench_server.registry_protocol import (
        DeleteModelAliasParams,
        ListModelsParams,
        RegisterModelParams,
        SetModelAliasParams,
    )
    from mlworkbench_server.server import WorkbenchServer


def register(server: WorkbenchServer) -> None:
    @request(server, REQUESTS["LIST_MODELS"], Trust.READ_LOCAL)
    def list_models(ls: WorkbenchServer, params: ListModelsParams) -> dict[str, object]:
        from mlworkbench.registry import model_registry

        models = model_registry.list_models(workspace_of(params), tracking_uri=ls.tracking_uri)
        return {"models": [model.to_dict() for model in models]}

    @request(server, REQUESTS["REGISTER_MODEL"], Trust.WRITE, refused="register models")
    def register_model(ls: WorkbenchServer, params: RegisterModelParams) -> dict[str, object]:
        from mlworkbench.registry import model_registry

        version = model_registry.register_model(
            workspace_of(params),
            params["runId"],
            params["name"],
            model_path=params.get("modelPath") or None,
            tracking_uri=ls.tracking_uri,
        )
        return version.to_dict()

    @request(server, REQUESTS["SET_MODEL_ALIAS"], Trust.WRITE, refused="change model aliases")
    def set_model_alias(ls: WorkbenchServer, params: SetModelAliasParams) -> dict[str, object]:
        from mlworkbench.registry import model_registry

        model = model_registry.set_alias(
            workspace_of(params),
            params["name"],
            params["alias"],
            params["version"],
            tracking_uri=ls.tracking_uri,
        )
        return model.to_dict()

    @request(server, REQUESTS["DELETE_MODEL_ALIAS"], Trust.WRITE, refused="change model aliases")
    def delete_model_alias(
        ls: WorkbenchServer, params: DeleteModelAliasParams
    ) -> dict[str, object]:
        from mlworkbench.registry import model_registry

        model = model_registry.delete_alias(
            workspace_of(params), params["name"], params["alias"], tracking_uri=ls.tracking_uri
        )
        return model.to_dict()
