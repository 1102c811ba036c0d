"""Kubernetes manifests for a deployment: an ``apps/v1`` Deployment and a ``v1`` Service.

The pod runs ``griffin serve NAME`` from the image of the runtime the served versions were
trained in (``griffin runtimes show RUNTIME --dockerfile`` builds it), bound to every address
of the pod with tokens required. It gets its settings from the environment only: a ConfigMap
and a Secret named here, never values, so a manifest holds no password or token and can be
committed. The Secret must hold ``GRIFFIN_TOKEN``: with tokens required, the server's own
reads of deployments and models need one too. Traffic, shadows and aliases are not in the
manifest: the server polls the deployment and swaps versions itself, so a manifest changes
only with the image, the replicas or the workers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
import yaml

from griffin._version import __version__
from griffin.domain.deployments import Deployment, DeploymentConfig
from griffin.errors import InvalidArgument

if TYPE_CHECKING:
    from griffin.client import Client
    from griffin.domain.registry import ModelVersion

__all__ = [
    "SERVE_PORT",
    "SERVICE_PORT",
    "ManifestOptions",
    "deployment_manifest",
    "manifest_json",
    "manifest_yaml",
    "render_manifest",
    "runtime_image",
    "served_runtime",
]

# `griffin serve`'s default port (tests pin the two together: serving does not import the CLI).
SERVE_PORT = 6570
# The Service answers on the usual HTTP port: http://NAME.NAMESPACE/v1/deployments/NAME/predict.
SERVICE_PORT = 80
# The uid of the `griffin` user the runtime Dockerfile creates: Kubernetes can only check
# runAsNonRoot against a numeric user, and the image names its user by name.
RUNTIME_UID = 10001
_PROBE_PERIOD_S = 5
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUANTITY = re.compile(
    r"(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?"
)
_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    **{s: Decimal(1000) ** (i + 1) for i, s in enumerate("kMGTPE")},
    **{f"{s}i": Decimal(1024) ** (i + 1) for i, s in enumerate("KMGTPE")},
}


@dataclass(frozen=True)
class ManifestOptions:
    """How a deployment runs on Kubernetes, beyond what its configuration says.

    ``image`` overrides the runtime's image (built and pushed as ``registry``/
    ``griffin-RUNTIME:VERSION``). ``config_map`` and ``secret`` name the objects the pod
    takes its ``GRIFFIN_*`` variables from (``config_map`` ``""``: none); the Secret must
    hold ``GRIFFIN_TOKEN``. ``cpu`` and ``memory`` are the
    requests (default: one CPU and 1Gi per worker), the limits default to no CPU limit and
    the memory request.
    """

    namespace: str | None = None
    image: str | None = None
    registry: str = ""
    config_map: str = "griffin"
    secret: str = "griffin"
    cpu: str | None = None
    memory: str | None = None
    cpu_limit: str | None = None
    memory_limit: str | None = None
    startup_timeout_s: int = 300


def runtime_image(runtime: str, registry: str = "") -> str:
    """The image built from ``runtime``'s Dockerfile: ``[REGISTRY/]griffin-RUNTIME:VERSION``.

    The tag is Griffin's version because a runtime pins ``griffin-ml==VERSION``: the same
    runtime builds a different image with each Griffin release.
    """
    registry = registry.strip().rstrip("/")
    if any(c.isspace() for c in registry):
        raise InvalidArgument(
            f"invalid registry {registry!r}: a host and path such as ghcr.io/acme, no spaces",
            details={"field": "registry"},
        )
    name = f"griffin-{runtime}:{__version__}"
    return f"{registry}/{name}" if registry else name


def served_runtime(config: DeploymentConfig, resolve: Callable[[str], ModelVersion]) -> str:
    """The one runtime every version the deployment serves (traffic and shadows) was trained
    in, resolving each reference now: one pod runs one image."""
    by_runtime: dict[str | None, list[str]] = {}
    for ref in dict.fromkeys(config.refs):
        version = resolve(ref)
        shown = f"{ref} (v{version.version})" if "@" in ref else ref
        by_runtime.setdefault(version.lineage.runtime, []).append(shown)
    unknown = by_runtime.pop(None, [])
    if unknown:
        raise InvalidArgument(
            f"no runtime is recorded for {', '.join(unknown)} (registered outside a training "
            "job): give --image with an image that can load it",
            details={"field": "image", "refs": unknown},
        )
    if len(by_runtime) > 1:
        used = "; ".join(f"{r}: {', '.join(refs)}" for r, refs in sorted(by_runtime.items()))
        raise InvalidArgument(
            f"the deployment's versions were trained in different runtimes ({used}) and a pod "
            "runs one image: give --image with an image that can load all of them",
            details={"field": "image", "runtimes": sorted(by_runtime)},
        )
    [runtime] = by_runtime
    assert runtime is not None
    return runtime


def deployment_manifest(
    client: Client, name: str, options: ManifestOptions
) -> list[dict[str, Any]]:
    """The Kubernetes objects for deployment ``name`` of the client's project."""
    deployment = client.get_deployment(name)
    runtime = None
    if options.image is None:
        runtime = served_runtime(deployment.config, client.resolve_model)
    image = options.image or runtime_image(str(runtime), options.registry)
    return render_manifest(deployment, image, options, runtime=runtime)


def render_manifest(
    deployment: Deployment, image: str, options: ManifestOptions, *, runtime: str | None = None
) -> list[dict[str, Any]]:
    """The Deployment and the Service that run ``deployment`` from ``image``."""
    if not image.strip() or any(c.isspace() for c in image):
        raise InvalidArgument(f"invalid image {image!r}", details={"field": "image"})
    if options.namespace is not None:
        _check_name(options.namespace, "namespace", _DNS_LABEL, 63)
    if not options.secret:
        raise InvalidArgument(
            "the pod needs a Secret: its GRIFFIN_TOKEN is how the server, which requires "
            "tokens, reads its deployments and models; name one with --secret",
            details={"field": "secret"},
        )
    _check_name(options.secret, "secret", _DNS_SUBDOMAIN, 253)
    if options.config_map:
        _check_name(options.config_map, "config_map", _DNS_SUBDOMAIN, 253)
    if not 1 <= options.startup_timeout_s <= 3600:
        raise InvalidArgument(
            "startup_timeout_s must be from 1 to 3600 seconds",
            details={"field": "startup_timeout_s"},
        )
    config = deployment.config
    labels = {
        "app.kubernetes.io/name": "griffin-serve",
        "app.kubernetes.io/instance": deployment.name,
        "app.kubernetes.io/component": "inference-server",
        "app.kubernetes.io/part-of": "griffin",
        "app.kubernetes.io/managed-by": "griffin",
        "app.kubernetes.io/version": __version__,
    }
    # The selector is immutable once applied: only the labels that never change.
    selector = {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}
    annotations = {
        "griffin/project": deployment.project,
        "griffin/revision": str(deployment.revision),
    }
    if runtime is not None:
        annotations["griffin/runtime"] = runtime
    metadata: dict[str, Any] = {"name": deployment.name}
    if options.namespace is not None:
        metadata["namespace"] = options.namespace
    kube_deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {**metadata, "labels": labels, "annotations": annotations},
        "spec": {
            "replicas": config.replicas,
            "selector": {"matchLabels": selector},
            # Never below the wanted replicas while a new image rolls out: a new pod takes
            # traffic only once /readyz says its models are loaded.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(SERVE_PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": _pod_spec(deployment, image, options),
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {**metadata, "labels": labels, "annotations": dict(annotations)},
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [
                {"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}
            ],
        },
    }
    return [kube_deployment, service]


def _pod_spec(deployment: Deployment, image: str, options: ManifestOptions) -> dict[str, Any]:
    config = deployment.config
    command = [
        "griffin", "serve", deployment.name,
        # Inside a pod every address is the pod's own; the Service is what exposes it, and
        # --auth keeps predictions behind tokens (as `griffin serve` requires off loopback).
        "--host", "0.0.0.0", "--port", str(SERVE_PORT),
        "--workers", str(config.workers),
        "--auth",
        "--project", deployment.project,
    ]  # fmt: skip
    env_from: list[dict[str, Any]] = []
    if options.config_map:
        env_from.append({"configMapRef": {"name": options.config_map}})
    env_from.append({"secretRef": {"name": options.secret}})
    # Named on its own as well: a Secret without it stops the pod at creation, saying so,
    # rather than leaving a server that never gets ready.
    token = {"secretKeyRef": {"name": options.secret, "key": "GRIFFIN_TOKEN"}}
    http_get = {"path": "/healthz", "port": "http"}
    container: dict[str, Any] = {
        "name": "server",
        "image": image,
        # `command`, not `args`: the runtime image's entry point runs training jobs.
        "command": command,
        "ports": [{"name": "http", "containerPort": SERVE_PORT, "protocol": "TCP"}],
        "envFrom": env_from,
        "env": [{"name": "GRIFFIN_TOKEN", "valueFrom": token}],
        "resources": _resources(config.workers, options),
        # The server answers nothing until its models are loaded (uvicorn's startup), so
        # liveness waits for the startup probe: a large model must not get its pod killed.
        "startupProbe": {
            "httpGet": http_get,
            "periodSeconds": _PROBE_PERIOD_S,
            "failureThreshold": math.ceil(options.startup_timeout_s / _PROBE_PERIOD_S),
        },
        "livenessProbe": {
            "httpGet": http_get,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        # Not ready while a deployment it serves failed to load: no traffic to a broken pod.
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": "http"},
            "periodSeconds": _PROBE_PERIOD_S,
            "timeoutSeconds": 3,
            "failureThreshold": 2,
        },
        # Let the Service drop the pod from its endpoints before the server stops accepting.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    return {
        # The server never calls the Kubernetes API.
        "automountServiceAccountToken": False,
        # The "restricted" Pod Security Standard.
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNTIME_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": 30,
        "containers": [container],
    }


def _resources(workers: int, options: ManifestOptions) -> dict[str, Any]:
    # Each worker is a process holding every model and predicting on its own core.
    requests = {
        "cpu": _quantity(options.cpu or str(workers), "cpu"),
        "memory": _quantity(options.memory or f"{workers}Gi", "memory"),
    }
    # No CPU limit by default: throttling adds latency to every request while the node has
    # cores to spare. A memory limit at the request: a pod over it is killed, not its node.
    limits = {"memory": _quantity(options.memory_limit or requests["memory"], "memory_limit")}
    if options.cpu_limit:
        limits["cpu"] = _quantity(options.cpu_limit, "cpu_limit")
    for kind in ("cpu", "memory"):
        if kind in limits and _amount(limits[kind]) < _amount(requests[kind]):
            raise InvalidArgument(
                f"the {kind} limit {limits[kind]} is below the request {requests[kind]}: "
                "Kubernetes refuses such a pod",
                details={"field": f"{kind}_limit"},
            )
    return {"requests": requests, "limits": limits}


def _quantity(value: str, field_name: str) -> str:
    """A Kubernetes quantity (``500m``, ``2``, ``1.5Gi``), checked here so a typo is an error
    now rather than a rejected apply."""
    value = value.strip()
    if not _QUANTITY.fullmatch(value) or _amount(value) <= 0:
        flag = "--" + field_name.replace("_", "-")
        raise InvalidArgument(
            f"{flag} {value!r} is not a Kubernetes quantity: use e.g. 500m or 2 (CPUs), "
            "512Mi or 4Gi (memory)",
            details={"field": field_name},
        )
    return value


def _amount(quantity: str) -> Decimal:
    match = _QUANTITY.fullmatch(quantity)
    assert match is not None
    return Decimal(match["number"]) * _SUFFIXES[match["suffix"] or ""]


def _check_name(value: str, field_name: str, pattern: re.Pattern[str], most: int) -> None:
    if len(value) > most or not pattern.fullmatch(value):
        flag = "--" + field_name.replace("_", "-")
        dots = ", . between parts" if pattern is _DNS_SUBDOMAIN else ""
        raise InvalidArgument(
            f"{flag} {value[:80]!r} is not a Kubernetes name: at most {most} lower-case "
            f"letters, digits and -{dots}, starting and ending with a letter or digit",
            details={"field": field_name},
        )


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        # The objects share their labels: written out in full, not as &id001 anchors that
        # people reading (and some tools) stumble on.
        return True


def manifest_yaml(objects: Iterable[dict[str, Any]], *, header: str = "") -> str:
    """The objects as one multi-document YAML stream, for ``kubectl apply -f``."""
    documents = [
        yaml.dump(o, Dumper=_Dumper, sort_keys=False, default_flow_style=False) for o in objects
    ]
    comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    return comment + "---\n".join(documents)


def manifest_json(objects: Iterable[dict[str, Any]]) -> str:
    """The objects as a ``v1 List``: one JSON document ``kubectl apply -f`` takes whole."""
    listed = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    return orjson.dumps(listed, option=orjson.OPT_INDENT_2).decode() + "\n"
