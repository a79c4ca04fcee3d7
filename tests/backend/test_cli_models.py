"""`mlworkbench models list|register|alias` on a real sqlite store, read back with MlflowClient.

The store is the shared one of run_details_store.py: its rich run logged two models (the
LoggedModel `clf` and an old-style `model/` folder), its plain run none. Each test that writes
gets its own copy of the database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from run_details_store import Store, copy_store, make_store

from mlworkbench.cli import main

# The store logs and registers real models with MLflow: ~20 s.
pytestmark = [pytest.mark.usefixtures("no_tracking_env"), pytest.mark.slow]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return make_store(tmp_path_factory.mktemp("models-cli"), with_models=True)


@pytest.fixture
def store(template: Store, tmp_path: Path) -> Store:
    return copy_store(template, tmp_path)


def _client(store: Store) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(store.uri)


def _cli(store: Store, *args: str) -> int:
    return main(["models", *args, "--workspace", str(store.workspace)])


def test_register_alias_and_list_round_trip(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(store, "register", store.run_id[:8], "iris-clf", "--model", "clf") == 0
    out, err = capsys.readouterr()
    assert out == f"registered run {store.run_id}'s model as 'iris-clf' version 1\n"
    assert "mlworkbench models alias iris-clf champion 1" in err
    assert _cli(store, "register", store.run_id, "iris-clf", "--model", "model", "--json") == 0
    version = json.loads(capsys.readouterr().out)
    assert (version["name"], version["version"], version["run_id"]) == (
        "iris-clf",
        "2",
        store.run_id,
    )

    assert _cli(store, "alias", "iris-clf", "champion", "1") == 0
    assert capsys.readouterr().out == "model 'iris-clf': champion -> version 1\n"
    assert _cli(store, "alias", "iris-clf", "champion", "2") == 0  # moves it
    capsys.readouterr()
    assert _cli(store, "alias", "iris-clf", "staging", "1", "--json") == 0
    model = json.loads(capsys.readouterr().out)
    assert model["aliases"] == {"champion": "2", "staging": "1"}

    client = _client(store)
    assert str(client.get_model_version_by_alias("iris-clf", "champion").version) == "2"
    assert client.get_model_version("iris-clf", "1").run_id == store.run_id

    assert _cli(store, "list") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["MODEL", "VERSION", "ALIASES", "RUN", "STATUS", "CREATED"]
    assert [row.split()[:5] for row in table[1:]] == [
        ["iris-clf", "2", "champion", store.run_id[:8], "READY"],
        ["iris-clf", "1", "staging", store.run_id[:8], "READY"],
    ]

    assert _cli(store, "alias", "iris-clf", "staging", "--remove") == 0
    assert capsys.readouterr().out == "removed alias 'staging' from model 'iris-clf'\n"
    assert client.get_registered_model("iris-clf").aliases == {"champion": 2}
    assert _cli(store, "list", "--json") == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in listed["versions"]] == ["2", "1"]
    assert listed["aliases"] == {"champion": "2"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["register", "RUN", "bad/name", "--model", "clf"], "invalid model name 'bad/name'"),
        (["register", "RUN", "iris"], "has several models ('clf', 'model'); choose one"),
        (["register", "PLAIN", "iris"], "has no model"),
        (["register", "0" * 32, "iris"], "0" * 32),
        (["alias", "nope", "champion", "1"], "no registered model 'nope'"),
        (["alias", "iris", "latest", "1"], "invalid alias 'latest'"),
        (["alias", "iris", "champion", "9"], "model 'iris' has no version 9"),
        (["alias", "iris", "champion", "--remove"], "model 'iris' has no alias 'champion'"),
    ],
)
def test_a_refused_registry_change_exits_2_and_changes_nothing(
    store: Store, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    client = _client(store)
    client.create_registered_model("iris")
    client.create_model_version("iris", (store.workspace / "mlruns").as_uri(), store.run_id)
    args = [{"RUN": store.run_id, "PLAIN": store.plain_id}.get(a, a) for a in args]

    assert _cli(store, *args) == 2

    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and message in err
    assert [m.name for m in client.search_registered_models()] == ["iris"]
    assert len(client.search_model_versions()) == 1
    assert client.get_registered_model("iris").aliases == {}


def test_alias_takes_exactly_one_of_version_and_remove(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(store, "alias", "iris", "champion") == 2
    assert "one of the arguments VERSION --remove is required" in capsys.readouterr().err
    assert _cli(store, "alias", "iris", "champion", "1", "--remove") == 2
    assert "not allowed with" in capsys.readouterr().err


def test_a_workspace_without_a_store_lists_no_models_and_creates_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "list", "--workspace", str(tmp_path)]) == 0
    assert capsys.readouterr() == ("", "no registered models\n")
    assert main(["models", "list", "--workspace", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert not (tmp_path / "mlflow.db").exists()
