"""Runs on a machine shared with another local user, who writes in the temp folder first.

The other user is real: `nobody` (uid 65534) through `setpriv`, so these tests need root, as
in CI. The temp folder the launcher sees is a fresh sticky, world-writable folder like /tmp.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from scripts.run_support import client_for, make_workspace, write_script

from mlworkbench.errors import RunStartError
from mlworkbench.launch.launch_plan import RUN_FOLDER_PREFIX
from mlworkbench.launch.launcher import start_run
from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

NOBODY = 65534
SCRIPT = "print('trained')\n"


@pytest.fixture
def shared_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The launcher's temp folder: mode 1777 and reachable by `nobody` (pytest's own temp
    folders are private to root, so it lives directly in the system temp folder)."""
    if os.geteuid() != 0:
        pytest.fail(
            "test_shared_machine.py needs root: it acts as a second local user (nobody, uid "
            f"{NOBODY}) with setpriv; run it as root (CI does)"
        )
    make_workspace(tmp_path, monkeypatch)
    shared = Path(tempfile.mkdtemp(prefix="mlworkbench-shared-", dir="/tmp"))
    os.chmod(shared, 0o1777)
    monkeypatch.setenv("TMPDIR", str(shared))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)  # the lock then goes in TMPDIR
    yield shared
    shutil.rmtree(shared, ignore_errors=True)


def as_nobody(script: str) -> None:
    """Run a shell script as the other user, who can write nowhere but the shared folder."""
    subprocess.run(
        [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "sh",
            "-ec",
            script,
        ],
        check=True,
        capture_output=True,
    )


def snapshot(folder: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every entry below `folder`: owner and contents (a link's target), to show none changed."""
    found: dict[str, tuple[int, bytes | str]] = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        body: bytes | str = (
            os.readlink(path) if path.is_symlink() else path.read_bytes() if path.is_file() else ""
        )
        found[str(path.relative_to(folder))] = (info.st_uid, body)
    return found


def assert_private_to_us(path: Path, mode: int) -> None:
    info = path.lstat()
    assert not stat.S_ISLNK(info.st_mode)
    assert info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) == mode


@pytest.mark.slow
def test_a_run_keeps_its_files_in_a_fresh_folder_only_we_can_enter(
    shared_temp: Path, tmp_path: Path
) -> None:
    """The other user made the old shared `mlworkbench-runs` folder first, world-writable, with
    a spec of their own in it: the run neither uses that folder nor reads the spec."""
    workspace = tmp_path / "ws"
    as_nobody(
        f"cd {shared_temp}; mkdir -m 777 mlworkbench-runs; mkdir -m 777 mlworkbench-runs/x;"
        'echo \'{"tracking_uri": "sqlite:////tmp/attacker.db"}\' > mlworkbench-runs/x/spec.json'
    )
    planted = snapshot(shared_temp / "mlworkbench-runs")

    handle = start_run(write_script(workspace, "train.py", SCRIPT), workspace=workspace)
    result = handle.wait()

    folder = handle.log_path.parent
    assert folder.parent == shared_temp and folder.name.startswith(RUN_FOLDER_PREFIX)
    assert_private_to_us(folder, 0o700)
    assert snapshot(shared_temp / "mlworkbench-runs") == planted
    assert result.status == "FINISHED"
    assert client_for(workspace).get_run(handle.run_id).info.status == "FINISHED"
    assert not Path("/tmp/attacker.db").exists()


@pytest.mark.slow
def test_the_store_lock_is_ours_whatever_the_other_user_planted(
    shared_temp: Path, tmp_path: Path
) -> None:
    """A symlink at the lock's old fixed name would have had us create a file where it points."""
    workspace = tmp_path / "ws"
    digest = hashlib.sha256(resolve_tracking_uri(workspace, None).encode()).hexdigest()[:16]
    old_name = f"mlworkbench-store-{digest}.lock"
    victim = tmp_path / "victim.txt"  # a path only root could create
    as_nobody(f"ln -s {victim} {shared_temp / old_name}")

    result = start_run(write_script(workspace, "train.py", SCRIPT), workspace=workspace).wait()

    assert not victim.exists()
    assert result.status == "FINISHED"
    ours = shared_temp / f"mlworkbench-{os.getuid()}"
    assert_private_to_us(ours, 0o700)
    assert_private_to_us(ours / old_name, 0o600)
    assert (shared_temp / old_name).is_symlink()  # left as the other user made it


def test_a_lock_folder_the_other_user_made_first_is_refused(
    shared_temp: Path, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    folder = shared_temp / f"mlworkbench-{os.getuid()}"
    as_nobody(f"mkdir -m 777 {folder}")

    with pytest.raises(RunStartError) as raised:
        start_run(write_script(workspace, "train.py", SCRIPT), workspace=workspace)

    message = raised.value.message
    assert f"refusing to use {folder}" in message and f"user id {NOBODY}" in message
    assert "set TMPDIR" in message
    assert list(folder.iterdir()) == []
    assert client_for(workspace).search_runs(["0"]) == []  # the script never ran
