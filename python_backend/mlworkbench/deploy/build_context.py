"""A Docker build context for one MLflow model: model files, a pinned wheelhouse, a Dockerfile.

The image must build with no network (every wheel is fetched here, on the host, into `wheels/`
and installed with `--no-index --require-hashes`), stay small (only what the model's loader
needs: `mlflow-skinny`, not the whole MLflow server, and none of the packages MLflow's
requirement inference picked up from the training process), and rebuild in seconds after a
model-only change (dependency layers first, byte-identical wheels from a cache, the model last).
Nothing from the user goes into the Dockerfile's text except a base image checked against
Docker's reference grammar; the model's URI travels as an image label through the API.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from mlworkbench.deploy.deploy_errors import (
    DeployModelError,
    InvalidImageReferenceError,
    OutputExistsError,
)
from mlworkbench.deploy.model_requirements import (
    DroppedRequirement,
    loader_module,
    select_requirements,
)
from mlworkbench.deploy.wheelhouse import (
    LOCK_NAME,
    OWN_WHEEL,
    PIP_WHEEL,
    find_own_wheel,
    gather_wheels,
    locked_entries,
    pip_wheel_name,
)

DEFAULT_BASE_IMAGE = "python:3.11-slim"
APP_UID = 10001  # fixed, numeric: Kubernetes' runAsNonRoot can only verify a numeric USER
APP_PORT = 8080
MODEL_IN_IMAGE = "/opt/model"
VENV_IN_IMAGE = "/opt/venv"
APP_IN_IMAGE = "/opt/app"  # mlworkbench itself, on the venv's path through a .pth file
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CONTEXT_MARKER = ".mlworkbench-context"
LOCK_FILE = LOCK_NAME
INSTALL_SCRIPT = "install_deps.py"

# Never copied out of a model folder, and kept out of any build by `.dockerignore`.
SECRET_PATTERNS = (
    ".git",
    ".env",
    ".env.*",
    "mlflow.db",
    "mlruns",
    ".mlworkbench",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_ed25519*",
    ".ssh",
    ".aws",
    ".netrc",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    "credentials*",
    "__pycache__",
)

LogCallback = Callable[[str], None]

# distribution/reference's grammar (the one the engine applies), so a bad tag fails here,
# before anything is downloaded or built.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST_PART = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}"
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?"
)


@dataclass(frozen=True)
class ImageReference:
    repository: str
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image_reference(value: str, what: str = "image tag") -> ImageReference:
    """`value` split by Docker's own grammar, or `InvalidImageReferenceError` saying why not."""
    match = _REFERENCE.fullmatch(value)
    if match is None:
        reason = "it is not NAME[:TAG][@DIGEST]"
        if value != value.strip() or any(ch.isspace() for ch in value):
            reason = "it contains white space"
        elif any(ch.isupper() for ch in value.split(":")[0].rsplit("/", 1)[-1]):
            reason = "repository names must be lower case"
        raise InvalidImageReferenceError(what, value, reason)
    name = match["name"]
    if len(name) > 255:
        raise InvalidImageReferenceError(what, value, "the name is longer than 255 characters")
    return ImageReference(name, match["tag"], match["digest"])


@dataclass(frozen=True)
class BuildContext:
    """What `generate_context` wrote, as plain data for the CLI and the editor."""

    path: Path
    base_image: str
    python_version: str
    requested: list[str]  # what pip was asked for (our wheel aside)
    locked: list[str]  # NAME==VERSION of every third-party wheel the image installs
    own_wheel: str  # the mlworkbench wheel in app/
    dropped: list[DroppedRequirement]
    skipped_files: list[str]  # model files left out (secrets, stores, caches)
    warnings: list[str]
    model_bytes: int
    wheelhouse_bytes: int
    wheelhouse_from_cache: bool
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def dockerfile(self) -> Path:
        return self.path / "Dockerfile"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def generate_context(
    model_dir: Path,
    out: Path | None = None,
    *,
    base_image: str = DEFAULT_BASE_IMAGE,
    base_digest: str | None = None,
    python_version: str | None = None,
    keep_requirements: Sequence[str] = (),
    all_requirements: bool = False,
    own_wheel: Path | None = None,
    force: bool = False,
    model_uri: str | None = None,
    cache_dir: Path | None = None,
    on_log: LogCallback | None = None,
) -> BuildContext:
    """Write a build context for the MLflow model in `model_dir` into `out` (a new private
    temporary folder when None) and return what it holds.

    `base_digest` (a `sha256:` digest the engine knows for `base_image`) pins the FROM line.
    `keep_requirements` names lines of the model's requirements to keep although its loader
    does not need them; `all_requirements` keeps them all. `own_wheel` is the mlworkbench wheel
    to install (default: built from this checkout, or the wheel bundled with the extension).
    """
    base = parse_image_reference(base_image, "base image")
    if base_digest is not None and base.digest is None:
        if re.fullmatch(_DIGEST, base_digest) is None:
            raise InvalidImageReferenceError("base image digest", base_digest, "not sha256:HEX")
        base = ImageReference(base.repository, base.tag, base_digest)
    model_dir = model_dir.resolve()
    mlmodel = _read_mlmodel(model_dir)
    warnings: list[str] = []
    target_python = python_version or _python_of_image(base) or _model_python(model_dir)
    target_python = target_python or f"{sys.version_info[0]}.{sys.version_info[1]}"
    model_python = _model_python(model_dir)
    if model_python and model_python != target_python:
        warnings.append(
            f"the model was saved with Python {model_python} and the image runs {target_python}: "
            "pick a base image with the same Python if loading it fails"
        )

    context = _prepare_folder(out, force)
    skipped = _copy_model(model_dir, context / "model")
    requested, dropped = select_requirements(
        model_dir, mlmodel, keep=keep_requirements, keep_all=all_requirements
    )
    wheel = own_wheel or find_own_wheel(cache_dir, on_log)
    wheels_dir = context / "wheels"
    lock = context / LOCK_FILE
    from_cache = gather_wheels(
        requested, wheel, target_python, wheels_dir, context / "app", lock, cache_dir, on_log
    )
    locked = locked_entries(lock)
    dockerfile = render_dockerfile(str(base), pip_wheel_name(wheels_dir), wheel.name)
    (context / INSTALL_SCRIPT).write_text(INSTALL_DEPS_SOURCE, encoding="utf-8")
    (context / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    (context / ".dockerignore").write_text(render_dockerignore(), encoding="utf-8")
    labels = {
        "org.opencontainers.image.title": "mlworkbench model server",
        "org.opencontainers.image.base.name": str(base),
        "io.mlworkbench.model.uri": model_uri or str(model_dir),
        "io.mlworkbench.model.flavor": loader_module(mlmodel) or "unknown",
    }
    if mlmodel.get("run_id"):
        labels["io.mlworkbench.model.run-id"] = str(mlmodel["run_id"])
    result = BuildContext(
        path=context,
        base_image=str(base),
        python_version=target_python,
        requested=requested,
        locked=locked,
        own_wheel=wheel.name,
        dropped=dropped,
        skipped_files=skipped,
        warnings=warnings,
        model_bytes=_tree_size(context / "model"),
        wheelhouse_bytes=_tree_size(wheels_dir) + _tree_size(context / "app"),
        wheelhouse_from_cache=from_cache,
        labels=labels,
    )
    marker = {"base_image": result.base_image, "locked": locked, "labels": labels}
    (context / CONTEXT_MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
    return result


def resolve_model_folder(
    workspace: Path,
    *,
    model: str | None = None,
    run: str | None = None,
    tracking_uri: str | None = None,
) -> tuple[Path, str]:
    """The local folder holding the model to package, and the URI it is known by.

    The model is found as `mlworkbench serve` finds it (`model_source`: a path, any MLflow
    URI, or a run's model); one that is not on this machine is downloaded into this process's
    private cache. The text is only a path or a URI handed to MLflow: it reaches no shell and
    no Dockerfile.
    """
    import hashlib

    from mlworkbench.deploy.model_source import resolve_model_source
    from mlworkbench.explorer.artifact_paths import local_artifact_root

    source = resolve_model_source(workspace, model=model, run_id=run, tracking_uri=tracking_uri)
    local = local_artifact_root(source.location)
    if local is not None:
        return local, source.uri
    import mlflow
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    from mlworkbench.tracking.private_dirs import download_dir

    if source.tracking_uri is not None:
        mlflow.set_tracking_uri(source.tracking_uri)  # models:/ and runs:/ resolve through it
    folder = download_dir("deploy", hashlib.sha256(source.location.encode()).hexdigest()[:16])
    try:
        fetched = mlflow.artifacts.download_artifacts(
            artifact_uri=source.location, dst_path=str(folder)
        )
    except (MlflowException, OSError) as error:
        raise DeployModelError(Path(source.location), f"MLflow cannot fetch it: {error}") from error
    return Path(fetched), source.uri


# --- the files of the context ---------------------------------------------------------------

# Runs in the image's first stage with the base image's own Python (Debian's python3 has no pip
# and no ensurepip, python:*-slim's pip is not the one we pinned): makes the venv without pip,
# so the final image carries no installer, installs the locked wheels with pip run straight
# from its wheel, and drops the packages' own test suites (a fifth of numpy/scipy/pandas).
INSTALL_DEPS_SOURCE = '''\
"""Install wheels with no network (written by mlworkbench deploy).

install_deps.py PIP_WHEEL               the locked third-party wheels into /opt/venv
install_deps.py PIP_WHEEL --app WHEEL   mlworkbench's wheel into /opt/app, on the venv's path
"""

import shutil
import subprocess
import sys
from pathlib import Path

WHEELS = Path("/wheels")
VENV = Path("/opt/venv")
APP = Path("/opt/app")

pip = [str(VENV / "bin" / "python"), str(WHEELS / sys.argv[1] / "pip"), "install"]
pip += ["--no-index", "--no-cache-dir", "--disable-pip-version-check"]
if sys.argv[2:3] == ["--app"]:
    # Apart from the venv, so a new mlworkbench leaves the venv's layer as it was.
    subprocess.run([*pip, "--no-deps", "--target", str(APP), sys.argv[3]], check=True)
    sys.exit(0)
subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(VENV)], check=True)
pip += ["--find-links", str(WHEELS), "--require-hashes"]
subprocess.run([*pip, "--requirement", str(WHEELS / "requirements.lock")], check=True)
for site in VENV.glob("lib/python*/site-packages"):
    for tests in sorted(site.glob("*/**/tests"), reverse=True):
        if tests.is_dir() and not tests.is_symlink():
            shutil.rmtree(tests)
    (site / "mlworkbench-app.pth").write_text(f"{APP}\\n")
'''


def render_dockerfile(base_image: str, pip_wheel: str, own_wheel: str) -> str:
    """The Dockerfile: a deps stage, then a final stage whose last layer is the model.

    The third-party install comes before our own wheel (which changes with every edit of this
    repository), and every instruction of the final stage that does not depend on the model
    comes before `COPY model/`, so a model-only change re-runs that one step. Exec form
    throughout: no shell parses anything, and only checked names reach this text.
    """
    parse_image_reference(base_image, "base image")
    if PIP_WHEEL.fullmatch(pip_wheel) is None or OWN_WHEEL.fullmatch(own_wheel) is None:
        raise ValueError(f"unexpected wheel names {pip_wheel!r}, {own_wheel!r}")
    install = ["python3", f"/wheels/{INSTALL_SCRIPT}", pip_wheel]
    health = (
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{APP_PORT}/health', timeout=4)"
    )
    serve = [f"{VENV_IN_IMAGE}/bin/python", "-m", "mlworkbench", "serve"]
    serve += ["--model", MODEL_IN_IMAGE, "--host", "0.0.0.0", "--port", str(APP_PORT)]  # noqa: S104
    useradd = ["useradd", "--system", "--no-log-init", "--user-group", "--uid", str(APP_UID)]
    useradd += ["--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"]
    useradd += ["mlworkbench"]
    lines = [
        "# Written by `mlworkbench deploy build`. Builds with no network: wheels/ holds every",
        "# wheel, pinned by hash in requirements.lock. The model is the last layer.",
        f"FROM {base_image} AS deps",
        "COPY wheels/ /wheels/",
        f"COPY {LOCK_FILE} {INSTALL_SCRIPT} /wheels/",
        f"RUN {json.dumps(install)}",
        "",
        "FROM deps AS app",
        "COPY app/ /app/",
        f"RUN {json.dumps([*install, '--app', f'/app/{own_wheel}'])}",
        "",
        f"FROM {base_image}",
        f"RUN {json.dumps(useradd)}",
        f"ENV PATH={VENV_IN_IMAGE}/bin:{SYSTEM_PATH} \\",
        "    PYTHONUNBUFFERED=1 \\",
        "    PYTHONDONTWRITEBYTECODE=1 \\",
        "    HOME=/tmp",
        f"EXPOSE {APP_PORT}",
        "HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \\",
        f"    CMD {json.dumps([f'{VENV_IN_IMAGE}/bin/python', '-c', health])}",
        f"ENTRYPOINT {json.dumps(serve)}",
        # The default arguments: `--token-file FILE` in their place requires a bearer token.
        'CMD ["--no-token"]',
        f"COPY --from=deps {VENV_IN_IMAGE} {VENV_IN_IMAGE}",
        f"COPY --from=app {APP_IN_IMAGE} {APP_IN_IMAGE}",
        f"USER {APP_UID}:{APP_UID}",
        f"COPY model/ {MODEL_IN_IMAGE}/",
        "",
    ]
    return "\n".join(lines)


def render_dockerignore() -> str:
    """Allow only what the Dockerfile copies; never secrets or stores, even inside model/."""
    allowed = ["Dockerfile", INSTALL_SCRIPT, LOCK_FILE, "wheels", "app", "model"]
    lines = [
        "# Written by `mlworkbench deploy build`. Only what the Dockerfile copies reaches the",
        "# engine: data, the tracking store, VCS metadata and credentials stay out.",
        "*",
        *(f"!{name}" for name in allowed),
        *(f"**/{pattern}" for pattern in SECRET_PATTERNS),
        "",
    ]
    return "\n".join(lines)


# --- the model ------------------------------------------------------------------------------


def _read_mlmodel(model_dir: Path) -> dict[str, Any]:
    import yaml

    path = model_dir / "MLmodel"
    if not model_dir.is_dir():
        raise DeployModelError(model_dir, "it is not a folder")
    if path.is_symlink() or not path.is_file():
        raise DeployModelError(model_dir, "it has no MLmodel file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise DeployModelError(model_dir, f"its MLmodel file cannot be read: {error}") from error
    if not isinstance(data, dict) or "python_function" not in (data.get("flavors") or {}):
        raise DeployModelError(
            model_dir, "its MLmodel has no python_function flavor, which the server loads"
        )
    return data


def _model_python(model_dir: Path) -> str | None:
    import yaml

    try:
        env = yaml.safe_load((model_dir / "python_env.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    version = str((env or {}).get("python", "")) if isinstance(env, dict) else ""
    match = re.match(r"(\d+)\.(\d+)", version)
    return f"{match[1]}.{match[2]}" if match else None


def _python_of_image(base: ImageReference) -> str | None:
    """`python:3.11-slim` and the like say their Python in the tag; other bases do not."""
    if base.repository.rsplit("/", 1)[-1] != "python" or not base.tag:
        return None
    match = re.match(r"(\d+)\.(\d+)", base.tag)
    return f"{match[1]}.{match[2]}" if match else None


def _is_secret(relative: Path) -> bool:
    return any(fnmatch(part, pattern) for part in relative.parts for pattern in SECRET_PATTERNS)


def _copy_model(model_dir: Path, dest: Path) -> list[str]:
    """Copy the model's files with modes the image's non-root user can read (0644/0755).

    A symlink is followed only when it stays inside the model folder: a model shipped by a
    repository must not smuggle `~/.ssh` into an image. Returns the files left out.
    """
    skipped: list[str] = []
    dest.mkdir(mode=0o755)
    for source in sorted(model_dir.rglob("*")):
        relative = source.relative_to(model_dir)
        if _is_secret(relative):
            skipped.append(str(relative))
            continue
        if source.is_symlink():
            if not source.resolve().is_relative_to(model_dir):
                raise DeployModelError(
                    model_dir, f"{relative} is a symlink leading out of the model folder"
                )
            if source.is_dir():  # its files would be copied twice, or loop
                skipped.append(str(relative))
                continue
        target_path = dest / relative
        mode = source.stat().st_mode
        if stat.S_ISDIR(mode):
            target_path.mkdir(mode=0o755, exist_ok=True)
        elif stat.S_ISREG(mode):
            target_path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            shutil.copyfile(source, target_path)
            os.chmod(target_path, 0o644)
        else:
            skipped.append(str(relative))
    return skipped


def _prepare_folder(out: Path | None, force: bool) -> Path:
    if out is None:
        from mlworkbench.tracking.private_dirs import private_temp_dir

        return private_temp_dir("mlworkbench-build-")
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise OutputExistsError(out, "build context folder (a file)")
    if out.is_dir() and any(out.iterdir()):
        if not (out / CONTEXT_MARKER).is_file() and not force:
            raise OutputExistsError(out, "build context folder")
        # One of ours (or --force): the model and generated files are replaced, wheels reused
        # only through the cache, never trusted from the folder itself.
        for name in ("model", "wheels", "app"):
            if (out / name).is_dir() and not (out / name).is_symlink():
                shutil.rmtree(out / name)
            elif (out / name).exists() or (out / name).is_symlink():
                (out / name).unlink()
    out.mkdir(mode=0o755, parents=True, exist_ok=True)
    return out


def _tree_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# --- requirements -----------------------------------------------------------------------------
