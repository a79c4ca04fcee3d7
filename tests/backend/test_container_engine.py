"""The pure parts of `deploy.container_engine`: the URL read from a port mapping, the sample
request from a model folder, the token file's mode and the token registry (no engine needed;
the engine itself is exercised through the server in tests/server/test_deploy_requests.py)."""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlworkbench.deploy import container_engine
from mlworkbench.deploy.build_context import APP_UID
from mlworkbench.deploy.container_engine import (
    ContainerTokens,
    StartedContainer,
    model_sample,
    published_url,
    signature_sample,
    token_file_plan,
)
from mlworkbench.deploy.serving_access import read_token_file

TOKEN = "t" * 43


def _ports(*bindings: dict[str, str]) -> dict[str, Any]:
    return {"NetworkSettings": {"Ports": {"8080/tcp": list(bindings)}}}


@pytest.mark.parametrize(
    ("attrs", "url"),
    [
        (_ports({"HostIp": "127.0.0.1", "HostPort": "49153"}), "http://127.0.0.1:49153"),
        # Published on every address (docker run -p 8080): still called on the loopback.
        (_ports({"HostIp": "0.0.0.0", "HostPort": "8080"}), "http://127.0.0.1:8080"),
        (_ports({"HostIp": "::", "HostPort": "8080"}, {"HostIp": "", "HostPort": "9"}),
         "http://127.0.0.1:9"),
        # Another host's address, a malformed port, nothing published, a stopped container.
        (_ports({"HostIp": "10.0.0.5", "HostPort": "8080"}), None),
        (_ports({"HostIp": "127.0.0.1", "HostPort": "80@evil.example"}), None),
        ({"NetworkSettings": {"Ports": {"8080/tcp": None}}}, None),
        ({"NetworkSettings": {"Ports": {}}}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_only_a_loopback_url_is_derived_from_the_port_mapping(
    attrs: dict[str, Any], url: str | None
) -> None:
    assert published_url(attrs) == url


def test_a_container_entry_from_its_inspect_attributes() -> None:
    attrs = {
        "Id": "abc",
        "Name": "/brave_turing",
        "Config": {
            "Image": "credit:1",
            "Labels": {
                "io.mlworkbench.model.uri": "models:/m-1",
                "io.mlworkbench.model.run-id": "r",
            },
        },
        "State": {"Status": "running", "Health": {"Status": "healthy"}},
        **_ports({"HostIp": "127.0.0.1", "HostPort": "5000"}),
    }
    info = container_engine.container_info(attrs)
    assert (info.name, info.image, info.status, info.health, info.run_id, info.url) == (
        "brave_turing", "credit:1", "running", "healthy", "r", "http://127.0.0.1:5000",
    )  # fmt: skip


def _model(folder: Path, signature: Any = None, example: Any = None) -> Path:
    folder.mkdir()
    mlmodel: dict[str, Any] = {"flavors": {"python_function": {"loader_module": "mlflow.sklearn"}}}
    if signature is not None:
        mlmodel["signature"] = {"inputs": json.dumps(signature), "outputs": None}
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel), encoding="utf-8")
    if example is not None:
        (folder / "serving_input_example.json").write_text(json.dumps(example), encoding="utf-8")
    return folder


def test_the_sample_is_the_input_example_then_the_signature(tmp_path: Path) -> None:
    columns = [{"type": "double", "name": "income"}, {"type": "long", "name": "age"},
               {"type": "string", "name": "sex"}, {"type": "boolean", "name": "owner"}]  # fmt: skip
    example = {"dataframe_split": {"columns": ["income"], "data": [[52.1]]}}
    body, source = model_sample(_model(tmp_path / "a", columns, example)) or ("", "none")
    assert source == "example" and json.loads(body) == example
    assert body == json.dumps(example, indent=2)  # pretty, for the user to edit
    body, source = model_sample(_model(tmp_path / "b", columns)) or ("", "none")
    assert source == "signature"
    assert json.loads(body) == {
        "dataframe_split": {"columns": ["income", "age", "sex", "owner"],
                            "data": [[0.0, 0, "", False]]}
    }  # fmt: skip
    assert model_sample(_model(tmp_path / "c")) is None  # neither: the caller sends an empty frame
    tensor = [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]
    assert signature_sample({"signature": {"inputs": json.dumps(tensor)}}) is None
    assert signature_sample({"signature": {"inputs": "not json"}}) is None


def test_a_broken_example_falls_back_to_the_signature(tmp_path: Path) -> None:
    folder = _model(tmp_path / "m", [{"type": "float", "name": "x"}])
    (folder / "serving_input_example.json").write_text("{half", encoding="utf-8")
    assert model_sample(folder) == (
        json.dumps({"dataframe_split": {"columns": ["x"], "data": [[0.0]]}}, indent=2),
        "signature",
    )


def test_the_token_file_plan_passes_the_servers_own_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each plan gives the container's user a way to read the file; the group plan relies on
    the server's check accepting a group read bit for a supplementary group of its process."""
    assert token_file_plan(0, 0, rootless=False) == container_engine.TokenFilePlan(
        0o400, (APP_UID, APP_UID), []
    )
    assert token_file_plan(1000, 1000, rootless=True).mode == 0o444
    plan = token_file_plan(1000, 1000, rootless=False)
    assert plan.mode == 0o440 and plan.owner is None and plan.group_add == ["1000"]
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n", encoding="utf-8")
    os.chmod(path, plan.mode)
    file_group = path.stat().st_gid
    # As the container's process: its own group is APP_UID's, the file's is a supplementary one.
    monkeypatch.setattr(os, "getgid", lambda: APP_UID)
    monkeypatch.setattr(os, "getegid", lambda: APP_UID)
    monkeypatch.setattr(os, "getgroups", lambda: [APP_UID, file_group])
    assert read_token_file(path) == (TOKEN, None)
    monkeypatch.setattr(os, "getgroups", lambda: [APP_UID])  # a group it is not in
    assert "readable by other users" in str(read_token_file(path)[1])
    os.chmod(path, 0o444)
    monkeypatch.setattr(os, "getgroups", lambda: [APP_UID, file_group])
    assert "readable by other users" in str(read_token_file(path)[1])


def test_the_registry_removes_a_token_folder_when_its_container_goes() -> None:
    tokens = ContainerTokens()
    folders = [Path(tempfile.mkdtemp()) for _ in range(2)]
    for number, folder in enumerate(folders):
        info = container_engine.container_info({"Id": f"c{number}"})
        tokens.add(StartedContainer(info, f"{TOKEN}{number}", folder))
    assert tokens.token_of("c0") == f"{TOKEN}0" and "c1" in tokens
    assert stat.S_IMODE(folders[0].stat().st_mode) == 0o700
    tokens.forget("c0")
    assert not folders[0].exists() and tokens.token_of("c0") is None and "c0" not in tokens
    tokens.close()  # the server's exit
    assert not folders[1].exists() and "c1" not in tokens


@pytest.mark.parametrize(
    ("name", "is_id"),
    [
        ("sha256:" + "ab" * 32, True),
        ("ab" * 6, True),
        ("abababababab:1", False),
        ("credit:1", False),
        ("sha", False),  # an image name, though the id starts with it
        ("cd" * 6, False),  # another image's id
    ],
)
def test_a_name_is_an_id_only_when_it_is_a_prefix_of_the_images_id(name: str, is_id: bool) -> None:
    assert container_engine._names_id(name, "sha256:" + "ab" * 32) is is_id


@pytest.mark.parametrize(
    ("image", "name"),
    [
        ("mlworkbench-fair-model:e16a9874", "mlworkbench-fair-model-e16a9874-abc123"),
        ("registry.local:5000/team/credit:1.0", "credit-1.0-abc123"),
        ("credit@sha256:" + "0" * 64, "credit-abc123"),
        ("___", "model-abc123"),
        ("sha256:" + "9" * 64, "image-999999999999-abc123"),
    ],
)
def test_a_started_container_is_named_for_what_it_serves(image: str, name: str) -> None:
    assert container_engine.container_name(image, "abc123") == name
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", name)
