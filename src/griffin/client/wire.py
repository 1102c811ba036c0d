"""JSON of the REST API to domain objects, and metric points to JSON.

The server's schemas live in ``griffin.server.schemas``; the SDK does not import them (that would
pull FastAPI into ``import griffin``), so this module is the other half of that contract.
Timestamps arrive as ISO 8601 strings (``...Z``); metric values may be the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"``, because JSON has no literal for them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from griffin.domain.accounts import Principal, Project, Role, TokenInfo
from griffin.domain.tracking import Artifact, Experiment, Metric, Run, RunStatus, StatusChange

__all__ = [
    "artifact",
    "encode_points",
    "experiment",
    "metric",
    "principal",
    "project",
    "run",
    "timestamp",
    "token",
]

# One metric point as buffered by the SDK: key, value, step, timestamp in ms.
Point = tuple[str, float, int, int]
Json = dict[str, Any]

_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def timestamp(value: str) -> datetime:
    """An ISO 8601 timestamp; a naive one (SQLite drops the zone) is taken as UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _maybe_time(value: str | None) -> datetime | None:
    return None if value is None else timestamp(value)


def number(value: float | int | str) -> float:
    """A metric value from JSON, where non-finite values travel as strings."""
    if isinstance(value, str):
        return _SPECIAL[value] if value in _SPECIAL else float(value)
    return float(value)


def encode_value(value: float) -> float | str:
    """A metric value for JSON: orjson would turn NaN and infinities into ``null``."""
    if value - value == 0:  # finite (NaN - NaN and inf - inf are NaN)
        return float(value)
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def encode_points(points: Iterable[Point]) -> list[Json]:
    """Buffered points as the ``metrics`` list of a ``/runs/{id}/batch`` body."""
    return [
        {"key": k, "value": encode_value(v), "step": s, "timestamp_ms": t} for k, v, s, t in points
    ]


def metric(data: Json) -> Metric:
    return Metric(
        key=data["key"],
        value=number(data["value"]),
        step=int(data["step"]),
        timestamp_ms=int(data["timestamp_ms"]),
    )


def experiment(data: Json) -> Experiment:
    return Experiment(
        id=data["id"],
        project=data["project"],
        name=data["name"],
        description=data["description"],
        lifecycle=data["lifecycle"],
        created_at=timestamp(data["created_at"]),
        updated_at=timestamp(data["updated_at"]),
        tags=dict(data.get("tags") or {}),
    )


def status_change(data: Json) -> StatusChange:
    return StatusChange(
        status=RunStatus(data["status"]), reason=data["reason"], at=timestamp(data["at"])
    )


def run(data: Json) -> Run:
    return Run(
        id=data["id"],
        experiment_id=data["experiment_id"],
        experiment=data["experiment"],
        project=data["project"],
        name=data["name"],
        user=data["user"],
        status=RunStatus(data["status"]),
        status_reason=data["status_reason"],
        lifecycle=data["lifecycle"],
        artifact_uri=data["artifact_uri"],
        parent_run_id=data.get("parent_run_id"),
        created_at=timestamp(data["created_at"]),
        ended_at=_maybe_time(data.get("ended_at")),
        heartbeat_at=timestamp(data["heartbeat_at"]),
        params=dict(data.get("params") or {}),
        tags=dict(data.get("tags") or {}),
        metrics={k: metric(m) for k, m in (data.get("metrics") or {}).items()},
        history=tuple(status_change(h) for h in data.get("history") or ()),
    )


def artifact(data: Json) -> Artifact:
    return Artifact(
        path=data["path"],
        size=int(data["size"]),
        sha256=data.get("sha256"),
        created_at=_maybe_time(data.get("created_at")),
    )


def project(data: Json) -> Project:
    return Project(
        id=data["id"],
        name=data["name"],
        description=data["description"],
        created_at=timestamp(data["created_at"]),
    )


def token(data: Json) -> TokenInfo:
    return TokenInfo(
        id=data["id"],
        user=data["user"],
        project=data["project"],
        role=Role(data["role"]),
        description=data.get("description", ""),
        created_at=timestamp(data["created_at"]),
        last_used_at=_maybe_time(data.get("last_used_at")),
        revoked_at=_maybe_time(data.get("revoked_at")),
    )


def principal(data: Json) -> Principal:
    return Principal(user=data["user"], project=data["project"], role=Role(data["role"]))
