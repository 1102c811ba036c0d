"""Wire format of experiments, runs, metrics and artifacts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, NotRequired, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, with_config
from typing_extensions import TypedDict

from griffin.domain.tracking import Artifact, Experiment, Metric, Run, RunStatus
from griffin.domain.validation import (
    MAX_BATCH_METRICS,
    MAX_BATCH_PARAMS,
    MAX_BATCH_TAGS,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
)

T = TypeVar("T")

Key = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH)]
Value = Annotated[str, StringConstraints(max_length=MAX_PARAM_VALUE_LENGTH)]
Description = Annotated[str, StringConstraints(max_length=10_000)]
Tags = Annotated[dict[Key, Value], Field(max_length=MAX_BATCH_TAGS)]
Params = Annotated[dict[Key, Value], Field(max_length=MAX_BATCH_PARAMS)]


class Wire(BaseModel):
    # NaN and infinities travel as the strings "NaN", "Infinity", "-Infinity" (JSON has none).
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="strings")


class ExperimentCreate(Wire):
    name: Name
    description: Description = ""
    tags: Tags = {}


class ExperimentUpdate(Wire):
    name: Name | None = None
    description: Description | None = None
    tags: Tags = {}


class ExperimentOut(Wire):
    id: str
    project: str
    name: str
    description: str
    lifecycle: str
    created_at: datetime
    updated_at: datetime
    tags: dict[str, str]

    @classmethod
    def of(cls, e: Experiment) -> ExperimentOut:
        return cls(
            id=e.id,
            project=e.project,
            name=e.name,
            description=e.description,
            lifecycle=e.lifecycle,
            created_at=e.created_at,
            updated_at=e.updated_at,
            tags=e.tags,
        )


@with_config(ConfigDict(extra="forbid"))
class MetricIn(TypedDict):
    """One metric point. A TypedDict, not a model: batches of 10,000 are parsed per request,
    and plain dicts validate in about half the time."""

    key: Key
    value: float  # NaN and +-inf allowed, as in MLflow
    step: NotRequired[Annotated[int, Field(ge=-(2**63), lt=2**63)]]
    timestamp_ms: Annotated[int, Field(ge=0, lt=2**63)]


class MetricOut(Wire):
    key: str
    value: float
    step: int
    timestamp_ms: int

    @classmethod
    def of(cls, m: Metric) -> MetricOut:
        return cls(key=m.key, value=m.value, step=m.step, timestamp_ms=m.timestamp_ms)


class LogBatch(Wire):
    metrics: Annotated[list[MetricIn], Field(max_length=MAX_BATCH_METRICS)] = []
    params: Params = {}
    tags: Tags = {}


class RunCreate(Wire):
    experiment: Name
    name: Name | None = None
    params: Params = {}
    tags: Tags = {}
    parent_run_id: Annotated[str, StringConstraints(max_length=64)] | None = None


class RunUpdate(Wire):
    status: RunStatus | None = None
    reason: Annotated[str, StringConstraints(max_length=10_000)] = ""
    name: Name | None = None


class RunSearch(Wire):
    experiments: Annotated[list[Name], Field(max_length=100)] = []
    filter: Annotated[str, StringConstraints(max_length=8_000)] = ""
    order_by: Annotated[
        list[Annotated[str, StringConstraints(max_length=600)]], Field(max_length=10)
    ] = []
    limit: int = Field(default=1000, ge=1, le=50_000)
    cursor: Annotated[str, StringConstraints(max_length=200)] | None = None
    include_deleted: bool = False


class StatusChangeOut(Wire):
    status: RunStatus
    reason: str
    at: datetime


class RunOut(Wire):
    id: str
    experiment_id: str
    experiment: str
    project: str
    name: str
    user: str
    status: RunStatus
    status_reason: str
    lifecycle: str
    artifact_uri: str
    parent_run_id: str | None
    created_at: datetime
    ended_at: datetime | None
    heartbeat_at: datetime
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, MetricOut]
    history: list[StatusChangeOut]

    @classmethod
    def of(cls, r: Run) -> RunOut:
        return cls(
            id=r.id,
            experiment_id=r.experiment_id,
            experiment=r.experiment,
            project=r.project,
            name=r.name,
            user=r.user,
            status=r.status,
            status_reason=r.status_reason,
            lifecycle=r.lifecycle,
            artifact_uri=r.artifact_uri,
            parent_run_id=r.parent_run_id,
            created_at=r.created_at,
            ended_at=r.ended_at,
            heartbeat_at=r.heartbeat_at,
            params=r.params,
            tags=r.tags,
            metrics={k: MetricOut.of(m) for k, m in r.metrics.items()},
            history=[StatusChangeOut(status=h.status, reason=h.reason, at=h.at) for h in r.history],
        )


class ArtifactOut(Wire):
    path: str
    size: int
    sha256: str | None
    created_at: datetime | None = None

    @classmethod
    def of(cls, a: Artifact) -> ArtifactOut:
        return cls(path=a.path, size=a.size, sha256=a.sha256, created_at=a.created_at)


class Paged(Wire, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class MetricHistory(Wire):
    run_id: str
    key: str
    points: list[MetricOut]


class Status(Wire):
    status: Literal["ok"] = "ok"
