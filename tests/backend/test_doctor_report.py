"""The environment check: versions from metadata, hidden paths, extras and the tracking URI."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution, version
from pathlib import Path

import pytest

from mlworkbench.errors import UnknownExtraError
from mlworkbench.setup import doctor
from mlworkbench.setup.doctor import (
    EXTRAS,
    PackageStatus,
    resolve_extras,
    run_doctor,
)
from mlworkbench.tracking.tracking_uri import default_tracking_uri

SITE_PACKAGES = str(distribution("mlflow").locate_file(""))


def fake_distribution(root: Path, name: str, version_: str) -> Path:
    """A minimal installed-distribution record, as pip leaves it, without any code."""
    info = root / f"{name}-{version_}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version_}\n")
    return root


pytestmark = pytest.mark.usefixtures("no_tracking_env")


def test_real_environment_with_default_extras_is_ok(tmp_path: Path) -> None:
    report = run_doctor(workspace=tmp_path)
    assert report.ok
    assert report.missing == []
    assert report.python_ok
    assert report.python == ".".join(map(str, sys.version_info[:3]))
    assert report.python_executable == sys.executable
    assert report.mlworkbench_installed == version("mlworkbench")
    assert report.packages == [
        PackageStatus("mlflow", "tracking", version("mlflow")),
        PackageStatus("scikit-learn", "sklearn", version("scikit-learn")),
    ]
    assert report.missing_extras() == []


# The test environment installs every extra: an extra naming a distribution that exists nowhere
# stands for one the user has not installed.
ABSENT = "mlworkbenchabsent"


@pytest.fixture
def absent_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """The `rllib` extra, as if it needed ABSENT (never installed)."""
    monkeypatch.setitem(doctor._FEATURE_EXTRAS, "rllib", [ABSENT])
    monkeypatch.setitem(doctor.EXTRAS, "rllib", [ABSENT])


@pytest.mark.usefixtures("absent_extra")
def test_extra_with_a_missing_package_is_not_ok() -> None:
    with pytest.raises(PackageNotFoundError):
        version(ABSENT)
    report = run_doctor(["rllib"])
    assert not report.ok
    assert report.missing == [ABSENT]
    assert report.packages == [PackageStatus(ABSENT, "rllib", None)]
    assert report.missing_extras() == ["rllib"]


@pytest.mark.usefixtures("absent_extra")
def test_a_distribution_on_sys_path_counts_unless_its_path_is_excluded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = fake_distribution(tmp_path / "bundled", ABSENT, "9.9.9")
    monkeypatch.syspath_prepend(str(bundled))
    seen = run_doctor(["rllib"])
    assert seen.ok
    assert seen.packages == [PackageStatus(ABSENT, "rllib", "9.9.9")]
    # Excluded paths match after normalisation (trailing separator, "..", symlinks).
    link = tmp_path / "link"
    link.symlink_to(bundled)
    for spelling in (str(bundled), str(bundled) + "/", str(bundled / ".." / "bundled"), str(link)):
        hidden = run_doctor(["rllib"], exclude_paths=[spelling])
        assert hidden.missing == [ABSENT], spelling


def test_the_first_distribution_on_sys_path_wins_like_import_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(fake_distribution(tmp_path / "second", "docker", "1.0.0")))
    monkeypatch.syspath_prepend(str(fake_distribution(tmp_path / "first", "docker", "2.0.0")))
    report = run_doctor(["deploy"])
    assert report.packages == [PackageStatus("docker", "deploy", "2.0.0")]


def test_hiding_the_environment_reports_mlworkbench_itself_missing() -> None:
    report = run_doctor(exclude_paths=sys.path)
    assert not report.ok
    assert report.mlworkbench_installed is None
    assert report.missing == ["mlworkbench", "mlflow", "scikit-learn"]
    # Installing mlworkbench is one command that brings every requested extra with it.
    assert report.missing_extras() == ["tracking", "sklearn"]


def test_all_expands_to_the_named_extras_without_duplicates() -> None:
    assert resolve_extras(["all"]) == [
        "tracking",
        "sklearn",
        "torch",
        "reports",
        "monitor",
        "deploy",
    ]
    assert resolve_extras(["sklearn", "all", "sklearn"])[:2] == ["sklearn", "tracking"]
    report = run_doctor(["tracking", "all"])
    names = [p.name for p in report.packages]
    assert names == EXTRAS["all"]
    assert len(names) == len(set(names))
    required_by = {p.name: p.required_by for p in report.packages}
    assert required_by["mlflow"] == "tracking"
    assert required_by["interpret"] == "reports"


def test_unknown_extra_names_the_valid_ones() -> None:
    with pytest.raises(UnknownExtraError) as caught:
        run_doctor(["tracking", "gpu"])
    error = caught.value
    assert error.code == "UNKNOWN_EXTRA"
    assert "'gpu'" in error.message
    for extra in EXTRAS:
        assert extra in error.message
    assert error.data["unknown"] == ["gpu"]


def test_too_old_python_is_not_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "MIN_PYTHON", (99, 0))
    report = run_doctor()
    assert not report.python_ok
    assert not report.ok
    assert report.missing == []


def test_tracking_uri_defaults_to_the_workspace_sqlite_file(tmp_path: Path) -> None:
    report = run_doctor(workspace=tmp_path)
    expected = f"sqlite:///{(tmp_path / 'mlflow.db').resolve().as_posix()}"
    assert report.tracking_uri == expected
    assert report.tracking_uri.startswith("sqlite:////")  # an absolute path
    assert report.tracking_uri_source == "default"
    assert default_tracking_uri(tmp_path) == expected


def test_tracking_uri_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    report = run_doctor(workspace=tmp_path)
    assert report.tracking_uri == "http://127.0.0.1:5000"
    assert report.tracking_uri_source == "MLFLOW_TRACKING_URI"
    assert default_tracking_uri(tmp_path) == "http://127.0.0.1:5000"


def test_empty_tracking_env_counts_as_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    report = run_doctor(workspace=tmp_path)
    assert report.tracking_uri_source == "default"


@pytest.mark.usefixtures("absent_extra")
def test_to_dict_is_json_able() -> None:
    data = json.loads(json.dumps(run_doctor(["tracking", "rllib"]).to_dict()))
    assert data["packages"][1] == {"name": ABSENT, "required_by": "rllib", "installed": None}
    assert data["missing"] == [ABSENT]
    assert data["missing_extras"] == ["rllib"]
    assert data["ok"] is False


def test_the_doctor_imports_none_of_the_packages_it_checks() -> None:
    code = (
        "import sys\n"
        "from mlworkbench.setup.doctor import run_doctor\n"
        "run_doctor(['all'])\n"
        "print(sorted({'mlflow', 'sklearn', 'docker'} & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
