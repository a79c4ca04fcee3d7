"""`mlworkbench serve`: MLflow's scoring protocol, the same predictions, and the gate in front.

One real sqlite store per module (a run with a signed LogisticRegression, the same model without
a signature, and a RandomForest saved with skops and its trusted types), each model loaded once,
served by real uvicorn servers on free 127.0.0.1 ports in threads: the fast path and the pyfunc
path of the same loaded model side by side, so every answer is compared with both the other path
and the in-process `pyfunc.predict`.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlworkbench.deploy import serving_access
from mlworkbench.deploy.model_source import ModelSource, load_pyfunc, resolve_model_source
from mlworkbench.deploy.serving_app import GateSettings, create_app
from mlworkbench.deploy.serving_model import ServedModel, serve_model
from mlworkbench.deploy.serving_process import bind_socket, uvicorn_config
from mlworkbench.errors import RunNotFoundError
from mlworkbench.reports.report_errors import ModelLoadError

pytestmark = [
    pytest.mark.usefixtures("no_tracking_env"),
    # The fast path hands scikit-learn an array without column names (checked equal to the
    # signature's); the server process ignores this warning, pytest resets filters per test.
    pytest.mark.filterwarnings("ignore:X does not have valid feature names:UserWarning"),
]

FEATURES = [f"f{i}" for i in range(6)]
TOKEN = "t" * 43
FOREST_TYPES = [
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
]


@dataclasses.dataclass
class Server:
    port: int
    served: ServedModel
    token: str | None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        content_type: str | None = "application/json",
        token: str | None = "default",
        host: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = dict(headers or {})
        if content_type:
            sent["Content-Type"] = content_type
        token = self.token if token == "default" else token
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if host is not None:
            sent["Host"] = host
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        try:
            return response.status, json.loads(data)
        except ValueError:
            return response.status, data

    def predict(self, payload: object, **options: Any) -> tuple[int, Any]:
        return self.request("POST", "/invocations", json.dumps(payload).encode(), **options)

    def csv(self, text: str) -> tuple[int, Any]:
        return self.request("POST", "/invocations", text.encode(), content_type="text/csv")


@dataclasses.dataclass
class Store:
    workspace: Path
    run_id: str
    frame: Any  # pandas.DataFrame of the training features
    servers: dict[str, Server]
    warnings: list[str]


LOG_OPTIONS = {"pip_requirements": ["scikit-learn"]}  # skips requirement inference (slow)


def _log_models(workspace: Path) -> tuple[str, Any]:
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(n_samples=300, n_features=len(FEATURES), random_state=0)
    frame = pd.DataFrame(x, columns=FEATURES)
    linear = LogisticRegression().fit(frame, y)
    on_array = LogisticRegression(C=0.5).fit(x, y)
    forest = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(frame, y)
    mlflow.set_tracking_uri(f"sqlite:///{workspace / 'mlflow.db'}")
    try:
        # Artifacts in the workspace: the default experiment's root is `./mlruns` of the cwd.
        experiment = mlflow.create_experiment(
            "serving", artifact_location=(workspace / "mlruns").as_uri()
        )
        with mlflow.start_run(experiment_id=experiment) as run:
            mlflow.sklearn.log_model(
                linear,
                name="classifier",
                signature=infer_signature(frame, linear.predict(frame)),
                input_example=frame.head(2),
                **LOG_OPTIONS,
            )
            mlflow.sklearn.log_model(linear, name="unsigned", **LOG_OPTIONS)
            mlflow.sklearn.log_model(  # fitted on an array: a (-1, 6) float64 tensor signature
                on_array,
                name="tensor",
                signature=infer_signature(x, on_array.predict(x)),
                **LOG_OPTIONS,
            )
            # For the CLI's own process: cloudpickle loads without skops listing every
            # scikit-learn type first (15 s on a busy machine).
            mlflow.sklearn.log_model(
                linear,
                name="pickled",
                signature=infer_signature(frame, linear.predict(frame)),
                serialization_format="cloudpickle",
                **LOG_OPTIONS,
            )
            mlflow.sklearn.log_model(
                forest,
                name="forest",
                signature=infer_signature(frame, forest.predict(frame)),
                skops_trusted_types=FOREST_TYPES,
                **LOG_OPTIONS,
            )
    finally:
        mlflow.set_tracking_uri(None)
    return run.info.run_id, frame


def _start(served: ServedModel, token: str | None) -> tuple[Server, Any, threading.Thread]:
    import uvicorn

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    settings = GateSettings(
        token=token,
        hosts=serving_access.allowed_hosts("127.0.0.1", port),
        max_body_bytes=64 * 1024,
    )
    server = uvicorn.Server(uvicorn_config(create_app(served, settings)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    return Server(port, served, token), server, thread


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    workspace = tmp_path_factory.mktemp("serving")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        run_id, frame = _log_models(workspace)
        collect = _Collect()
        logger = logging.getLogger("mlworkbench.serve")
        logger.addHandler(collect)
        try:
            loaded = {
                label: serve_model(resolve_model_source(workspace, run_id=run_id, model=label))
                for label in ("classifier", "unsigned", "forest", "tensor")
            }
        finally:
            logger.removeHandler(collect)
        apps = {
            "fast": (loaded["classifier"], TOKEN),
            "pyfunc": (dataclasses.replace(loaded["classifier"], fast=None), TOKEN),
            "unsigned": (loaded["unsigned"], None),
            "forest": (loaded["forest"], TOKEN),
            "forest-pyfunc": (dataclasses.replace(loaded["forest"], fast=None), TOKEN),
            "tensor": (loaded["tensor"], TOKEN),
            "tensor-pyfunc": (dataclasses.replace(loaded["tensor"], fast=None), TOKEN),
        }
        started = {name: _start(served, token) for name, (served, token) in apps.items()}
        try:
            yield Store(
                workspace,
                run_id,
                frame,
                {name: server for name, (server, _, _) in started.items()},
                collect.messages,
            )
        finally:
            for _, server, _thread in started.values():
                server.should_exit = True
            for _, _, thread in started.values():
                thread.join(timeout=10)
            import mlflow

            mlflow.set_tracking_uri(None)


def _rows(store: Store, count: int = 4) -> list[list[float]]:
    rows: list[list[float]] = store.frame.head(count).values.tolist()
    if count > 1:
        rows[1] = [1, 2, -3, 0, 5, 1]  # whole numbers in double columns: MLflow casts them
    return rows


def _in_process(served: ServedModel, rows: list[list[Any]]) -> list[Any]:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(rows, columns=FEATURES).astype("float64")
    return list(np.asarray(served.pyfunc.predict(frame)).tolist())


def _payloads(rows: list[list[Any]]) -> dict[str, object]:
    records = [dict(zip(FEATURES, row, strict=True)) for row in rows]
    reordered = FEATURES[::-1]
    return {
        "dataframe_split": {"dataframe_split": {"columns": FEATURES, "data": rows}},
        "dataframe_split reordered": {
            "dataframe_split": {"columns": reordered, "data": [row[::-1] for row in rows]}
        },
        "dataframe_records": {"dataframe_records": records},
        "instances": {"instances": records},
        "inputs columns": {
            "inputs": {name: [row[i] for row in rows] for i, name in enumerate(FEATURES)}
        },
        "inputs records": {"inputs": records},
    }


def _still_serves(server: Server, store: Store) -> None:
    rows = _rows(store, 2)
    status, body = server.predict({"dataframe_split": {"columns": FEATURES, "data": rows}})
    assert status == 200, body
    assert body["predictions"] == _in_process(server.served, rows)


# --- predictions -------------------------------------------------------------------------------


def test_the_signed_sklearn_models_take_the_fast_path_and_the_unsigned_one_pyfunc(
    store: Store,
) -> None:
    assert store.servers["fast"].served.fast is not None
    assert store.servers["forest"].served.fast is not None
    assert store.servers["tensor"].served.fast is not None
    assert store.servers["unsigned"].served.fast is None
    assert store.servers["unsigned"].served.rules is None


@pytest.mark.parametrize("server_name", ["fast", "pyfunc", "forest", "forest-pyfunc"])
def test_every_json_format_predicts_what_pyfunc_predicts_in_process(
    store: Store, server_name: str
) -> None:
    server = store.servers[server_name]
    rows = _rows(store)
    expected = _in_process(server.served, rows)
    for name, payload in _payloads(rows).items():
        status, body = server.predict(payload)
        assert status == 200, (name, body)
        assert body == {"predictions": expected}, name


def test_the_fast_and_pyfunc_paths_answer_the_same_bytes(store: Store) -> None:
    rows = store.frame.head(50).values.tolist()
    payload = json.dumps({"dataframe_split": {"columns": FEATURES, "data": rows}}).encode()
    for fast, slow in (("fast", "pyfunc"), ("forest", "forest-pyfunc")):
        answers = [
            store.servers[name].request("POST", "/invocations", payload) for name in (fast, slow)
        ]
        assert answers[0] == answers[1]
        assert answers[0][1]["predictions"] == _in_process(store.servers[fast].served, rows)


def test_a_tensor_signature_takes_lists_of_rows_on_both_paths(store: Store) -> None:
    import numpy as np

    rows = _rows(store)
    expected = np.asarray(
        store.servers["tensor"].served.pyfunc.predict(np.array(rows, dtype="float64"))
    ).tolist()
    for name in ("tensor", "tensor-pyfunc"):
        server = store.servers[name]
        for key in ("inputs", "instances"):
            assert server.predict({key: rows}) == (200, {"predictions": expected}), (name, key)
        status, body = server.predict({"inputs": [row[:-1] for row in rows]})
        assert (status, body["field"]) == (422, "inputs")
        assert server.predict({"inputs": rows[:1]})[0] == 200  # still serving


def test_csv_predicts_what_pyfunc_predicts(store: Store) -> None:
    rows = _rows(store)
    text = ",".join(FEATURES) + "\n" + "".join(",".join(map(repr, row)) + "\n" for row in rows)
    for name in ("fast", "forest", "unsigned"):
        server = store.servers[name]
        status, body = server.csv(text)
        assert status == 200, body
        assert body == {"predictions": _in_process(server.served, rows)}


def test_a_null_is_nan_for_the_model_to_judge_on_both_paths(store: Store) -> None:
    rows = [[None, 0.1, 0.2, 0.3, 0.4, 0.5]]
    payload = {"dataframe_split": {"columns": FEATURES, "data": rows}}
    # The forest takes NaN; the logistic regression refuses it, as under MLflow (400).
    assert store.servers["forest"].predict(payload) == store.servers["forest-pyfunc"].predict(
        payload
    )
    assert store.servers["forest"].predict(payload)[0] == 200
    fast, slow = store.servers["fast"].predict(payload), store.servers["pyfunc"].predict(payload)
    assert fast[0] == slow[0] == 400
    _still_serves(store.servers["fast"], store)


def test_a_model_without_signature_is_served_with_a_warning(store: Store) -> None:
    assert any("has no signature" in message for message in store.warnings)
    server = store.servers["unsigned"]
    rows = _rows(store)
    status, body = server.predict({"dataframe_split": {"columns": FEATURES, "data": rows}})
    assert status == 200
    assert body == {"predictions": _in_process(server.served, rows)}
    # Nothing checks its columns: MLflow's own error for a wrong input, and it keeps serving.
    status, body = server.predict({"dataframe_split": {"columns": ["a"], "data": [[1.0]]}})
    assert status == 400 and body["error_code"] == "BAD_REQUEST"
    assert "stack_trace" not in body
    _still_serves(server, store)


# --- refusals: each answered, and the next request served ------------------------------------


@pytest.mark.parametrize(
    ("columns", "row", "field"),
    [
        (FEATURES[:-1], [0.1] * 5, "f5"),  # missing
        ([*FEATURES, "extra"], [0.1] * 7, "extra"),  # not in the signature
        (FEATURES, [0.1, 0.2, "high", 0.4, 0.5, 0.6], "f2"),  # a string for a double
        (FEATURES, [0.1, 0.2, 0.3, True, 0.5, 0.6], "f3"),  # a boolean for a double
    ],
)
def test_a_column_that_does_not_fit_the_signature_is_a_422_naming_it(
    store: Store, columns: list[str], row: list[Any], field: str
) -> None:
    for name in ("fast", "pyfunc"):
        server = store.servers[name]
        status, body = server.predict({"dataframe_split": {"columns": columns, "data": [row]}})
        assert status == 422, body
        assert body["field"] == field and repr(field) in body["message"]
        _still_serves(server, store)


def test_records_and_csv_name_the_offending_column_too(store: Store) -> None:
    server = store.servers["fast"]
    record = dict.fromkeys(FEATURES[:-1], 0.5)
    status, body = server.predict({"dataframe_records": [record]})
    assert (status, body["field"]) == (422, "f5")
    status, body = server.csv(",".join(FEATURES) + "\n0.1,0.2,abc,0.4,0.5,0.6\n")
    assert (status, body["field"]) == (422, "f2")
    status, body = server.csv("f0,f1\n0.1,0.2\n")
    assert (status, body["field"]) == (422, "f2")
    _still_serves(server, store)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"dataframe_split": {"columns": ["f0"', "application/json"),
        (b"\xff\xfe not utf-8", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"[" * 50_000, "application/json"),
        (b'{"rows": [[1, 2]]}', "application/json"),
        (b'{"dataframe_split": [], "inputs": []}', "application/json"),
        (b'{"dataframe_split": {"columns": ["f0"], "data": [[1, 2]]}}', "application/json"),
        (b'f0,f1,f2,f3,f4,f5\n1,2,"3\n', "text/csv"),
        (b"f0,f1,f2,f3,f4,f5\n1,2,3\n", "text/csv"),
        (b"", "text/csv"),
    ],
)
def test_a_malformed_body_is_a_400_with_a_reason(
    store: Store, body: bytes, content_type: str
) -> None:
    server = store.servers["fast"]
    status, answer = server.request("POST", "/invocations", body, content_type=content_type)
    assert status == 400, answer
    assert answer["error_code"] == "BAD_REQUEST" and answer["message"]
    _still_serves(server, store)


def test_other_content_types_are_a_415(store: Store) -> None:
    server = store.servers["fast"]
    for content_type in ("application/vnd.apache.parquet", "text/plain", None):
        status, _ = server.request("POST", "/invocations", b"x", content_type=content_type)
        assert status == 415
    status, _ = server.request(
        "POST", "/invocations", b"{}", content_type="application/json; charset=latin-1"
    )
    assert status == 415
    _still_serves(server, store)


def test_a_body_over_the_limit_is_a_413_declared_or_streamed(store: Store) -> None:
    server = store.servers["fast"]
    rows = [[0.5] * len(FEATURES)] * 3000  # ~100 KiB, over the 64 KiB these servers take
    big = json.dumps({"dataframe_split": {"columns": FEATURES, "data": rows}}).encode()
    status, body = server.request("POST", "/invocations", big)
    assert status == 413 and body["error_code"] == "RESOURCE_EXHAUSTED"
    _still_serves(server, store)

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        chunks = (big[i : i + 8192] for i in range(0, len(big), 8192))
        connection.request(
            "POST",
            "/invocations",
            body=chunks,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
            encode_chunked=True,
        )
        assert connection.getresponse().status == 413
    finally:
        connection.close()
    _still_serves(server, store)


def test_invocations_and_version_need_the_token_and_probes_do_not(store: Store) -> None:
    server = store.servers["fast"]
    payload = {"dataframe_split": {"columns": FEATURES, "data": _rows(store, 1)}}
    for token in (None, "wrong-" + TOKEN, TOKEN[:-1]):
        status, body = server.predict(payload, token=token)
        assert status == 401 and body["error_code"] == "UNAUTHENTICATED"
        assert server.request("GET", "/version", token=token)[0] == 401
        _still_serves(server, store)
    status, _ = server.request(
        "POST",
        "/invocations",
        json.dumps(payload).encode(),
        token=None,
        headers={"Authorization": f"Basic {TOKEN}"},
    )
    assert status == 401
    assert server.request("GET", "/nothing-here", token=None)[0] == 401  # no probing either
    for path in ("/ping", "/health"):
        assert server.request("GET", path, token=None)[0] == 200


def test_a_host_header_the_server_was_not_started_for_is_refused(store: Store) -> None:
    server = store.servers["fast"]
    payload = {"dataframe_split": {"columns": FEATURES, "data": _rows(store, 1)}}
    for host in ("attacker.example", f"attacker.example:{server.port}", "127.0.0.1:1"):
        status, body = server.predict(payload, host=host)
        assert status == 421 and body["error_code"] == "MISDIRECTED_REQUEST"
        assert server.request("GET", "/health", host=host)[0] == 421
    assert server.predict(payload, host=f"localhost:{server.port}")[0] == 200
    _still_serves(server, store)


def test_version_names_the_model_and_the_versions(store: Store) -> None:
    from importlib.metadata import version

    from mlworkbench import __version__

    status, body = store.servers["fast"].request("GET", "/version")
    assert status == 200
    assert body["mlworkbench"] == __version__ and body["mlflow"] == version("mlflow")
    assert body["run_id"] == store.run_id and body["model_uri"].startswith("models:/")


def test_no_token_serves_without_authorization(store: Store) -> None:
    server = store.servers["unsigned"]  # started as with --no-token
    assert server.request("GET", "/version", token=None)[0] == 200


# --- model sources -------------------------------------------------------------------------


def test_a_run_with_several_models_needs_a_label(store: Store) -> None:
    with pytest.raises(ModelLoadError, match="several models"):
        resolve_model_source(store.workspace, run_id=store.run_id)
    with pytest.raises(ModelLoadError, match="no such model"):
        resolve_model_source(store.workspace, run_id=store.run_id, model="nope")
    with pytest.raises(RunNotFoundError):
        resolve_model_source(store.workspace, run_id="0" * 32)
    source = resolve_model_source(store.workspace, run_id=store.run_id[:8], model="forest")
    assert source.run_id == store.run_id and source.label == "forest"


@pytest.mark.parametrize(
    "uri", ["$(touch pwned)", "model; touch pwned", "../../etc", "/nonexistent/model", "`id`"]
)
def test_odd_model_uris_are_only_paths_that_fail_to_load(store: Store, uri: str) -> None:
    source = resolve_model_source(store.workspace, model=uri)
    with pytest.raises(ModelLoadError) as caught:
        load_pyfunc(source)
    assert caught.value.code == "MODEL_LOAD_FAILED" and caught.value.uri == uri
    assert not (store.workspace / "pwned").exists() and not Path("pwned").exists()


def test_a_skops_model_whose_types_are_not_trusted_fails_with_the_types_to_list(
    store: Store, tmp_path: Path
) -> None:
    import yaml

    location = resolve_model_source(store.workspace, run_id=store.run_id, model="forest").location
    copy = tmp_path / "forest"
    shutil.copytree(location.removeprefix("file://"), copy)
    spec = yaml.safe_load((copy / "MLmodel").read_text())
    spec["flavors"]["sklearn"]["skops_trusted_types"] = None
    (copy / "MLmodel").write_text(yaml.safe_dump(spec))
    with pytest.raises(ModelLoadError) as caught:
        load_pyfunc(ModelSource(str(copy), str(copy), None, "forest", None))
    message = caught.value.message
    # skops trusts scikit-learn's estimators itself; the tree structure it leaves to the user.
    assert "skops_trusted_types=['sklearn.tree._tree.Tree']" in message


# --- CLI -----------------------------------------------------------------------------------


def _cli(argv: list[str]) -> argparse.Namespace:
    from mlworkbench.commands.serve import COMMAND

    parser = argparse.ArgumentParser()
    COMMAND.configure(parser)
    return parser.parse_args(argv)


def test_cli_defaults_and_argument_checks() -> None:
    args = _cli(["--model", "m"])
    assert (args.host, args.port, args.max_body_mb, args.workers) == ("127.0.0.1", 5001, 10, 1)
    assert not args.no_token and args.token_file is None
    for bad in (["--port", "70000"], ["--workers", "0"], ["--max-body-mb", "-1"]):
        with pytest.raises(SystemExit):
            _cli(["--model", "m", *bad])
    with pytest.raises(SystemExit):
        _cli(["--model", "m", "--no-token", "--token-file", "f"])


def test_a_port_in_use_is_an_error_naming_it(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlworkbench.commands.serve import COMMAND

    taken = store.servers["fast"].port
    args = _cli(["--model", "anything", "--port", str(taken), "--workspace", str(store.workspace)])
    assert COMMAND.run(args) == 2
    error = capsys.readouterr().err
    assert f"port {taken}" in error and "in use" in error and "Traceback" not in error


def test_a_token_file_must_hold_a_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mlworkbench.commands.serve import COMMAND

    short = tmp_path / "short"
    short.write_text("abc\n")
    assert COMMAND.run(_cli(["--model", "m", "--token-file", str(short)])) == 2
    assert "at least 16 characters" in capsys.readouterr().err
    assert COMMAND.run(_cli(["--model", "m", "--token-file", str(tmp_path / "missing")])) == 2
    good = tmp_path / "good"
    good.write_text(TOKEN + "\n")
    good.chmod(0o644)
    token, warning = serving_access.read_token_file(good)
    assert token == TOKEN and warning is not None and "chmod 600" in warning
    good.chmod(0o640)  # our own group, as a Kubernetes Secret mounted with the pod's fsGroup
    assert serving_access.read_token_file(good) == (TOKEN, None)


def test_loopback_hosts_and_bearer_checks() -> None:
    assert serving_access.allowed_hosts("0.0.0.0", 80) is None
    assert serving_access.allowed_hosts("127.0.0.1", 5001) == {
        "127.0.0.1:5001",
        "localhost:5001",
    }
    assert "[::1]:5001" in (serving_access.allowed_hosts("::1", 5001) or set())
    assert serving_access.bearer_matches(b"Bearer " + TOKEN.encode(), TOKEN)
    assert serving_access.bearer_matches(b"bearer " + TOKEN.encode(), TOKEN)
    assert not serving_access.bearer_matches(b"Bearer", TOKEN)
    assert not serving_access.bearer_matches(None, TOKEN)
    assert len(serving_access.new_token()) >= 43  # 32 random bytes


@pytest.mark.slow
def test_the_cli_prints_the_url_and_token_once_and_serves_until_interrupted(
    store: Store,
) -> None:
    """The real command in its own process: URL and token on stdout, the token file 0600 in a
    private folder that is gone after Ctrl+C, and a prediction through the printed token."""
    code = (
        "import argparse, sys; from mlworkbench.commands.serve import COMMAND; "
        "p = argparse.ArgumentParser(); COMMAND.configure(p); "
        "sys.exit(COMMAND.run(p.parse_args(sys.argv[1:])))"
    )
    argv = [sys.executable, "-c", code, "--run", store.run_id, "--model", "pickled"]
    argv += ["--port", "0", "--workspace", str(store.workspace)]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        lines: list[str] = []
        assert process.stdout is not None
        while not lines or not lines[-1].startswith("Press Ctrl+C"):
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else "no output"
            lines.append(line)
        printed = "".join(lines)
        url = printed.split(" at ", 1)[1].split()[0]
        token = next(line.split()[1] for line in lines if line.strip().startswith("token:"))
        token_file = Path(printed.split("(also in ", 1)[1].split(",", 1)[0])
        assert printed.count(token) == 1
        assert token_file.read_text().strip() == token
        assert token_file.stat().st_mode & 0o777 == 0o600
        assert token_file.parent.stat().st_mode & 0o777 == 0o700
        port = int(url.rsplit(":", 1)[1])
        server = Server(port, store.servers["fast"].served, token)
        _still_serves(server, store)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        assert not token_file.parent.exists()
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
