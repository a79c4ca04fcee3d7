"""The protocol is defined once (mlworkbench_server.protocol); these fail when a side drifts."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from mlworkbench_server.protocol import COMMANDS, CONTEXT_KEYS, REQUEST_TYPES, REQUESTS, VIEWS
from mlworkbench_server.request_path import structure_params

from .conftest import ROOT

MANIFEST = json.loads((ROOT / "package.json").read_text())


def test_generated_typescript_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protocol.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_request_has_its_params_and_result_types() -> None:
    # The server structures params into the row's envelope, the extension's `request()` takes
    # its types from it: a request without a row could do neither.
    assert set(REQUEST_TYPES) == set(REQUESTS)
    for name, row in REQUEST_TYPES.items():
        assert hasattr(row.params, "__required_keys__"), f"{name}: params must be a TypedDict"


def test_the_request_path_structures_every_envelope() -> None:
    from mlworkbench_server.request_path import _structure_hook

    for row in REQUEST_TYPES.values():
        assert callable(_structure_hook(row.params))


WS = "file:///w"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"workspaceUri": WS, "runIds": "abc"}, "'runIds' must be a list of strings"),
        ({"workspaceUri": WS, "runIds": ["a", 1]}, "'runIds' must be a list of strings"),
        ({"runIds": ["a"]}, "'workspaceUri' is required"),
        ({"workspaceUri": WS, "runIds": [], "maxPoints": "9"}, "'maxPoints' must be an integer"),
        ({"workspaceUri": WS, "runIds": [], "maxPoints": True}, "'maxPoints' must be an integer"),
        (["a"], "the params of mlworkbench/compareRuns must be an object"),
    ],
)
def test_params_of_the_wrong_shape_are_invalid_params_naming_the_field(
    params: object, message: str
) -> None:
    with pytest.raises(JsonRpcException) as raised:
        structure_params(params, REQUEST_TYPES["COMPARE_RUNS"].params, REQUESTS["COMPARE_RUNS"])
    assert raised.value.code == types.ErrorCodes.InvalidParams
    assert raised.value.message == message


def test_structured_params_drop_nulls_and_unknown_keys() -> None:
    raw = {"workspaceUri": WS, "runIds": ["a"], "maxPoints": None, "extra": 1}
    structured = structure_params(raw, REQUEST_TYPES["COMPARE_RUNS"].params, "m")
    assert structured == {"workspaceUri": WS, "runIds": ["a"]}
    assert structure_params(None, REQUEST_TYPES["STOP_MONITORS"].params, "m") == {}


def test_package_json_contributes_exactly_the_protocol_commands() -> None:
    contributed = {c["command"] for c in MANIFEST["contributes"]["commands"]}
    assert contributed == set(COMMANDS.values())


def test_views_and_menus_name_only_known_ids() -> None:
    contributes = MANIFEST["contributes"]
    container_ids = {c["id"] for c in contributes["viewsContainers"]["activitybar"]}
    assert container_ids == {VIEWS["CONTAINER"]}
    view_ids = {v["id"] for views in contributes["views"].values() for v in views}
    assert view_ids == set(VIEWS.values()) - {VIEWS["CONTAINER"]}
    menu_commands = {item["command"] for items in contributes["menus"].values() for item in items}
    assert menu_commands <= set(COMMANDS.values())
    welcome_links = set(re.findall(r"command:(mlWorkbench\.\w+)", json.dumps(contributes)))
    assert welcome_links <= set(COMMANDS.values())


def test_extension_code_uses_protocol_constants_not_string_literals() -> None:
    sources = [p for p in (ROOT / "extension" / "src").rglob("*.ts") if p.name != "protocol.ts"]
    literals = re.compile(r"[\"'](mlWorkbench\.[a-zA-Z]+|mlworkbench/[a-zA-Z]+)[\"']")
    offenders = {
        str(p.relative_to(ROOT)): found
        for p in sources
        if (found := literals.findall(p.read_text()))
    }
    # Settings keys and their sections ("mlWorkbench.python", "mlWorkbench.server") are
    # configuration, not protocol names.
    settings = set(MANIFEST["contributes"]["configuration"]["properties"])
    allowed = settings | {key.rsplit(".", 1)[0] for key in settings}
    offenders = {
        path: [name for name in names if name not in allowed] for path, names in offenders.items()
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_when_clauses_use_only_known_context_keys() -> None:
    clauses = json.dumps(MANIFEST["contributes"]["menus"]) + json.dumps(MANIFEST["contributes"])
    used = set(re.findall(r"\b(mlWorkbench(?:\.[a-zA-Z0-9]+)+)", clauses))
    known = set(COMMANDS.values()) | set(VIEWS.values()) | set(CONTEXT_KEYS.values())
    known |= set(MANIFEST["contributes"]["configuration"]["properties"])
    known |= {"mlWorkbench.gettingStarted"}  # the walkthrough's id
    assert used - known == set()
