"""Wire format of experiments, runs, metrics and artifacts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, NotRequired, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, with_config
from typing_extensions import TypedDict

from griffin.domain.tracking import RunStatus
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

    @classmethod
    def of(cls, obj: object) -> Self:
        """The wire form of a domain object, copying its fields (and nested objects) by name.

        One mechanism instead of a hand-written copy per schema: a field added to a domain
        object and its schema cannot be forgotten in between.
        """
        return cls.model_validate(obj, from_attributes=True)


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


class ArtifactOut(Wire):
    path: str
    size: int
    sha256: str | None
    created_at: datetime | None = None


class Paged(Wire, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class MetricHistory(Wire):
    run_id: str
    key: str
    points: list[MetricOut]


class Status(Wire):
    status: Literal["ok"] = "ok"
