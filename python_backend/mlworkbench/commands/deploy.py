"""`mlworkbench deploy ACTION`: ship a model as a container image, and describe it to Kubernetes.

`build` writes a build context (model, pinned wheelhouse, Dockerfile), builds it with the Docker
SDK while printing the engine's log, and with `--run-container` runs the image and compares its
predictions with the in-process ones. `k8s` writes a Deployment, a Service and an optional HPA.
Thin over `mlworkbench.deploy`; the build log and pip's lines go to stderr, so with `--json`
stdout holds one JSON document.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from mlworkbench.commands import Subcommand

DEFAULT_BASE_IMAGE = "python:3.11-slim"  # = deploy.build_context.DEFAULT_BASE_IMAGE (no import)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(title="actions", metavar="ACTION", dest="deploy_action")
    actions.required = True

    build = actions.add_parser(
        "build",
        help="build a serving image for a model (and smoke-test it with --run-container)",
        description=(
            "Write a build context for a model (its files, a wheelhouse pinned by hash, a "
            "Dockerfile with a non-root user and a health check) and build it with the Docker "
            "engine at DOCKER_HOST. The build needs no network; a model-only change rebuilds "
            "in seconds."
        ),
    )
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", metavar="URI", help="a model folder or MLflow model URI")
    source.add_argument("--run", metavar="RUN", help="a run id (or unique prefix) whose model")
    build.add_argument(
        "--model-name",
        metavar="LABEL",
        default=None,
        help="with --run, which of the run's models when it logged several",
    )
    build.add_argument("--tag", required=True, metavar="NAME[:TAG]", help="the image's tag")
    build.add_argument(
        "--base-image",
        default=DEFAULT_BASE_IMAGE,
        metavar="IMAGE",
        help=f"base image with a Python matching the model's (default: {DEFAULT_BASE_IMAGE})",
    )
    build.add_argument(
        "--context",
        type=Path,
        default=None,
        metavar="DIR",
        help="write the build context here and keep it (default: a private temporary folder)",
    )
    build.add_argument("--force", action="store_true", help="reuse a --context DIR not ours")
    build.add_argument(
        "--no-build", action="store_true", help="only write the build context (needs --context)"
    )
    build.add_argument(
        "--run-container",
        action="store_true",
        help="run the image (non-root, read-only, 127.0.0.1 only), wait for its health check "
        "and compare a prediction with the in-process one",
    )
    build.add_argument(
        "--keep-running",
        action="store_true",
        help="with --run-container, leave the container running and print its URL",
    )
    build.add_argument(
        "--keep-requirement",
        action="append",
        default=[],
        metavar="NAME",
        help="keep a line of the model's requirements that its loader does not need (repeatable)",
    )
    build.add_argument(
        "--all-requirements",
        action="store_true",
        help="install every line of the model's requirements, as MLflow inferred them",
    )
    build.add_argument(
        "--mlworkbench-wheel",
        type=Path,
        default=None,
        metavar="PATH",
        help="the mlworkbench wheel to install (default: built from this checkout, or bundled)",
    )
    build.add_argument(
        "--docker-host", default=None, metavar="URL", help="the engine (default: DOCKER_HOST)"
    )
    _common(build, "print the context, build and smoke-test results as JSON")
    build.set_defaults(deploy_run=_build)

    k8s = actions.add_parser(
        "k8s",
        help="write Kubernetes manifests (Deployment, Service, optional HPA) for an image",
        description=(
            "Write a Deployment and a Service (and with --hpa a HorizontalPodAutoscaler) that "
            "run IMAGE non-root on a read-only root file system, with probes on /health."
        ),
    )
    k8s.add_argument("--tag", required=True, metavar="IMAGE", help="the image to run")
    k8s.add_argument("--name", required=True, help="the objects' name (a DNS-1035 label)")
    k8s.add_argument("--replicas", type=_positive, default=2, help="pods (default: 2)")
    k8s.add_argument("--hpa", action="store_true", help="add a CPU-based autoscaler")
    k8s.add_argument(
        "--max-replicas", type=_positive, default=None, help="the autoscaler's ceiling"
    )
    k8s.add_argument("--cpu-request", default="250m", metavar="CPU")
    k8s.add_argument("--memory-request", default="512Mi", metavar="BYTES")
    k8s.add_argument("--cpu-limit", default="1", metavar="CPU")
    k8s.add_argument("--memory-limit", default="1Gi", metavar="BYTES")
    k8s.add_argument(
        "--token-secret",
        default=None,
        metavar="SECRET",
        help="require a bearer token: the server reads it from this Secret's 'token' key "
        "(create it with: kubectl create secret generic SECRET --from-file=token=FILE)",
    )
    k8s.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="folder (default: k8s/NAME)"
    )
    k8s.add_argument("--force", action="store_true", help="overwrite existing manifests")
    _common(k8s, "print the written files as JSON")
    k8s.set_defaults(deploy_run=_k8s)


def _common(parser: argparse.ArgumentParser, json_help: str) -> None:
    parser.add_argument(
        "--workspace", type=Path, default=None, help="workspace folder (default: cwd)"
    )
    parser.add_argument("--json", action="store_true", help=json_help)


def _run(args: argparse.Namespace) -> int:
    status: int = args.deploy_run(args)
    return status


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _build(args: argparse.Namespace) -> int:
    import shutil

    from mlworkbench.deploy.build_context import (
        generate_context,
        parse_image_reference,
        resolve_model_folder,
    )
    from mlworkbench.deploy.deploy_errors import InvalidDeployOptionError
    from mlworkbench.deploy.image_build import (
        base_image_digest,
        build_image,
        check_tag,
        connect,
        smoke_test,
    )

    workspace = (args.workspace or Path.cwd()).resolve()
    tag = str(check_tag(args.tag))  # a bad tag fails before anything is fetched or built
    parse_image_reference(args.base_image, "base image")
    if args.no_build and args.context is None:
        raise InvalidDeployOptionError("--no-build", "say where to write the context (--context)")
    if args.no_build and args.run_container:
        raise InvalidDeployOptionError("--run-container", "it needs a build (drop --no-build)")
    client = None if args.no_build else connect(args.docker_host)
    digest = base_image_digest(client, args.base_image) if client is not None else None
    model_dir, model_uri = resolve_model_folder(
        workspace, model=args.model_name if args.run else args.model, run=args.run
    )
    _log(f"packaging {model_uri} ({model_dir})")
    context = generate_context(
        model_dir,
        args.context,
        base_image=args.base_image,
        base_digest=digest,
        keep_requirements=args.keep_requirement,
        all_requirements=args.all_requirements,
        own_wheel=args.mlworkbench_wheel,
        force=args.force,
        model_uri=model_uri,
        on_log=_log,
    )
    for dropped in context.dropped:
        _log(f"left out {dropped.line}: {dropped.reason}")
    for warning in context.warnings:
        _log(f"warning: {warning}")
    result: dict[str, Any] = {"context": context.to_dict(), "build": None, "smoke": None}
    try:
        if client is not None:
            built = build_image(client, context.path, tag, labels=context.labels, on_log=_log)
            result["build"] = built.to_dict()
            if args.run_container:
                smoke = smoke_test(
                    client, built.tag, model_dir, keep_running=args.keep_running, on_log=_log
                )
                result["smoke"] = smoke.to_dict()
    finally:
        if args.context is None:  # a private temporary context: its wheels live in the cache
            shutil.rmtree(context.path, ignore_errors=True)
            result["context"]["path"] = None
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    _print_build(result)
    return 0


def _print_build(result: dict[str, Any]) -> None:
    context, built, smoke = result["context"], result["build"], result["smoke"]
    if built is None:
        print(f"build context written to {context['path']} ({len(context['locked'])} wheels)")
        return
    print(
        f"built {built['tag']} ({built['image_id'][7:19]}): "
        f"{built['size_bytes'] / 1e6:.0f} MB in {built['build_seconds']:.1f} s"
    )
    if smoke is not None:
        where = f", running at {smoke['url']}" if smoke["container_id"] else ""
        print(
            f"smoke test passed: healthy after {smoke['healthy_after_s']:.1f} s as uid:gid "
            f"{smoke['user']}, {smoke['rows']} predictions equal to in-process{where}"
        )


def _k8s(args: argparse.Namespace) -> int:
    from mlworkbench.deploy.k8s_manifests import Resources, render_manifests, write_manifests

    workspace = (args.workspace or Path.cwd()).resolve()
    objects = render_manifests(
        args.tag,
        args.name,
        replicas=args.replicas,
        hpa=args.hpa,
        max_replicas=args.max_replicas,
        resources=Resources(
            cpu_request=args.cpu_request,
            memory_request=args.memory_request,
            cpu_limit=args.cpu_limit,
            memory_limit=args.memory_limit,
        ),
        token_secret=args.token_secret,
    )
    out = args.out if args.out is not None else Path("k8s") / args.name
    written = write_manifests(
        objects, out if out.is_absolute() else workspace / out, force=args.force
    )
    if args.json:
        print(json.dumps(written.to_dict(), indent=2))
        return 0
    for path, kind in zip(written.files, written.kinds, strict=True):
        print(f"wrote {kind} to {path}")
    print(f"(apply with: kubectl apply -f {shlex.quote(str(out))})", file=sys.stderr)
    return 0


COMMAND = Subcommand(
    name="deploy",
    help="build a serving image for a model; write Kubernetes manifests",
    configure=_configure,
    run=_run,
)
