"""One local Ray cluster for every test module that needs one: a pytest plugin.

Starting the workbench's local cluster costs 15-25 s on the 2-core machine, and three modules
(`test_ray_cluster_network.py`, `test_ray_target.py`, `test_rllib_on_ray.py`) each started one.
They name this module in `pytest_plugins`, so its session-scoped `shared_ray_cluster` fixture is
defined once: the first test that asks for it starts the cluster, and it is stopped after the last
collected test of those modules (not at the session's end, so the modules after them do not run
beside an idle cluster). Its record lives in a private state folder: `SharedCluster.state()`
points `XDG_STATE_HOME` there while a module needs `--target ray` or `local_cluster()` to find
it, and never at the user's own cluster. (Modules import this file's names for typing only: an
import before pytest loads it as a plugin would keep its asserts from being rewritten.)

Isolation: a module sees a cluster other modules' jobs ran on. Their jobs have ended (each
module waits for its own), so what stays shared is the cluster's processes, which is what
`test_ray_cluster_network.py` inspects: every one of them must listen on the loopback only, and
they do, whatever ran before.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlworkbench.compute import ray_cluster

FIXTURE = "shared_ray_cluster"
NUM_CPUS = 2  # two trials of a sweep at once (each holds one CPU; the sweep's driver none)


@dataclass(frozen=True)
class SharedCluster:
    info: ray_cluster.ClusterInfo
    state_dir: Path  # XDG_STATE_HOME under which the cluster's record lives

    @contextmanager
    def state(self) -> Iterator[None]:
        """XDG_STATE_HOME at the cluster's record for the block (then restored)."""
        with _state_home(self.state_dir):
            yield


_started: list[tuple[SharedCluster, Path]] = []  # the running cluster and its private folder


@contextmanager
def _state_home(folder: Path) -> Iterator[None]:
    saved = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(folder)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("XDG_STATE_HOME", None)
        else:
            os.environ["XDG_STATE_HOME"] = saved


def _stop() -> None:
    if not _started:
        return
    shared, folder = _started.pop()
    try:
        with shared.state():
            assert ray_cluster.stop_local_cluster()
        left = ray_cluster._cluster_pids(shared.info.pgid, shared.info.temp_dir)
        assert not left, f"cluster processes left: {left}"
        assert not Path(shared.info.temp_dir).exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_ray_cluster() -> Iterator[SharedCluster]:
    """The session's local cluster (2 CPUs), started on first use."""
    folder = Path(tempfile.mkdtemp(prefix="mlwb-raytest-"))
    try:
        with _state_home(folder / "state"):
            info = ray_cluster.start_local_cluster(num_cpus=NUM_CPUS)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    shared = SharedCluster(info, folder / "state")
    _started.append((shared, folder))
    yield shared
    _stop()  # at the session's end, unless the last test using it stopped it already


_last_user: list[str] = []  # node id of the last collected test of a module that uses it


def _uses_cluster(item: pytest.Item) -> bool:
    """A test of a module that names this plugin (its fixtures may ask for the cluster only
    when they run: `request.getfixturevalue`), or one that asks for it itself."""
    plugins = getattr(getattr(item, "module", None), "pytest_plugins", ())
    return __name__ in plugins or FIXTURE in getattr(item, "fixturenames", ())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield  # the item's own teardown first (its module's fixtures: servers, jobs)
    if not _started:
        return
    if not _last_user:
        users = [i.nodeid for i in item.session.items if _uses_cluster(i)]
        _last_user.append(users[-1] if users else "")
    if item.nodeid == _last_user[0]:
        _stop()
