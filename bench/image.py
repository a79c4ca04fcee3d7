"""Serving-image benchmark: `mlworkbench deploy build` against MLflow's generated Dockerfile.

Both images are built on the same local base in a private Docker engine (there is no registry
to pull `python:*-slim` from): the tests' Debian bookworm rootfs with python3, plus pip and a
`python` command, which MLflow's Dockerfile needs. MLflow's Dockerfile (`mlflow models
generate-dockerfile`) has its FROM line rewritten to that base; it installs nginx with apt and
MLflow and the model's requirements with pip *inside the build*, so its build needs the network
(host networking for its RUN steps here). Ours installs from a wheelhouse with no network.

Prints, for a LogisticRegression logged the default way (MLflow infers its requirements):
  image size, ours vs MLflow's                                   (goal: ours <= 0.5x)
  first build time, ours vs MLflow's                             (reported)
  rebuild after a model-only change, ours vs MLflow's            (goal: ours <= 10 s)
  hadolint findings on each Dockerfile                           (reported)
MLflow's build installs the same package set as ours (`--mlflow-reqs ours`, the default: it
isolates the Dockerfile's design from requirement trimming), or the model's requirements as
MLflow wrote them (`--mlflow-reqs as-logged`). Logged next to PyTorch those name torch; here
`torch==2.13.0+cpu`, which is not on PyPI, so that build fails; without the local label PyPI's
torch 2.13.0 brings the CUDA 13 libraries (several GB).

Run (root; apt-get install docker.io debootstrap): .venv/bin/python bench/image.py
`--quick` (~1 min, what `make bench-quick` runs): no engine; writes both build contexts and
prints context sizes and hadolint findings only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "backend"))  # docker_engine: the tests' private engine

ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
ENV.pop("MLFLOW_TRACKING_URI", None)
BENCH_BASE = "mlworkbench-bench-base:bookworm"
CACHE = REPO / "build" / "deploy-test-cache"

LOG_MODEL = """
import sys
import mlflow, mlflow.sklearn, numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
store, c = sys.argv[1], float(sys.argv[2])
mlflow.set_tracking_uri(f"sqlite:///{store}/mlflow.db")
rng = np.random.default_rng(0)
x = pd.DataFrame({"income": rng.normal(50, 10, 500), "age": rng.normal(45, 12, 500)})
y = (x["income"] + rng.normal(0, 5, 500) > 50).astype(int)
with mlflow.start_run():
    info = mlflow.sklearn.log_model(
        LogisticRegression(C=c).fit(x, y), name="model", input_example=x.head(3)
    )
print(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=f"{store}/model-{c}"))
"""

# The host's CA bundle goes in too: where outgoing HTTPS is inspected by a proxy with its own
# CA (as on the machines this runs on), pip inside MLflow's build must trust what the host does.
BASE_DOCKERFILE = """\
FROM mlworkbench-test-base:bookworm
ENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_CERT=/etc/ssl/certs/host-ca-certificates.crt
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip python-is-python3 \\
    && rm -rf /var/lib/apt/lists/*
COPY host-ca-certificates.crt /etc/ssl/certs/host-ca-certificates.crt
"""
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def log_model(store: Path, c: float) -> Path:
    """A model logged as a user's script logs it: MLflow infers the requirements."""
    result = subprocess.run(
        [sys.executable, "-c", LOG_MODEL, str(store), str(c)],
        capture_output=True,
        text=True,
        env=ENV,
        check=True,
    )
    return Path(result.stdout.strip().splitlines()[-1])


def hadolint(dockerfile: Path) -> list[str]:
    tool = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(tool).exists():
        return ["(hadolint not installed)"]
    result = subprocess.run(
        [tool, "--no-color", "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    return [f"{f['code']} ({f['level']})" for f in json.loads(result.stdout or "[]")]


def mlflow_context(model: Path, out: Path, base: str, requirements: list[str] | None) -> Path:
    subprocess.run(
        [sys.executable, "-m", "mlflow", "models", "generate-dockerfile", "-m", str(model),
         "-d", str(out)],
        check=True, capture_output=True, env=ENV,
    )  # fmt: skip
    dockerfile = out / "Dockerfile"
    text = re.sub(r"^FROM \S+", f"FROM {base}", dockerfile.read_text(), count=1, flags=re.M)
    dockerfile.write_text(text)
    if requirements is not None:
        copied = re.search(r"^COPY (model_dir/\S+) /opt/ml/model", text, flags=re.M)
        assert copied, "MLflow's Dockerfile no longer copies model_dir/ to /opt/ml/model"
        (out / copied[1] / "requirements.txt").write_text("\n".join(requirements) + "\n")
    return out


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def build(client: Any, context: Path, tag: str, host_network: bool) -> tuple[float, int]:
    """(seconds, image bytes) of a build through the SDK's classic builder."""
    started = time.monotonic()
    image_id = None
    tail: list[str] = []
    for chunk in client.api.build(
        path=str(context),
        tag=tag,
        rm=True,
        forcerm=True,
        decode=True,
        network_mode="host" if host_network else None,
    ):
        tail = [*tail[-8:], *str(chunk.get("stream", "")).splitlines()]
        if "error" in chunk:
            raise RuntimeError(f"{tag}: {chunk['error']}\n" + "\n".join(tail))
        if isinstance(chunk.get("aux"), dict) and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
    seconds = time.monotonic() - started
    return seconds, int(client.api.inspect_image(image_id or tag)["Size"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="contexts and hadolint only")
    parser.add_argument(
        "--mlflow-reqs",
        choices=["ours", "as-logged"],
        default="ours",
        help="MLflow's build installs our package set (default) or the model's requirements "
        "as MLflow wrote them (fails when they name a local build such as torch==X+cpu)",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "python_backend"))
    from mlworkbench.deploy.build_context import generate_context

    work = Path(tempfile.mkdtemp(prefix="bench-image-"))
    try:
        started = time.monotonic()
        model = log_model(work, 1.0)
        print(f"logged the model in {time.monotonic() - started:.1f} s")
        logged = (model / "requirements.txt").read_text().split()
        print(f"MLflow inferred {len(logged)} requirements: {', '.join(logged)}")
        started = time.monotonic()
        ours = generate_context(model, work / "ours", base_image=BENCH_BASE, cache_dir=CACHE)
        print(
            f"our context in {time.monotonic() - started:.1f} s: {len(ours.locked)} wheels, "
            f"{ours.wheelhouse_bytes / 1e6:.0f} MB (from cache: {ours.wheelhouse_from_cache}); "
            f"left out: {', '.join(d.line for d in ours.dropped) or 'nothing'}"
        )
        same = ours.requested if args.mlflow_reqs == "ours" else None
        theirs = mlflow_context(model, work / "mlflow", BENCH_BASE, same)
        print(f"hadolint, ours:   {hadolint(ours.dockerfile) or 'no findings'}")
        print(f"hadolint, MLflow: {hadolint(theirs / 'Dockerfile') or 'no findings'}")
        if args.quick:
            print("(--quick: no image built; run without --quick for sizes and build times)")
            return 0
        return _engine_figures(work, ours, theirs, args.mlflow_reqs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _engine_figures(work: Path, ours: Any, theirs: Path, reqs: str) -> int:
    import docker_engine

    from mlworkbench.deploy.build_context import generate_context
    from mlworkbench.deploy.image_build import build_image, connect

    problem = docker_engine.engine_problem()
    if problem:
        print(f"no engine: {problem}")
        return 1
    engine = docker_engine.start_engine()
    try:
        docker_engine.ensure_base_image(engine)
        client = connect(engine.base_url)
        (work / "base").mkdir()
        (work / "base" / "Dockerfile").write_text(BASE_DOCKERFILE)
        shutil.copyfile(HOST_CA, work / "base" / "host-ca-certificates.crt")
        seconds, base_size = build(client, work / "base", BENCH_BASE, host_network=True)
        print(f"bench base (bookworm + python3-pip): {base_size / 1e6:.0f} MB in {seconds:.0f} s")

        ours_build = build_image(client, ours.path, "bench/ours:1")
        print(f"ours: {ours_build.size_bytes / 1e6:.0f} MB in {ours_build.build_seconds:.0f} s")
        try:
            mlflow_s, mlflow_size = build(client, theirs, "bench/mlflow:1", host_network=True)
        except RuntimeError as error:
            print(f"MLflow's image does not build: {str(error)[:400]}")
            return 1
        print(f"MLflow: {mlflow_size / 1e6:.0f} MB in {mlflow_s:.0f} s")

        model_v2 = log_model(work, 0.5)
        started = time.monotonic()
        ours_v2 = generate_context(
            model_v2,
            work / "ours-v2",
            base_image=BENCH_BASE,
            own_wheel=ours.path / "app" / ours.own_wheel,
            cache_dir=CACHE,
        )
        rebuilt = build_image(client, ours_v2.path, "bench/ours:2")
        ours_rebuild = time.monotonic() - started
        theirs_v2 = mlflow_context(
            model_v2, work / "mlflow-v2", BENCH_BASE, ours.requested if reqs == "ours" else None
        )
        mlflow_rebuild, _ = build(client, theirs_v2, "bench/mlflow:2", host_network=True)

        print(f"\nMLflow's requirements: {reqs}; base {base_size / 1e6:.0f} MB in both")
        print(f"{'':34}{'ours':>10}{'MLflow':>10}{'ratio':>8}")
        rows = [
            ("image size (MB)", ours_build.size_bytes / 1e6, mlflow_size / 1e6),
            ("  above the base (MB)", (ours_build.size_bytes - base_size) / 1e6,
             (mlflow_size - base_size) / 1e6),
            ("first build (s)", ours_build.build_seconds, mlflow_s),
            ("rebuild, model-only change (s)", ours_rebuild, mlflow_rebuild),
        ]  # fmt: skip
        for label, mine, peer in rows:
            print(f"{label:34}{mine:10.1f}{peer:10.1f}{mine / peer:8.2f}x")
        print(f"(our rebuild: context {ours_rebuild - rebuilt.build_seconds:.1f} s + build "
              f"{rebuilt.build_seconds:.1f} s; goals: size <= 0.5x, rebuild <= 10 s)")  # fmt: skip
        return 0
    finally:
        engine.stop()


if __name__ == "__main__":
    sys.exit(main())
