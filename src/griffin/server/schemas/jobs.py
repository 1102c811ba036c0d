"""Wire format of training jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from griffin.domain.jobs import Job, JobEvent, JobKind, JobStatus
from griffin.server.schemas.tracking import Wire

__all__ = ["JobEventOut", "JobEventsOut", "JobOut", "JobReport", "JobSpecIn", "ResourcesIn"]

Scalar = str | int | float | bool | None


class ResourcesIn(Wire):
    cpus: float = 1.0
    memory: str | None = None
    gpus: int = 0
    workers: int = 1


class JobSpecIn(Wire):
    """A job to submit; checked again, field by field, by ``JobSpec.from_json``."""

    model: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    kind: JobKind = JobKind.TRAIN
    definition_version: int | None = None
    code_digest: str | None = None
    data: dict[str, Any] = {}
    params: dict[str, Scalar] = {}
    backend: str = "local"
    resources: ResourcesIn = ResourcesIn()
    runtime: str | None = None
    timeout_s: int | None = None
    retries: int = 0
    tags: dict[str, str] = {}
    parent_job_id: str | None = None
    experiment: str | None = None
    sweep: dict[str, Any] | None = None


class JobOut(Wire):
    id: str
    project: str
    spec: dict[str, Any]
    status: JobStatus
    status_reason: str
    attempt: int
    cancel_requested: bool
    created_by: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    heartbeat_at: datetime | None
    worker_id: str | None
    handle: dict[str, Any] | None
    result: dict[str, Any] | None
    failure: str | None
    not_before: datetime | None

    @classmethod
    def of_job(cls, job: Job) -> JobOut:
        return cls.model_validate(job.to_json())


class JobEventOut(Wire):
    seq: int
    from_status: JobStatus | None
    to_status: JobStatus
    reason: str
    worker_id: str | None
    at: datetime

    @classmethod
    def of_event(cls, event: JobEvent) -> JobEventOut:
        return cls.model_validate(event.to_json())


class JobEventsOut(Wire):
    items: list[JobEventOut]


class JobReport(Wire):
    """What a job's own process reports: it started, its result, or why it failed."""

    status: Literal["RUNNING"] | None = None
    result: dict[str, Any] | None = None
    failure: Annotated[str | None, Field(max_length=100_000)] = None
