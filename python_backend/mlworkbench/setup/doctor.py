"""Check that a Python environment can run ML Workbench's features, without importing them.

`mlworkbench doctor` and the editor's "Set up environment" both use this. Versions come from
installed distributions' metadata, so the check takes milliseconds even with torch installed,
and it can look at the user's environment while ML Workbench's own bundled copies are hidden.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from mlworkbench.errors import UnknownExtraError
from mlworkbench.tracking.tracking_uri import TRACKING_URI_ENV, default_tracking_uri

MIN_PYTHON = (3, 10)
DISTRIBUTION = "mlworkbench"

# Mirrors [project.optional-dependencies] in pyproject.toml: extra -> distributions it installs.
_FEATURE_EXTRAS: dict[str, list[str]] = {
    "tracking": ["mlflow"],
    "sklearn": ["scikit-learn"],
    "torch": ["torch"],
    "tensorflow": ["tensorflow"],
    "ray": ["ray"],
    "rllib": ["ray", "gymnasium"],
    "server": ["mlflow", "psycopg"],
    "reports": ["fairlearn", "interpret"],
    "monitor": ["tensorboard"],
    "deploy": ["docker"],
}
_ALL = ("tracking", "sklearn", "torch", "reports", "monitor", "deploy")
EXTRAS: dict[str, list[str]] = {
    **_FEATURE_EXTRAS,
    "all": [name for extra in _ALL for name in _FEATURE_EXTRAS[extra]],
}
DEFAULT_EXTRAS = ("tracking", "sklearn")


@dataclass(frozen=True)
class PackageStatus:
    """One distribution an extra needs, and the version found (None when missing)."""

    name: str
    required_by: str  # the extra that installs it, e.g. "tracking"
    installed: str | None


@dataclass(frozen=True)
class DoctorReport:
    """The state of one environment; `ok` means every requested feature can run there."""

    python: str
    python_executable: str
    python_ok: bool
    mlworkbench_installed: str | None
    packages: list[PackageStatus]
    tracking_uri: str
    tracking_uri_source: str  # "MLFLOW_TRACKING_URI" | "default"
    missing: list[str]
    ok: bool

    def missing_extras(self) -> list[str]:
        """The extras to pip-install to fix the environment (all of them if mlworkbench is
        missing, since installing it is one `pip install 'mlworkbench[...]'` anyway)."""
        requested = list(dict.fromkeys(p.required_by for p in self.packages))
        if self.mlworkbench_installed is None:
            return requested
        lacking = {p.required_by for p in self.packages if p.installed is None}
        return [extra for extra in requested if extra in lacking]

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["missing_extras"] = self.missing_extras()
        return data


def resolve_extras(extras: Sequence[str]) -> list[str]:
    """Validate extra names and expand "all", keeping the order given and dropping repeats."""
    unknown = [extra for extra in extras if extra not in EXTRAS]
    if unknown:
        raise UnknownExtraError(unknown, list(EXTRAS))
    resolved: list[str] = []
    for extra in extras:
        for name in _ALL if extra == "all" else (extra,):
            if name not in resolved:
                resolved.append(name)
    return resolved


def run_doctor(
    extras: Sequence[str] = DEFAULT_EXTRAS,
    exclude_paths: Sequence[str] = (),
    workspace: Path | None = None,
) -> DoctorReport:
    """Check this interpreter for Python >= 3.10, mlworkbench and the extras' packages.

    `exclude_paths` are sys.path entries whose distributions do not count: the editor runs the
    doctor with its bundled libraries on sys.path but must judge the user's environment alone.
    """
    resolved = resolve_extras(extras)
    excluded = {_normalise(p) for p in exclude_paths}
    search_path = [p for p in sys.path if _normalise(p) not in excluded]

    packages: list[PackageStatus] = []
    seen: set[str] = set()
    for extra in resolved:
        for name in _FEATURE_EXTRAS[extra]:
            if name not in seen:
                seen.add(name)
                packages.append(PackageStatus(name, extra, _installed_version(name, search_path)))

    mlworkbench_version = _installed_version(DISTRIBUTION, search_path)
    missing = [DISTRIBUTION] if mlworkbench_version is None else []
    missing.extend(p.name for p in packages if p.installed is None)
    python_ok = sys.version_info[:2] >= MIN_PYTHON
    return DoctorReport(
        python=sys.version.split()[0],
        python_executable=sys.executable,
        python_ok=python_ok,
        mlworkbench_installed=mlworkbench_version,
        packages=packages,
        tracking_uri=default_tracking_uri(workspace or Path.cwd()),
        tracking_uri_source=TRACKING_URI_ENV if os.environ.get(TRACKING_URI_ENV) else "default",
        missing=missing,
        ok=python_ok and not missing,
    )


def _normalise(path: str) -> str:
    # "" on sys.path means the current directory; symlinked venvs must still match.
    return os.path.normcase(os.path.realpath(path or os.curdir))


def _installed_version(name: str, search_path: list[str]) -> str | None:
    """The version of the first distribution called `name` on `search_path` (import order)."""
    # Imported here: importlib.metadata costs ~20 ms, which `mlworkbench --help` need not pay.
    from importlib.metadata import distributions

    for distribution in distributions(name=name, path=search_path):
        try:
            version = distribution.version
        except (KeyError, AttributeError):  # a half-removed install leaves no metadata
            continue
        if version:
            return version
    return None
