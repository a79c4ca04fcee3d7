"""The explorer benchmark's store cache: private to this user and never trusted once tampered.

Why: the benchmark reuses a store that takes minutes to build; cached under a fixed shared /tmp
name, another user could plant or swap it, and an edited database would be timed as if real.
These tests build a tiny real MLflow store (through MLflow's client) in a throwaway cache home.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import explorer_store

TINY = explorer_store.StoreSpec(runs=3, history_runs=1, steps=5, history_metrics=1)


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    yield tmp_path


def test_cache_root_is_private_per_user(cache_home: Path) -> None:
    root = explorer_store.bench_cache_root()
    assert root == cache_home / "mlworkbench-bench"
    assert root.stat().st_mode & 0o777 == 0o700
    assert root.stat().st_uid == os.getuid()
    assert str(TINY.folder).startswith(str(root))
    assert not str(TINY.folder).startswith("/tmp/mlworkbench-bench")


def test_group_readable_cache_root_is_refused(cache_home: Path) -> None:
    root = cache_home / "mlworkbench-bench"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    with pytest.raises(explorer_store.UnsafeCacheError, match="chmod 700"):
        explorer_store.bench_cache_root()


def test_symlinked_cache_root_is_refused(
    cache_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    elsewhere.chmod(0o700)
    (cache_home / "mlworkbench-bench").symlink_to(elsewhere)
    with pytest.raises(explorer_store.UnsafeCacheError):
        explorer_store.bench_cache_root()


@pytest.mark.slow
def test_tampered_store_is_rebuilt_and_valid_one_reused(cache_home: Path) -> None:
    workspace = explorer_store.ensure_store(TINY)
    assert workspace.stat().st_mode & 0o777 == 0o700
    assert explorer_store.cached_store_valid(workspace)
    marker = json.loads((workspace / "complete").read_text())

    # A valid cache is reused as is: same marker, no rebuild.
    assert explorer_store.ensure_store(TINY) == workspace
    assert json.loads((workspace / "complete").read_text()) == marker

    # Tamper with the database: the fingerprint no longer matches, so it is rebuilt.
    with (workspace / "mlflow.db").open("ab") as stream:
        stream.write(b"planted")
    assert not explorer_store.cached_store_valid(workspace)
    explorer_store.ensure_store(TINY)
    assert explorer_store.cached_store_valid(workspace)

    # An old-style or garbled marker is not trusted either.
    (workspace / "complete").write_text("12.0 s\n")
    assert not explorer_store.cached_store_valid(workspace)

    from mlflow.tracking import MlflowClient

    explorer_store.ensure_store(TINY)
    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    bench = client.get_experiment_by_name(explorer_store.BENCH_EXPERIMENT)
    assert bench is not None
    assert len(client.search_runs([bench.experiment_id])) == TINY.runs
    assert bench.artifact_location == (workspace / "mlruns").as_uri()
    assert [p.name for p in workspace.parent.iterdir()] == [workspace.name]  # no leftovers
