"""The tracking token's scope, and which locations Restricted Mode may read.

The end-to-end proofs (a real server process, a real listener) are in
tests/server/test_request_path.py; these pin the rules themselves, edge cases included.
"""

from __future__ import annotations

import pytest
import requests

from mlworkbench.errors import NetworkRefusedError
from mlworkbench.launch.preflight import child_environment
from mlworkbench.tracking.network_access import is_local, local_only, network_allowed, require_local
from mlworkbench.tracking.tracking_token import (
    AUTH_NAME,
    TOKEN_ENV,
    TOKEN_URI_ENV,
    ScopedTokenAuth,
    child_token_env,
    same_origin,
    scope_process_token,
)

SERVER = "https://mlflow.example.com"


@pytest.mark.parametrize(
    ("uri", "other", "same"),
    [
        (SERVER, "https://mlflow.example.com:443/api/2.0/x", True),
        (SERVER, "https://MLFLOW.example.com/ajax-api", True),
        (SERVER, "http://mlflow.example.com/", False),  # scheme
        (SERVER, "https://mlflow.example.com:8443/", False),  # port
        (SERVER, "https://mlflow.example.com.evil.net/", False),
        (SERVER, "https://evil.net/?u=https://mlflow.example.com", False),
        (SERVER, "https://mlflow.example.com@evil.net/", False),  # userinfo trick
        (SERVER, "s3://mlflow.example.com/bucket", False),
        ("sqlite:///x.db", "sqlite:///x.db", False),  # no server, no token
        (SERVER, "https://mlflow.example.com:99999/", False),  # invalid port
    ],
)
def test_same_origin(uri: str, other: str, same: bool) -> None:
    assert same_origin(uri, other) is same


def _prepared(url: str) -> requests.PreparedRequest:
    return requests.Request("GET", url).prepare()


def test_the_auth_object_adds_the_header_for_its_origin_only() -> None:
    auth = ScopedTokenAuth("tok", SERVER)
    assert auth(_prepared(f"{SERVER}/api/2.0/mlflow/runs/get")).headers["Authorization"] == (
        "Bearer tok"
    )
    elsewhere = _prepared("https://artifacts.evil.net/x")
    elsewhere.headers["Authorization"] = "Bearer stale"
    assert "Authorization" not in auth(elsewhere).headers
    assert "tok" not in repr(auth)


def test_mlflow_finds_the_provider_through_its_entry_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlflow.tracking.request_auth.registry import fetch_auth

    monkeypatch.setenv(TOKEN_ENV, "tok")
    monkeypatch.setenv(TOKEN_URI_ENV, SERVER)
    auth = fetch_auth(AUTH_NAME)
    assert isinstance(auth, ScopedTokenAuth)


def test_a_shell_token_is_kept_for_the_shell_tracking_uri_only() -> None:
    env = {"MLFLOW_TRACKING_TOKEN": "tok", "MLFLOW_TRACKING_URI": SERVER}
    scope_process_token(env)
    assert "MLFLOW_TRACKING_TOKEN" not in env
    assert env[TOKEN_ENV] == "tok" and env[TOKEN_URI_ENV] == SERVER
    assert env["MLFLOW_TRACKING_AUTH"] == AUTH_NAME


def test_a_token_with_no_server_to_go_to_is_dropped() -> None:
    env = {"MLFLOW_TRACKING_TOKEN": "tok", "MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"}
    scope_process_token(env)
    assert env == {"MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"}

    env = {TOKEN_ENV: "tok", TOKEN_URI_ENV: "file:///tmp/x"}
    scope_process_token(env)
    assert env == {}


def test_the_editors_token_wins_over_a_shell_token() -> None:
    env = {
        "MLFLOW_TRACKING_TOKEN": "shell",
        "MLFLOW_TRACKING_URI": "https://other.example.com",
        TOKEN_ENV: "editor",
        TOKEN_URI_ENV: SERVER,
    }
    scope_process_token(env)
    assert (env[TOKEN_ENV], env[TOKEN_URI_ENV]) == ("editor", SERVER)
    assert "MLFLOW_TRACKING_TOKEN" not in env


def test_children_get_the_token_only_when_they_track_to_its_server() -> None:
    scoped = {TOKEN_ENV: "tok", TOKEN_URI_ENV: SERVER, "MLFLOW_TRACKING_AUTH": AUTH_NAME, "A": "1"}
    assert child_token_env(scoped, f"{SERVER}/") == {"A": "1", "MLFLOW_TRACKING_TOKEN": "tok"}
    assert child_token_env(scoped, "sqlite:////w/mlflow.db") == {"A": "1"}
    assert child_token_env(scoped, "https://evil.net") == {"A": "1"}
    assert child_token_env(scoped, SERVER, tracks_there=False) == {"A": "1"}
    # What the launcher builds for a training run goes through the same rule.
    run_env = child_environment(scoped, None, "sqlite:////w/mlflow.db")
    assert "tok" not in run_env.values()
    assert child_environment(scoped, None, SERVER)["MLFLOW_TRACKING_TOKEN"] == "tok"


@pytest.mark.parametrize(
    ("location", "local"),
    [
        ("/home/me/mlruns/0/abc/artifacts", True),
        ("mlruns/0", True),
        ("file:///home/me/mlruns", True),
        ("file://localhost/home/me/mlruns", True),
        ("sqlite:////home/me/mlflow.db", True),
        ("C:\\Users\\me\\mlruns", True),
        ("file://fileserver/share/mlruns", False),
        ("http://127.0.0.1:5000/mlflow-artifacts/artifacts", False),
        ("https://attacker.example/x", False),
        ("s3://bucket/mlruns", False),
        ("gs://bucket/mlruns", False),
        ("mlflow-artifacts:/0/abc", False),
        ("models:/m-123", False),
    ],
)
def test_which_locations_are_local(location: str, local: bool) -> None:
    assert is_local(location) is local


def test_local_only_refuses_remote_locations_in_its_block_only() -> None:
    require_local("s3://bucket/x", "the artifacts")  # the CLI's default: allowed
    with local_only():
        assert not network_allowed()
        require_local("/tmp/x", "the artifacts")
        with pytest.raises(NetworkRefusedError) as refused:
            require_local("https://user:secret@attacker.example/x", "the artifacts of run r")
    assert network_allowed()
    message = str(refused.value)
    assert "attacker.example" in message and "secret" not in message
    assert "Trust the workspace" in message


def test_the_extension_uses_the_same_variable_names() -> None:
    from pathlib import Path

    source = (Path(__file__).parents[2] / "extension/src/common/tokenScope.ts").read_text()
    assert f'TOKEN_ENV = "{TOKEN_ENV}"' in source
    assert f'TOKEN_URI_ENV = "{TOKEN_URI_ENV}"' in source
