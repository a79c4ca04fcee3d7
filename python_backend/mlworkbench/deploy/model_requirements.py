"""Which packages a model's image installs: what its loader needs, pinned as the model says.

MLflow infers a model's requirements from every module the logging process had imported, so
an sklearn model trained next to torch lists torch (gigabytes of it), pytest and rich. For a
flavor we know, the image gets the flavor's packages, the packages the model file itself
names (pickle globals, skops types: read, never loaded) and what the user keeps by name, at
the model's own pins; `mlflow` becomes `mlflow-skinny` of the same version, which holds all of
`mlflow.pyfunc`. A flavor we do not know keeps every line. The container's smoke test
(predictions equal to the in-process ones) is what proves the set is enough.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlworkbench.deploy.deploy_errors import WheelhouseError

SERVING_PACKAGES = ("starlette", "uvicorn")  # what deploy/serving_app.py imports beyond mlflow

# What `mlflow.pyfunc.load_model` + `predict` of a flavor imports (measured: the distributions
# of sys.modules after loading an sklearn model in a venv holding mlflow-skinny and these).
FLAVOR_PACKAGES: dict[str, tuple[str, ...]] = {
    "mlflow.sklearn": ("mlflow", "scikit-learn", "numpy", "scipy", "pandas"),
}
_FORMAT_PACKAGES = {"skops": "skops", "cloudpickle": "cloudpickle"}


@dataclass(frozen=True)
class DroppedRequirement:
    line: str
    reason: str


def canonical_name(name: str) -> str:
    """PEP 503's normalised project name (`Scikit_Learn` -> `scikit-learn`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def loader_module(mlmodel: dict[str, Any]) -> str | None:
    pyfunc = (mlmodel.get("flavors") or {}).get("python_function") or {}
    loader = pyfunc.get("loader_module")
    return str(loader) if loader else None


def read_model_requirements(model_dir: Path) -> list[str]:
    """The lines of the model's requirements.txt, else the pip section of its conda.yaml."""
    path = model_dir / "requirements.txt"
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        return [line.strip() for line in text.splitlines() if line.strip()]
    conda = model_dir / "conda.yaml"
    if conda.is_file():
        import yaml

        env = yaml.safe_load(conda.read_text(encoding="utf-8")) or {}
        for item in env.get("dependencies", []) if isinstance(env, dict) else []:
            if isinstance(item, dict) and isinstance(item.get("pip"), list):
                return [str(line).strip() for line in item["pip"] if str(line).strip()]
    return []


def select_requirements(
    model_dir: Path,
    mlmodel: dict[str, Any],
    *,
    keep: Sequence[str] = (),
    keep_all: bool = False,
) -> tuple[list[str], list[DroppedRequirement]]:
    """The requirement lines to install and the model's lines left out (with why).

    The serving app's packages are pinned to the versions installed here, the ones it was
    tested with, unless the model pins them itself.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    loader = loader_module(mlmodel)
    known = loader in FLAVOR_PACKAGES and not keep_all
    required = _flavor_packages(mlmodel, loader) if known else set()
    referenced = _distributions_of(_referenced_modules(model_dir, mlmodel)) if known else set()
    keep_names = {canonical_name(name) for name in keep}
    requested: list[str] = []
    dropped: list[DroppedRequirement] = []
    listed: set[str] = set()
    for line in read_model_requirements(model_dir):
        if line.startswith("#"):
            continue
        try:
            requirement = Requirement(line.split(" #", 1)[0].strip())
        except InvalidRequirement:
            # pip options from a model (`--index-url`, `-r`) would redirect our downloads.
            dropped.append(DroppedRequirement(line, "not a NAME==VERSION requirement"))
            continue
        if requirement.url:
            dropped.append(DroppedRequirement(line, "a direct URL is not fetched for an image"))
            continue
        name = canonical_name(requirement.name)
        if known and name not in required | referenced | keep_names:
            dropped.append(
                DroppedRequirement(
                    line, f"not needed to load a {loader} model (--keep-requirement {name})"
                )
            )
            continue
        if known and name == "mlflow":
            requirement.name = name = "mlflow-skinny"
        requested.append(str(requirement))
        listed.add(name)
    # Needed but not listed by the model (saved by an older MLflow, or listed as mlflow):
    # pin what is installed here.
    missing = {"mlflow-skinny" if p == "mlflow" else p for p in required} | {
        canonical_name(p) for p in SERVING_PACKAGES
    }
    for package in sorted(missing - listed):
        if package == "mlflow-skinny" and "mlflow" in listed:
            continue
        version = installed_version(package) or (
            installed_version("mlflow") if package == "mlflow-skinny" else None
        )
        if version is None and package in SERVING_PACKAGES:
            raise WheelhouseError(
                f"{package} is not installed here, so the version the server was tested with "
                "is unknown; install mlworkbench[deploy] in this interpreter",
                None,
            )
        requested.append(f"{package}=={version}" if version else package)
    return requested, dropped


def _flavor_packages(mlmodel: dict[str, Any], loader: str | None) -> set[str]:
    packages = {canonical_name(name) for name in FLAVOR_PACKAGES.get(loader or "", ())}
    sklearn = (mlmodel.get("flavors") or {}).get("sklearn") or {}
    fmt = str(sklearn.get("serialization_format", "cloudpickle"))
    if fmt in _FORMAT_PACKAGES:
        packages.add(_FORMAT_PACKAGES[fmt])
    return packages


def _referenced_modules(model_dir: Path, mlmodel: dict[str, Any]) -> set[str]:
    sklearn = (mlmodel.get("flavors") or {}).get("sklearn") or {}
    model_file = sklearn.get("pickled_model")
    if not model_file:
        return set()
    path = (model_dir / str(model_file)).resolve()
    if not (path.is_relative_to(model_dir) and path.is_file()):
        return set()
    return referenced_modules(path)


def referenced_modules(model_file: Path) -> set[str]:
    """Top-level modules a pickled or skops model names, read without loading it."""
    import pickletools
    import zipfile

    names: set[str] = set()
    if zipfile.is_zipfile(model_file):  # skops: a zip whose schema.json names every type
        with zipfile.ZipFile(model_file) as archive:
            try:
                schema = json.loads(archive.read("schema.json"))
            except (KeyError, ValueError):
                return names
        pending: list[Any] = [schema]
        while pending:
            item = pending.pop()
            if isinstance(item, dict):
                module = item.get("__module__")
                if isinstance(module, str):
                    names.add(module.split(".")[0])
                pending.extend(item.values())
            elif isinstance(item, list):
                pending.extend(item)
        return names
    try:
        with model_file.open("rb") as stream:
            for opcode, arg, _pos in pickletools.genops(stream):
                # GLOBAL carries "module name"; STACK_GLOBAL takes strings pushed before it,
                # so every identifier-like string is a candidate. Extra ones cost nothing:
                # they only keep lines the model's requirements already list.
                if opcode.name == "GLOBAL" and isinstance(arg, str):
                    names.add(arg.split(" ")[0].split(".")[0])
                elif isinstance(arg, str) and re.fullmatch(r"[A-Za-z_][\w.]{0,100}", arg):
                    names.add(arg.split(".")[0])
    except Exception:  # noqa: S110 - a truncated or odd pickle: what was read so far counts
        pass
    return names


def _distributions_of(modules: Iterable[str]) -> set[str]:
    from importlib.metadata import packages_distributions

    mapping = packages_distributions()
    found: set[str] = set()
    for module in modules:
        found.add(canonical_name(module))
        found.update(canonical_name(dist) for dist in mapping.get(module, []))
    return found


def installed_version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None
