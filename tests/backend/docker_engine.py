"""A private Docker engine for the tests, and a base image built here (no registry to pull from).

`start_engine()` runs Debian's `dockerd` as root on a socket in a `mkdtemp` folder with its own
`--data-root`, `--exec-root` and `--pidfile`, on a bridge of its own (another engineer's engine
or the host's docker0 are never touched) and with `--iptables=false --ip-forward=false`, so it
changes no firewall rule or sysctl of the machine: containers publish ports to 127.0.0.1
through docker-proxy and reach nothing outside, which is what the image build must not need.

`ensure_base_image()` imports `mlworkbench-test-base:bookworm`: `debootstrap --variant=minbase
bookworm` plus `python3` (3.11, like the venv, so the wheelhouse fits), from the Debian mirror
the apt configuration names, trimmed like the slim images and cached as a tarball under
`build/docker-base/` so the next session skips debootstrap (~1.5 min here).
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
# The tests' $XDG_CACHE_HOME for wheelhouses and our wheel (git-ignored, kept between runs).
TEST_XDG = REPO / "build" / "deploy-test-cache"
BASE_IMAGE = "mlworkbench-test-base:bookworm"
BASE_CACHE = REPO / "build" / "docker-base"
BASE_TARBALL = BASE_CACHE / "bookworm-python3.tar"
DEBIAN_SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Trimmed from the rootfs, as Debian's slim images do: package caches, docs, man pages, locales.
TRIM = (
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
)


def engine_problem() -> str | None:
    """Why a private engine cannot start here (a skip reason), or None."""
    if os.geteuid() != 0:
        return "the Docker engine tests start dockerd, which needs root"
    for tool in ("dockerd", "containerd", "runc", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install docker.io)"
    if not BASE_TARBALL.is_file() and shutil.which("debootstrap") is None:
        return "debootstrap is not installed (apt-get install debootstrap)"
    return None


@dataclass
class DockerEngine:
    folder: Path
    process: subprocess.Popen[bytes]
    bridge: str

    @property
    def socket(self) -> Path:
        return self.folder / "docker.sock"

    @property
    def base_url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def log(self) -> Path:
        return self.folder / "dockerd.log"

    def client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.base_url, timeout=300)

    def stop(self) -> None:
        """SIGTERM (dockerd stops its containers and containerd), then SIGKILL; remove the
        bridge, anything still mounted under the folder, and the folder."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True, check=False)
        for mount in _mounts_under(self.folder):
            subprocess.run(["umount", "-l", mount], capture_output=True, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def engine() -> Iterator[DockerEngine]:
    """A private engine with BASE_IMAGE, for one test module (imported by the conftests of
    tests/backend and tests/server)."""
    problem = engine_problem()
    if problem:  # `make test` installs the engine and debootstrap (test-apt)
        pytest.fail(problem)
    started = start_engine()
    try:
        ensure_base_image(started)
        yield started
    finally:
        started.stop()


def start_engine(timeout_s: float = 60.0) -> DockerEngine:
    folder = Path(tempfile.mkdtemp(prefix="mlwb-dockerd-"))
    bridge = f"mlwb{os.getpid() % 100000:05d}{random.randrange(16**4):04x}"[:15]
    subnet = _free_subnet()
    gateway = f"{next(subnet.hosts())}/{subnet.prefixlen}"
    subprocess.run(["ip", "link", "add", "name", bridge, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", gateway, "dev", bridge], check=True)
    subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
    (folder / "daemon.json").write_text("{}", encoding="utf-8")  # not /etc/docker/daemon.json
    command = [
        "dockerd",
        "--host", f"unix://{folder / 'docker.sock'}",
        "--data-root", str(folder / "data"),
        "--exec-root", str(folder / "exec"),
        "--pidfile", str(folder / "docker.pid"),
        "--config-file", str(folder / "daemon.json"),
        "--bridge", bridge,
        "--iptables=false",
        "--ip-forward=false",
        "--ip-masq=false",
        "--storage-driver", "overlay2",
        "--log-level", "warn",
    ]  # fmt: skip
    with (folder / "dockerd.log").open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    engine = DockerEngine(folder, process, bridge)
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            tail = engine.log.read_text(errors="replace")[-2000:]
            engine.stop()
            raise RuntimeError(f"dockerd exited with {process.returncode}:\n{tail}")
        if engine.socket.exists():
            try:
                engine.client().ping()
                return engine
            except Exception:  # not answering yet
                pass
        if time.monotonic() > deadline:
            engine.stop()
            raise RuntimeError(f"dockerd did not answer within {timeout_s:.0f} s")
        time.sleep(0.3)


def ensure_base_image(engine: DockerEngine) -> str:
    """Import the cached Debian rootfs as BASE_IMAGE (debootstrap it first if not cached)."""
    client = engine.client()
    try:
        client.images.get(BASE_IMAGE)
        return BASE_IMAGE
    except Exception:  # docker.errors.ImageNotFound
        pass
    tarball = ensure_rootfs_tarball()
    repository, tag = BASE_IMAGE.split(":")
    client.api.import_image_from_file(
        str(tarball),
        repository=repository,
        tag=tag,
        changes=[
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            'CMD ["python3"]',
        ],
    )
    client.images.get(BASE_IMAGE)
    return BASE_IMAGE


def ensure_rootfs_tarball() -> Path:
    if BASE_TARBALL.is_file():
        return BASE_TARBALL
    BASE_CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=BASE_CACHE))
    try:
        root = work / "root"
        subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3", DEBIAN_SUITE, str(root),
             debian_mirror()],
            check=True,
            capture_output=True,
        )  # fmt: skip
        pack_rootfs(root, BASE_TARBALL)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return BASE_TARBALL


def pack_rootfs(root: Path, tarball: Path) -> None:
    for relative in TRIM:
        folder = root / relative
        if folder.is_dir():
            for child in folder.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                elif child.name != "lock":
                    child.unlink()
    partial = tarball.with_suffix(".partial")
    subprocess.run(
        ["tar", "--numeric-owner", "--one-file-system", "-C", str(root), "-cf", str(partial),
         "."],
        check=True,
    )  # fmt: skip
    os.replace(partial, tarball)


def debian_mirror() -> str:
    """The Debian mirror apt is configured with (deb822 or one-line format)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file() or path.suffix not in (".list", ".sources", ""):
            continue
        text = path.read_text(errors="replace")
        for stanza in re.split(r"\n\s*\n", text):
            if re.search(rf"^Suites:.*\b{DEBIAN_SUITE}\b", stanza, re.M) and "security" not in (
                stanza
            ):
                match = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
                if match and "debian" in match[1]:
                    return match[1]
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == DEBIAN_SUITE:
                url = next(p for p in parts[1:] if not p.startswith("["))
                if "debian" in url:
                    return url
    return DEFAULT_MIRROR


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.0.0.0/8 that no route of this machine covers."""
    routes = json.loads(
        subprocess.run(["ip", "-j", "route"], capture_output=True, text=True, check=True).stdout
        or "[]"
    )
    used = []
    for route in routes:
        dst = route.get("dst", "")
        if dst and dst != "default":
            used.append(ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False))
    for _ in range(200):
        candidate = ipaddress.ip_network(
            f"10.{random.randrange(100, 250)}.{random.randrange(0, 255)}.0/24"
        )
        if not any(candidate.overlaps(net) for net in used):
            return candidate
    raise RuntimeError("no free 10.x.y.0/24 subnet for the test bridge")


def _mounts_under(folder: Path) -> list[str]:
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        if point.startswith(str(folder)):
            mounts.append(point)
    return sorted(mounts, key=len, reverse=True)
