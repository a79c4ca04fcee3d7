"""The wheels an image installs, fetched on this machine so the build needs no network.

`pip wheel` (or `pip download` for another Python or platform) fills a wheelhouse that is
cached by its inputs: the next context for a model of the same environment reuses the very same
files, so the engine's layer cache holds and a model-only change rebuilds in seconds. Every
wheel is pinned by hash in `requirements.lock`; pip itself rides along only to run the install.
Our own wheel is kept apart (`app/`): it changes with every edit of this repository, and
keeping it out of the third-party layer means such a change reinstalls one package, not all.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from mlworkbench.deploy.deploy_errors import WheelhouseError
from mlworkbench.deploy.model_requirements import canonical_name, installed_version

LogCallback = Callable[[str], None]
PIP_WHEEL = re.compile(r"pip-[0-9][0-9A-Za-z.]*-py3-none-any\.whl")
LOCK_NAME = "requirements.lock"
OWN_WHEEL = re.compile(r"mlworkbench-[0-9][0-9A-Za-z.+]*-py3-none-any\.whl")
_FIXED_EPOCH = "315532800"  # 1980-01-01, the zip format's first day: same sources, same bytes
_NOT_SOURCES = (
    ".git",
    ".venv",
    "node_modules",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "extension",
    "tests",
    "media",
    "demo",
    ".demo",
    "mlruns",
    "mlflow.db",
)


def cache_root(cache_dir: Path | None = None) -> Path:
    """`$XDG_CACHE_HOME/mlworkbench/deploy` (or `cache_dir`): this user's, mode 0700."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    root = cache_dir or base / "mlworkbench" / "deploy"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    if root.is_symlink() or root.stat().st_uid != os.getuid():
        raise WheelhouseError(f"the cache folder {root} is not yours; remove it", None)
    return root


def find_own_wheel(cache_dir: Path | None = None, on_log: LogCallback | None = None) -> Path:
    """The mlworkbench wheel to install in the image.

    From a source checkout (`pyproject.toml` two folders above the package): built with
    `pip wheel` under a fixed SOURCE_DATE_EPOCH and cached by a hash of the sources. From the
    extension's bundle (`extension/bundled/libs/mlworkbench`): the wheel `make bundle` put in
    `extension/bundled/wheels/`. From an installed distribution (a CI job's `pip install`):
    fetched again from where pip installed it (PEP 610's direct_url.json), else from the index.
    """
    package = Path(__file__).resolve().parents[1]
    root = package.parents[1]
    if (root / "pyproject.toml").is_file() and (root / "python_backend").is_dir():
        return _build_own_wheel(root, cache_dir, on_log)
    bundled = sorted(p for p in (package.parents[1] / "wheels").glob("*.whl") if _is_own(p))
    if bundled:
        return bundled[-1]
    return _fetch_installed_wheel(cache_dir, on_log)


def _fetch_installed_wheel(cache_dir: Path | None, on_log: LogCallback | None) -> Path:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution("mlworkbench")
    except PackageNotFoundError:
        dist = None
    version = dist.version if dist else None
    direct = json.loads(dist.read_text("direct_url.json") or "{}") if dist else {}
    url = str(direct.get("url", ""))
    if "vcs_info" in direct:
        url = f"{direct['vcs_info'].get('vcs', 'git')}+{url}@{direct['vcs_info']['commit_id']}"
    wanted = f"mlworkbench @ {url}" if url else f"mlworkbench=={version}"
    if not (url or version):
        raise WheelhouseError("mlworkbench is not installed; pass --mlworkbench-wheel PATH", None)
    key = hashlib.sha256(wanted.encode()).hexdigest()[:32]
    folder = cache_root(cache_dir) / "own-wheel" / key
    existing = sorted(p for p in folder.glob("*.whl") if _is_own(p))
    if existing:
        return existing[0]
    work = Path(tempfile.mkdtemp(prefix="own-wheel-", dir=cache_root(cache_dir)))
    try:
        env = {**os.environ, "SOURCE_DATE_EPOCH": _FIXED_EPOCH}
        run_pip(["wheel", "--no-deps", "--wheel-dir", str(work), wanted], env, on_log)
        built = sorted(p for p in work.glob("*.whl") if _is_own(p))
        if not built:
            raise WheelhouseError(f"pip made no mlworkbench wheel from {wanted!r}", None)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.replace(built[0], folder / built[0].name)
        return folder / built[0].name
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _is_own(path: Path) -> bool:
    return OWN_WHEEL.fullmatch(path.name) is not None


def _build_own_wheel(root: Path, cache_dir: Path | None, on_log: LogCallback | None) -> Path:
    digest = hashlib.sha256()
    sources = [root / "pyproject.toml", root / "README.md"]
    for package_root in ("python_backend", "server"):
        sources += sorted(p for p in (root / package_root).rglob("*") if p.is_file())
    for path in sources:
        if "__pycache__" not in path.parts and path.is_file():
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    folder = cache_root(cache_dir) / "own-wheel" / digest.hexdigest()[:32]
    existing = sorted(p for p in folder.glob("*.whl") if _is_own(p))
    if existing:
        return existing[0]
    work = Path(tempfile.mkdtemp(prefix="own-wheel-", dir=cache_root(cache_dir)))
    try:
        # setuptools writes build/ and *.egg-info into the tree it builds: build from a copy so
        # the checkout (and a concurrent build) never sees half-written folders.
        source = work / "src"
        shutil.copytree(root, source, ignore=shutil.ignore_patterns(*_NOT_SOURCES))
        env = {**os.environ, "SOURCE_DATE_EPOCH": _FIXED_EPOCH}
        run_pip(["wheel", "--no-deps", "--wheel-dir", str(work / "out"), str(source)], env, on_log)
        built = sorted(p for p in (work / "out").glob("*.whl") if _is_own(p))
        if not built:
            raise WheelhouseError("pip wheel made no mlworkbench wheel", None)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        final = folder / built[0].name
        os.replace(built[0], final)
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


def host_wheels_fit() -> bool:
    """Whether the wheels pip picks for this machine run in the image: Linux with a glibc no
    newer than Debian bookworm's 2.36 (the default base's, and the tests' base's)."""
    libc, libc_version = platform.libc_ver()
    if not sys.platform.startswith("linux") or libc != "glibc":
        return False
    parts = tuple(int(p) for p in re.findall(r"\d+", libc_version)[:2])
    return parts <= (2, 36)


def platform_tags() -> list[str]:
    """pip `--platform` tags for a Linux image on this CPU (Docker Desktop on an arm64 Mac
    builds arm64 images), glibc up to bookworm's 2.36."""
    machine = platform.machine().lower()
    machine = {"arm64": "aarch64", "amd64": "x86_64"}.get(machine, machine)
    return [f"manylinux_2_{minor}_{machine}" for minor in range(36, 16, -1)] + [
        f"manylinux2014_{machine}"
    ]


def gather_wheels(
    requested: Sequence[str],
    own_wheel: Path,
    python_version: str,
    wheels_dir: Path,
    app_dir: Path,
    lock: Path,
    cache_dir: Path | None = None,
    on_log: LogCallback | None = None,
) -> bool:
    """Fill `wheels_dir` with a wheel for every requirement, their dependencies and pip,
    `app_dir` with our own wheel and `lock` with the wheels' hashes (`write_lock`); True when
    the third-party wheels came from the cache."""
    if not _is_own(own_wheel) or not own_wheel.is_file():
        raise WheelhouseError(f"{own_wheel} is not an mlworkbench wheel", None)
    host_python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    cross = python_version != host_python or not host_wheels_fit()
    platforms = platform_tags() if cross else None
    pip_version = installed_version("pip") or "24.0"
    key_source = json.dumps(
        {
            "requested": sorted(requested),
            "own_requires": _requires_dist(own_wheel),
            "python": python_version,
            "platforms": platforms,
            "pip": pip_version,
        },
        sort_keys=True,
    )
    root = cache_root(cache_dir) / "wheelhouses"
    root.mkdir(mode=0o700, exist_ok=True)
    cached = root / hashlib.sha256(key_source.encode()).hexdigest()[:32]
    from_cache = (cached / "complete").is_file()
    if not from_cache:
        _fill_cache(requested, own_wheel, python_version, platforms, pip_version, cached, on_log)
        (cached / "complete").write_text(key_source, encoding="utf-8")
    if not (cached / LOCK_NAME).is_file():  # hashed once per wheelhouse, not per context
        write_lock(cached, cached / LOCK_NAME)
    wheels_dir.mkdir(mode=0o755)
    for wheel in sorted(cached.glob("*.whl")):
        _place(wheel, wheels_dir / wheel.name)
    shutil.copyfile(cached / LOCK_NAME, lock)
    app_dir.mkdir(mode=0o755)
    _place(own_wheel, app_dir / own_wheel.name)
    return from_cache


def _fill_cache(
    requested: Sequence[str],
    own_wheel: Path,
    python_version: str,
    platforms: list[str] | None,
    pip_version: str,
    cached: Path,
    on_log: LogCallback | None = None,
) -> None:
    work = Path(tempfile.mkdtemp(prefix="wheels-", dir=cached.parent))
    try:
        (work / "requirements.in").write_text("\n".join(requested) + "\n", encoding="utf-8")
        # Our wheel takes part in the resolution (its dependencies must fit the model's pins)
        # but is not kept here: it travels in app/.
        wanted = ["--requirement", str(work / "requirements.in"), str(own_wheel)]
        wanted.append(f"pip=={pip_version}")
        out = work / "wheels"
        if platforms is None:
            args = ["wheel", "--wheel-dir", str(out), *wanted]
        else:
            abi = f"cp{python_version.replace('.', '')}"
            args = ["download", "--dest", str(out), "--only-binary=:all:"]
            args += ["--python-version", python_version, "--implementation", "cp", "--abi", abi]
            for tag in platforms:
                args += ["--platform", tag]
            args += wanted
        run_pip(args, None, on_log)
        for wheel in out.glob("*.whl"):
            if _is_own(wheel):
                wheel.unlink()
        if cached.exists():
            shutil.rmtree(cached)
        os.replace(out, cached)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _place(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)
    os.chmod(dest, 0o644)


def _requires_dist(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        text = archive.read(names[0]).decode("utf-8") if names else ""
    return sorted(line for line in text.splitlines() if line.startswith("Requires-Dist:"))


def run_pip(args: list[str], env: dict[str, str] | None, on_log: LogCallback | None) -> None:
    """pip as a child process (an argument list), its lines streamed to `on_log` and written to
    a log file in a private folder, which is kept and named in the error when pip fails."""
    from mlworkbench.tracking.private_dirs import private_temp_dir

    log_path = private_temp_dir("mlworkbench-pip-") / "pip.log"
    command = [sys.executable, "-m", "pip", *args, "--progress-bar", "off"]
    command.append("--disable-pip-version-check")
    tail: list[str] = []
    with log_path.open("w", encoding="utf-8") as log_file:
        try:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
            )
        except OSError as error:
            raise WheelhouseError(f"cannot start pip: {error}", None) from error
        assert process.stdout is not None
        for line in process.stdout:
            log_file.write(line)
            text = line.rstrip("\n")
            if on_log and text:
                on_log(text)
            tail = [*tail[-5:], text]
        status = process.wait()
    if status != 0:
        errors = [line for line in tail if line.strip()]
        raise WheelhouseError(
            f"pip exited with status {status}: {' / '.join(errors[-2:])}", log_path
        )
    shutil.rmtree(log_path.parent, ignore_errors=True)  # kept only when pip failed


def write_lock(wheels_dir: Path, lock: Path) -> list[str]:
    """`NAME==VERSION --hash=sha256:...` for every wheel but pip's (it only runs the install).

    Returns the `NAME==VERSION` entries (`locked_entries` reads them back)."""
    entries: list[str] = []
    lines = ["# Every wheel in wheels/, pinned by hash (written by mlworkbench deploy)."]
    for wheel in sorted(wheels_dir.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        if canonical_name(name) == "pip":
            continue
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        entries.append(f"{canonical_name(name)}=={version}")
        lines.append(f"{canonical_name(name)}=={version} --hash=sha256:{digest}")
    lock.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return entries


def locked_entries(lock: Path) -> list[str]:
    """The `NAME==VERSION` entries of a lock `write_lock` wrote."""
    lines = lock.read_text(encoding="utf-8").splitlines()
    return [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]


def pip_wheel_name(wheels_dir: Path) -> str:
    found = sorted(w.name for w in wheels_dir.glob("pip-*.whl") if PIP_WHEEL.fullmatch(w.name))
    if not found:
        raise WheelhouseError("pip's own wheel is missing from the wheelhouse", None)
    return found[-1]
