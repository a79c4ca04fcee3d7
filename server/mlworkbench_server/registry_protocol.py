"""Envelopes of the Models view's requests (registry_requests): list, register, aliases.

Part of the protocol (`protocol.py` lists them in ENVELOPES, `scripts/gen_protocol.py` turns
them into TypeScript).
"""

from __future__ import annotations

from typing import Final, TypedDict

# Light at import (a dataclass): the payload's shape comes from the library itself.
from mlworkbench.registry.model_registry import RegisteredModelInfo


class ListModelsParams(TypedDict):
    workspaceUri: str


class ListModelsResult(TypedDict):
    models: list[RegisteredModelInfo]


class _RegisterModelOptions(TypedDict, total=False):
    # The model to register when the run logged several (SEVERAL_MODELS_IN_RUN lists them).
    modelPath: str


class RegisterModelParams(_RegisterModelOptions):
    workspaceUri: str
    runId: str
    name: str


class SetModelAliasParams(TypedDict):
    workspaceUri: str
    name: str
    alias: str
    version: str


class DeleteModelAliasParams(TypedDict):
    workspaceUri: str
    name: str
    alias: str


REGISTRY_ENVELOPES: Final[list[type]] = [
    ListModelsParams,
    ListModelsResult,
    RegisterModelParams,
    SetModelAliasParams,
    DeleteModelAliasParams,
]
