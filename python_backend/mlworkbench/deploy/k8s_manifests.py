"""Kubernetes manifests for a model image: a Deployment, a Service and, optionally, an HPA.

The pod runs the way the smoke test ran the container: as the image's fixed non-root uid, with
a read-only root file system, no capabilities, no privilege escalation, the runtime's default
seccomp profile and an emptyDir at /tmp; probes hit the server's /health. The objects are
plain dicts, checked against Kubernetes' own schemas in the tests (kubernetes-validate).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlworkbench.deploy.build_context import APP_PORT, APP_UID, parse_image_reference
from mlworkbench.deploy.deploy_errors import (
    InvalidDeployOptionError,
    InvalidResourceNameError,
    OutputExistsError,
)

# A Service's name must be a DNS-1035 label (RFC 1123 label that starts with a letter); the
# Deployment and HPA share it, so the strictest rule applies to all three.
_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
# Kubernetes' resource.Quantity: a number with an optional binary/decimal suffix or exponent.
_QUANTITY = re.compile(r"[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?")
MAX_NAME = 63
CONTAINER_NAME = "model-server"
TOKEN_DIR = "/var/run/secrets/mlworkbench"  # noqa: S105 - the folder --token-secret is mounted at
# A Secret's name is a DNS-1123 subdomain.
_DNS_1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclass(frozen=True)
class Resources:
    cpu_request: str = "250m"
    memory_request: str = "512Mi"
    cpu_limit: str = "1"
    memory_limit: str = "1Gi"


@dataclass(frozen=True)
class WrittenManifests:
    files: list[str]
    kinds: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_name(name: str) -> str:
    """`name` when Kubernetes accepts it for a Deployment, Service and HPA alike."""
    if not name:
        raise InvalidResourceNameError(name, "it is empty")
    if len(name) > MAX_NAME:
        raise InvalidResourceNameError(name, f"it is longer than {MAX_NAME} characters")
    if _DNS_1035_LABEL.fullmatch(name) is None:
        if name != name.lower():
            reason = "it has upper-case letters"
        elif not name[0].isalpha():
            reason = "it does not start with a letter"
        else:
            reason = "it has a character other than a-z, 0-9 and '-', or ends with '-'"
        raise InvalidResourceNameError(name, reason)
    return name


def render_manifests(
    image: str,
    name: str,
    *,
    replicas: int = 2,
    hpa: bool = False,
    max_replicas: int | None = None,
    cpu_target_percent: int = 70,
    resources: Resources | None = None,
    token_secret: str | None = None,
) -> list[dict[str, Any]]:
    """The objects, in the order `kubectl apply` should create them.

    With `token_secret`, the pod mounts that Secret's `token` key and the server requires it as
    a bearer token (`--token-file` in place of the image's default `--no-token`); the probes'
    paths stay open.
    """
    check_name(name)
    if token_secret is not None and (
        len(token_secret) > 253 or _DNS_1123_SUBDOMAIN.fullmatch(token_secret) is None
    ):
        raise InvalidResourceNameError(token_secret, "a Secret's name is a DNS-1123 subdomain")
    parse_image_reference(image, "image")
    if replicas < 1:
        raise InvalidDeployOptionError("--replicas", "it must be at least 1")
    limits = resources or Resources()
    for option, value in asdict(limits).items():
        if _QUANTITY.fullmatch(value) is None:
            raise InvalidDeployOptionError(
                f"--{option.replace('_', '-')} {value!r}",
                "not a Kubernetes quantity (e.g. 500m, 1Gi)",
            )
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/managed-by": "mlworkbench",
    }
    selector = {"app.kubernetes.io/name": name}
    probe = {"httpGet": {"path": "/health", "port": "http"}, "timeoutSeconds": 3}
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image,
        "imagePullPolicy": "Always" if _floating(image) else "IfNotPresent",
        "ports": [{"name": "http", "containerPort": APP_PORT, "protocol": "TCP"}],
        # Loading a model can take a while: the startup probe holds the others off for 3 min.
        "startupProbe": {**probe, "periodSeconds": 5, "failureThreshold": 36},
        "readinessProbe": {**probe, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**probe, "periodSeconds": 15, "failureThreshold": 3},
        "resources": {
            "requests": {"cpu": limits.cpu_request, "memory": limits.memory_request},
            "limits": {"cpu": limits.cpu_limit, "memory": limits.memory_limit},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": APP_UID,
            "runAsGroup": APP_UID,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - an emptyDir
    }
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
    if token_secret is not None:
        container["args"] = ["--token-file", f"{TOKEN_DIR}/token"]
        container["volumeMounts"].append(
            {"name": "token", "mountPath": TOKEN_DIR, "readOnly": True}
        )
        volumes.append(
            {
                "name": "token",
                "secret": {
                    "secretName": token_secret,
                    "items": [{"key": "token", "path": "token"}],
                    "defaultMode": 0o440,  # root:fsGroup, so only the server's group reads it
                },
            }
        )
    deployment_spec: dict[str, Any] = {
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": selector},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                # The server needs no Kubernetes API: no token mounted, no service env vars.
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": APP_UID,
                    "runAsGroup": APP_UID,
                    "fsGroup": APP_UID,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [container],
                "volumes": volumes,
            },
        },
    }
    if not hpa:  # with an HPA, `kubectl apply` must not reset the count it chose
        deployment_spec = {"replicas": replicas, **deployment_spec}
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": deployment_spec,
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
        },
    ]
    if hpa:
        top = max_replicas if max_replicas is not None else max(replicas * 4, replicas + 1)
        if top < replicas:
            raise InvalidDeployOptionError("--max-replicas", "it must be at least --replicas")
        objects.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": name, "labels": labels},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                    "minReplicas": replicas,
                    "maxReplicas": top,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {
                                    "type": "Utilization",
                                    "averageUtilization": cpu_target_percent,
                                },
                            },
                        }
                    ],
                },
            }
        )
    return objects


def _floating(image: str) -> bool:
    reference = parse_image_reference(image, "image")
    return reference.digest is None and reference.tag in (None, "latest")


def write_manifests(
    objects: list[dict[str, Any]], out_dir: Path, *, force: bool = False
) -> WrittenManifests:
    """One `<kind>.yaml` per object in `out_dir`; nothing is written if any file exists and
    `force` is not set."""
    import yaml

    paths = [out_dir / f"{obj['kind'].lower()}.yaml" for obj in objects]
    if not force:
        for path in paths:
            if path.exists() or path.is_symlink():
                raise OutputExistsError(path, "manifest")
    out_dir.mkdir(parents=True, exist_ok=True)
    for obj, path in zip(objects, paths, strict=True):
        header = f"# Written by `mlworkbench deploy k8s`: {obj['kind']} {obj['metadata']['name']}\n"
        text = header + yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)
        if path.is_symlink():
            path.unlink()  # --force replaces a link, never writes through it
        path.write_text(text, encoding="utf-8")
    return WrittenManifests([str(p) for p in paths], [obj["kind"] for obj in objects])
