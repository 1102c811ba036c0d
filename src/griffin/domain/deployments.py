"""Deployments: a registered model served behind an endpoint, and every change made to one.

A deployment names the versions of one registered model that answer its requests, as model
references (``delivery_eta@champion``, ``delivery_eta/12``), with a weight each (a canary is
two references, say 90 and 10), plus *shadow* references that see every request but whose
answers are only logged. References are kept as written: an alias is resolved by the
inference server when it loads, and again when the alias moves. The rest is how it is served:
adaptive batching, request limits, workers and replicas, the backend that runs it.

A configuration is immutable; each change is a new :class:`DeploymentRevision`, so
``rollback`` is "make the previous revision's configuration current again", itself a new
revision.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from griffin.domain.registry import parse_model_ref
from griffin.errors import InvalidArgument

__all__ = [
    "BACKENDS",
    "MAX_SHADOWS",
    "MAX_TRAFFIC",
    "Deployment",
    "DeploymentAction",
    "DeploymentConfig",
    "DeploymentRevision",
    "TrafficRoute",
    "check_deployment_name",
]

BACKENDS = ("local", "kubernetes")
MAX_TRAFFIC = 10
MAX_SHADOWS = 5
MAX_DEPLOYMENT_NAME_LENGTH = 63  # a Kubernetes object name (DNS label) is at most 63
_DEPLOYMENT_NAME = re.compile(r"[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

# Every setting a configuration has, its type and bounds: one table for parsing, the CLI's
# help and the docs' list. (name: (type, minimum, maximum, default))
LIMITS: dict[str, tuple[type, float, float, float | int]] = {
    "workers": (int, 1, 64, 1),
    "replicas": (int, 1, 100, 1),
    "max_batch_size": (int, 1, 4096, 32),
    "max_latency_ms": (float, 0, 1000, 2.0),
    "max_rows": (int, 1, 100_000, 1000),
}


def check_deployment_name(name: str) -> str:
    """1-63 lower-case letters, digits and ``-``, starting and ending with a letter or digit:
    the name is used as is for its Kubernetes objects and in URLs."""
    if not isinstance(name, str) or not _DEPLOYMENT_NAME.fullmatch(name):
        shown = str(name)[:70]
        raise InvalidArgument(
            f"invalid deployment name {shown!r}: use 1 to {MAX_DEPLOYMENT_NAME_LENGTH} lower-case "
            "letters, digits and -, starting and ending with a letter or digit",
            details={"field": "name", "name": shown},
        )
    return name


class DeploymentAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    ROLLBACK = "rollback"


@dataclass(frozen=True, slots=True)
class TrafficRoute:
    """A share of the requests, answered by the version ``ref`` names."""

    ref: str
    weight: int


@dataclass(frozen=True, slots=True)
class DeploymentConfig:
    """What a deployment serves and how; validated whole by :meth:`parse`."""

    model: str
    traffic: tuple[TrafficRoute, ...]
    shadows: tuple[str, ...] = ()
    sticky_key: str | None = None
    feature_service: str | None = None
    backend: str = "local"
    workers: int = 1
    replicas: int = 1
    max_batch_size: int = 32
    max_latency_ms: float = 2.0
    max_rows: int = 1000
    allow_degraded: bool = False

    @property
    def refs(self) -> tuple[str, ...]:
        """Every reference it serves: the traffic's, then the shadows'."""
        return tuple(r.ref for r in self.traffic) + self.shadows

    @classmethod
    def parse(cls, spec: Mapping[str, Any]) -> DeploymentConfig:
        """A configuration from its JSON form, every field checked.

        ``model`` may be a single reference (``name@alias``: all traffic to it) or, with
        ``traffic`` given, just the model's name. ``traffic`` is a list of
        ``{"ref": ..., "weight": ...}`` (or a mapping ``ref -> weight``) whose weights add up
        to 100.
        """
        if not isinstance(spec, Mapping):
            raise InvalidArgument("a deployment's configuration must be a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(spec) - known)
        if unknown:
            raise InvalidArgument(
                f"unknown deployment field(s): {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}",
                details={"field": unknown[0]},
            )
        model_field = spec.get("model")
        traffic_field = spec.get("traffic")
        if traffic_field is None:
            # A single reference: all the traffic goes to it.
            if not isinstance(model_field, str) or not model_field:
                raise InvalidArgument(
                    "a deployment needs a model: a reference such as delivery_eta@champion "
                    "(or traffic: several references with weights)",
                    details={"field": "model"},
                )
            parse_model_ref(model_field)
            traffic_field = [{"ref": model_field, "weight": 100}]
        traffic = _traffic(traffic_field)
        model = parse_model_ref(traffic[0].ref)[0]
        if model_field is not None and model_field not in (model, traffic[0].ref):
            raise InvalidArgument(
                f"model {str(model_field)[:80]!r} does not match the traffic's model {model!r}: "
                "with traffic, give model as the model's name or leave it out",
                details={"field": "model"},
            )
        for route in traffic:
            _same_model(route.ref, model, "traffic")
        shadows = _shadows(spec.get("shadows"), model, {r.ref for r in traffic})
        values: dict[str, Any] = {
            "model": model,
            "traffic": traffic,
            "shadows": shadows,
            "sticky_key": _optional_field_name(spec.get("sticky_key"), "sticky_key"),
            "feature_service": _optional_text(spec.get("feature_service"), "feature_service"),
            "backend": _backend(spec.get("backend", "local")),
            "allow_degraded": _flag(spec.get("allow_degraded", False), "allow_degraded"),
        }
        for name, (kind, low, high, default) in LIMITS.items():
            values[name] = _bounded(spec.get(name, default), name, kind, low, high)
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "traffic": [{"ref": r.ref, "weight": r.weight} for r in self.traffic],
            "shadows": list(self.shadows),
            "sticky_key": self.sticky_key,
            "feature_service": self.feature_service,
            "backend": self.backend,
            "workers": self.workers,
            "replicas": self.replicas,
            "max_batch_size": self.max_batch_size,
            "max_latency_ms": self.max_latency_ms,
            "max_rows": self.max_rows,
            "allow_degraded": self.allow_degraded,
        }

    def merged(self, changes: Mapping[str, Any]) -> DeploymentConfig:
        """This configuration with ``changes`` applied, checked whole. A new single ``model``
        reference without ``traffic`` replaces the traffic (and drops shadows of another
        model)."""
        current = self.to_json()
        if "model" in changes and "traffic" not in changes:
            current.pop("traffic")
            model = str(changes["model"])
            if ("@" in model or "/" in model) and "shadows" not in changes:
                name = parse_model_ref(model)[0]
                current["shadows"] = [s for s in self.shadows if parse_model_ref(s)[0] == name]
        return DeploymentConfig.parse({**current, **changes})


@dataclass(frozen=True, slots=True)
class DeploymentRevision:
    """One change of a deployment, never overwritten."""

    revision: int
    action: DeploymentAction
    config: DeploymentConfig
    created_by: str
    created_at: datetime
    comment: str = ""
    rolled_back_to: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "action": self.action.value,
            "config": self.config.to_json(),
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "comment": self.comment,
            "rolled_back_to": self.rolled_back_to,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeploymentRevision:
        return cls(
            revision=int(data["revision"]),
            action=DeploymentAction(data["action"]),
            config=DeploymentConfig.parse(data["config"]),
            created_by=str(data.get("created_by", "")),
            created_at=datetime.fromisoformat(str(data["created_at"])),
            comment=str(data.get("comment", "")),
            rolled_back_to=data.get("rolled_back_to"),
        )


@dataclass(frozen=True, slots=True)
class Deployment:
    id: str
    project: str
    name: str
    description: str
    config: DeploymentConfig
    revision: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    tags: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "name": self.name,
            "description": self.description,
            "config": self.config.to_json(),
            "revision": self.revision,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "tags": dict(self.tags),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Deployment:
        return cls(
            id=str(data["id"]),
            project=str(data["project"]),
            name=str(data["name"]),
            description=str(data.get("description", "")),
            config=DeploymentConfig.parse(data["config"]),
            revision=int(data["revision"]),
            created_by=str(data.get("created_by", "")),
            created_at=datetime.fromisoformat(str(data["created_at"])),
            updated_at=datetime.fromisoformat(str(data["updated_at"])),
            tags=dict(data.get("tags") or {}),
        )


def _traffic(value: Any) -> tuple[TrafficRoute, ...]:
    if isinstance(value, Mapping):
        value = [{"ref": ref, "weight": weight} for ref, weight in value.items()]
    if not isinstance(value, list | tuple) or not value:
        raise InvalidArgument(
            "traffic must be a non-empty list of {ref, weight}", details={"field": "traffic"}
        )
    if len(value) > MAX_TRAFFIC:
        raise InvalidArgument(
            f"traffic has {len(value)} routes; at most {MAX_TRAFFIC}", details={"field": "traffic"}
        )
    routes: list[TrafficRoute] = []
    for item in value:
        if not isinstance(item, Mapping) or set(item) - {"ref", "weight"}:
            raise InvalidArgument(
                "each traffic route is {ref, weight}", details={"field": "traffic"}
            )
        ref = item.get("ref")
        if not isinstance(ref, str):
            raise InvalidArgument("a traffic route needs a ref", details={"field": "traffic"})
        parse_model_ref(ref)
        weight = _bounded(item.get("weight"), f"weight of {ref}", int, 0, 100)
        routes.append(TrafficRoute(ref, int(weight)))
    refs = [r.ref for r in routes]
    if len(set(refs)) != len(refs):
        raise InvalidArgument(
            "traffic names a reference twice: give each one once with its total weight",
            details={"field": "traffic"},
        )
    total = sum(r.weight for r in routes)
    if total != 100:
        raise InvalidArgument(
            f"traffic weights add up to {total}; they must add up to 100",
            details={"field": "traffic", "total": total},
        )
    return tuple(routes)


def _same_model(ref: str, model: str, where: str) -> None:
    other = parse_model_ref(ref)[0]
    if other != model:
        raise InvalidArgument(
            f"{where} reference {ref!r} is a version of {other!r}: every reference of a "
            f"deployment must name the same model ({model!r})",
            details={"field": where, "model": model},
        )


def _shadows(value: Any, model: str, traffic: set[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(
            "shadows must be a list of model references", details={"field": "shadows"}
        )
    if len(value) > MAX_SHADOWS:
        raise InvalidArgument(
            f"{len(value)} shadows; at most {MAX_SHADOWS}", details={"field": "shadows"}
        )
    for ref in value:
        parse_model_ref(ref)
        _same_model(ref, model, "shadows")
        if ref in traffic:
            raise InvalidArgument(
                f"{ref!r} is both in the traffic and a shadow", details={"field": "shadows"}
            )
    if len(set(value)) != len(value):
        raise InvalidArgument("shadows name a reference twice", details={"field": "shadows"})
    return tuple(value)


def _optional_field_name(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _FIELD.fullmatch(value):
        raise InvalidArgument(
            f"{name} must be a request field's name (letters, digits and _)",
            details={"field": name},
        )
    return value


def _optional_text(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 256:
        raise InvalidArgument(
            f"{name} must be a name of at most 256 characters", details={"field": name}
        )
    return value


def _backend(value: Any) -> str:
    if value not in BACKENDS:
        raise InvalidArgument(
            f"unknown deployment backend {str(value)[:40]!r}; use one of {', '.join(BACKENDS)}",
            details={"field": "backend"},
        )
    return str(value)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name} must be true or false", details={"field": name})
    return value


def _bounded(value: Any, name: str, kind: type, low: float, high: float) -> Any:
    ok_type = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        ok_type = ok_type and float(value).is_integer()
    if not ok_type or not low <= value <= high:
        what = "an integer" if kind is int else "a number"
        raise InvalidArgument(
            f"{name} must be {what} from {low:g} to {high:g}, not {str(value)[:40]!r}",
            details={"field": name},
        )
    return kind(value)
