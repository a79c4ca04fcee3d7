"""`mlworkbench deploy ACTION`: ship a model as a container image, and describe it to Kubernetes.

`build` writes a build context (model, pinned wheelhouse, Dockerfile), builds it with the Docker
SDK while printing the engine's log, and with `--run-container` runs the image and compares its
predictions with the in-process ones. `k8s` writes a Deployment, a Service and an optional HPA.
`list`, `start`, `stop`, `remove`, `logs` and `invoke` do what the editor's Deployments view
does with the images `build` made (`deploy.container_engine`).
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
    _configure_containers(actions)


def _configure_containers(actions: Any) -> None:
    """The verbs of the editor's Deployments view: list, start, stop, remove, logs, invoke."""
    listing = actions.add_parser(
        "list",
        help="list the engine's state and the images and containers ML Workbench made",
        description="Show whether the Docker engine answers, the images `deploy build` made "
        "and the containers running them, with their 127.0.0.1 URLs and health.",
    )
    _engine_option(listing)
    _common(listing, "print the engine state, images and containers as JSON")
    listing.set_defaults(deploy_run=_list)

    start = actions.add_parser(
        "start",
        help="run an image locked down on 127.0.0.1, requiring a new bearer token",
        description="Run IMAGE as the smoke test does (non-root, read-only root, no "
        "capabilities, its port on 127.0.0.1 only), but requiring a bearer token; wait for its "
        "health check and print its URL and the token, once.",
    )
    start.add_argument("image", metavar="IMAGE", help="a tag or id of an image deploy build made")
    start.add_argument(
        "--timeout", type=_positive, default=180, metavar="S", help="seconds to become healthy"
    )
    _engine_option(start)
    _common(start, "print the container, its URL and token as JSON")
    start.set_defaults(deploy_run=_start)

    stop = actions.add_parser("stop", help="stop and remove a container")
    stop.add_argument("container", metavar="CONTAINER", help="its name or id")
    _engine_option(stop)
    _common(stop, "print the removed container's id as JSON")
    stop.set_defaults(deploy_run=_stop)

    remove = actions.add_parser(
        "remove", help="remove an image (refused while a container uses it)"
    )
    remove.add_argument("image", metavar="IMAGE", help="a tag (removes that tag) or an id")
    _engine_option(remove)
    _common(remove, "print the removed image as JSON")
    remove.set_defaults(deploy_run=_remove)

    logs = actions.add_parser("logs", help="print a container's log")
    logs.add_argument("container", metavar="CONTAINER", help="its name or id")
    logs.add_argument(
        "--tail", type=_positive, default=500, metavar="N", help="lines from the end (500)"
    )
    _engine_option(logs)
    _common(logs, "print the log as JSON")
    logs.set_defaults(deploy_run=_logs)

    invoke = actions.add_parser(
        "invoke",
        help="POST a body to a container's /invocations and print the answer",
        description="Send a JSON body to the container's /invocations on 127.0.0.1. Without "
        "--body, the model's input example (or a row built from its signature) is sent.",
    )
    invoke.add_argument("container", metavar="CONTAINER", help="its name or id")
    invoke.add_argument("--body", default=None, metavar="FILE", help="the JSON body, '-' for stdin")
    invoke.add_argument(
        "--token-file", type=Path, default=None, metavar="FILE", help="the bearer token's file"
    )
    _engine_option(invoke)
    _common(invoke, "print status, body and time as JSON")
    invoke.set_defaults(deploy_run=_invoke)


def _engine_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--docker-host", default=None, metavar="URL", help="the engine (default: DOCKER_HOST)"
    )


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


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _list(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from mlworkbench.commands.text_table import render_table
    from mlworkbench.deploy import container_engine

    state, client = container_engine.engine_state(args.docker_host)
    images = container_engine.list_images(client) if client is not None else []
    containers = container_engine.list_containers(client) if client is not None else []
    if args.json:
        _print_json(
            {
                "engine": asdict(state),
                "images": [asdict(i) for i in images],
                "containers": [asdict(c) for c in containers],
            }
        )
        return 0
    if client is None:
        print(f"engine {state.status}: {state.message}", file=sys.stderr)
        print(f"  fix: {state.fix}", file=sys.stderr)
        return 1
    print(f"engine: running at {state.host}")
    rows = [["IMAGE", "ID", "SIZE", "CREATED", "FLAVOR", "MODEL"]]
    for image in images:
        rows += [
            [", ".join(image.tags) or "<untagged>", image.id[7:19],
             f"{image.size_bytes / 1e6:.0f} MB", image.created[:19], image.flavor,
             image.model_uri]
        ]  # fmt: skip
    print("\n".join(render_table(rows)) if images else "no images (mlworkbench deploy build)")
    rows = [["CONTAINER", "ID", "IMAGE", "STATUS", "HEALTH", "URL"]]
    for c in containers:
        rows += [[c.name, c.id[:12], c.image, c.status, c.health or "-", c.url or "-"]]
    print("\n".join(render_table(rows)) if containers else "no containers")
    return 0


def _start(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from mlworkbench.deploy.container_engine import start_container
    from mlworkbench.deploy.image_build import connect

    started = start_container(
        connect(args.docker_host), args.image, timeout_s=args.timeout, on_log=_log
    )
    info = started.info
    if args.json:
        _print_json({"container": asdict(info), "token": started.token})
        return 0
    print(f"started {info.name} ({info.id[:12]}) from {info.image}, healthy")
    print(f"  url: {info.url}/invocations")
    print(f"  token: {started.token}")
    print("  send it as the header 'Authorization: Bearer <token>'; it is not shown again")
    print(f"(stop it with: mlworkbench deploy stop {info.name})", file=sys.stderr)
    return 0


def _stop(args: argparse.Namespace) -> int:
    from mlworkbench.deploy.container_engine import stop_container
    from mlworkbench.deploy.image_build import connect

    removed = stop_container(connect(args.docker_host), args.container, None)
    if args.json:
        _print_json({"removed": removed})
    else:
        print(f"stopped and removed {args.container} ({removed[:12]})")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from mlworkbench.deploy.container_engine import remove_image
    from mlworkbench.deploy.image_build import connect

    remove_image(connect(args.docker_host), args.image)
    if args.json:
        _print_json({"removed": args.image})
    else:
        print(f"removed {args.image}")
    return 0


def _logs(args: argparse.Namespace) -> int:
    from mlworkbench.deploy.container_engine import container_logs
    from mlworkbench.deploy.image_build import connect

    text = container_logs(connect(args.docker_host), args.container, args.tail)
    if args.json:
        _print_json({"text": text})
    else:
        sys.stdout.write(text)
    return 0


def _invoke(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from mlworkbench.deploy.container_engine import invoke, sample_request
    from mlworkbench.deploy.deploy_errors import InvalidDeployOptionError
    from mlworkbench.deploy.image_build import connect
    from mlworkbench.deploy.serving_access import TokenFileError, read_token_file

    client = connect(args.docker_host)
    workspace = (args.workspace or Path.cwd()).resolve()
    if args.body == "-":
        body = sys.stdin.read()
    elif args.body is not None:
        try:
            body = Path(args.body).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidDeployOptionError("--body", f"cannot read {args.body}: {error}") from None
    else:
        body, source = sample_request(client, args.container, workspace)
        _log(f"sending the model's sample request (from its {source})")
    token = None
    if args.token_file is not None:
        try:
            token, warning = read_token_file(args.token_file)
        except TokenFileError as error:
            raise InvalidDeployOptionError("--token-file", str(error)) from None
        if warning:
            _log(f"warning: {warning}")
    answer = invoke(client, args.container, body, token=token)
    if args.json:
        _print_json(asdict(answer))
    else:
        _log(f"HTTP {answer.status} in {answer.elapsed_ms:.0f} ms")
        print(answer.body)
    return 0 if answer.status < 400 else 1


COMMAND = Subcommand(
    name="deploy",
    help="build a model's serving image, run and call it locally; write Kubernetes manifests",
    configure=_configure,
    run=_run,
)
