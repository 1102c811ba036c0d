"""Training jobs: their spec, their state machine and their status history; pure, no I/O.

A job is a row from the moment it is submitted (QUEUED); a dispatcher claims it (STARTING),
launches it on a backend, and the process inside reports RUNNING and its result. Every change
of status is an event in the job's history.

::

    QUEUED -> STARTING -> RUNNING -> SUCCEEDED | FAILED | CANCELLED | TIMED_OUT
       |          |          |
       |          +----------+--> QUEUED  (a retry after an infrastructure failure)
       +--> CANCELLED | FAILED
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from griffin.errors import Conflict, InvalidArgument

__all__ = [
    "MAX_RETRIES",
    "Job",
    "JobEvent",
    "JobKind",
    "JobSpec",
    "JobStatus",
    "Resources",
    "check_transition",
    "parse_memory",
]

MAX_RETRIES = 10
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_BACKEND = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGTP]i?|[kmgtp]i?)?[Bb]?")
_UNITS = {
    "": 1,
    "k": 1000,
    "m": 1000**2,
    "g": 1000**3,
    "t": 1000**4,
    "p": 1000**5,
    "ki": 1024,
    "mi": 1024**2,
    "gi": 1024**3,
    "ti": 1024**4,
    "pi": 1024**5,
}
MAX_TAGS = 100
MAX_PARAMS = 1000


class JobStatus(StrEnum):
    """Where a job is in its life. Terminal states never change again."""

    QUEUED = "QUEUED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT}
)
_ENDINGS = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT}
)
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.STARTING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.STARTING: frozenset({JobStatus.RUNNING, JobStatus.QUEUED} | _ENDINGS),
    JobStatus.RUNNING: frozenset({JobStatus.QUEUED} | _ENDINGS),
}


def check_transition(job_id: str, current: JobStatus, new: JobStatus) -> None:
    """Raise ``Conflict`` unless a job may move from ``current`` to ``new``."""
    if new not in ALLOWED.get(current, frozenset()):
        raise Conflict(
            f"job {job_id} is {current}; it cannot become {new}",
            details={"job_id": job_id, "status": str(current)},
        )


class JobKind(StrEnum):
    """What a job does; each kind has its own entry point inside the job."""

    TRAIN = "train"
    EVALUATE = "evaluate"
    PREDICT = "predict"
    SWEEP = "sweep"


def _invalid(field_name: str, message: str) -> InvalidArgument:
    return InvalidArgument(
        f"invalid job spec: {field_name} {message}", details={"field": field_name}
    )


def parse_memory(value: str) -> int:
    """Bytes in a memory size such as ``"2Gi"``, ``"512Mi"``, ``"1.5G"`` or ``"1000000"``."""
    match = _MEMORY.fullmatch(value.strip())
    if match is None:
        raise _invalid("resources.memory", f"{value!r} is not a size such as '2Gi' or '512Mi'")
    number, unit = match.groups()
    size = int(float(number) * _UNITS[(unit or "").lower()])
    if size <= 0:
        raise _invalid("resources.memory", "must be more than 0 bytes")
    return size


@dataclass(frozen=True, slots=True)
class Resources:
    """What a job asks its backend for.

    Attributes:
        cpus: CPU cores (fractions allowed), more than 0.
        memory: a size such as ``"2Gi"`` or ``"512Mi"``, or None for the backend's default.
        gpus: whole GPUs, 0 or more.
        workers: processes (or nodes) for distributed training, 1 or more.
    """

    cpus: float = 1.0
    memory: str | None = None
    gpus: int = 0
    workers: int = 1

    @property
    def memory_bytes(self) -> int | None:
        return None if self.memory is None else parse_memory(self.memory)

    def to_json(self) -> dict[str, Any]:
        return {
            "cpus": self.cpus,
            "memory": self.memory,
            "gpus": self.gpus,
            "workers": self.workers,
        }

    @classmethod
    def from_json(cls, data: Any) -> Resources:
        """Validated resources from JSON; raises ``InvalidArgument`` naming the bad field."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise _invalid("resources", "must be an object")
        unknown = set(data) - {"cpus", "memory", "gpus", "workers"}
        if unknown:
            raise _invalid(f"resources.{sorted(unknown)[0]}", "is not a known field")
        cpus = data.get("cpus", 1.0)
        if isinstance(cpus, bool) or not isinstance(cpus, int | float) or not cpus > 0:
            raise _invalid("resources.cpus", "must be a number greater than 0")
        if not math.isfinite(cpus):
            raise _invalid("resources.cpus", "must be finite")
        memory = data.get("memory")
        if memory is not None:
            if isinstance(memory, int) and not isinstance(memory, bool):
                memory = str(memory)
            if not isinstance(memory, str):
                raise _invalid("resources.memory", "must be a size such as '2Gi'")
            parse_memory(memory)
        gpus = _int(data.get("gpus", 0), "resources.gpus", minimum=0)
        workers = _int(data.get("workers", 1), "resources.workers", minimum=1)
        return cls(cpus=float(cpus), memory=memory, gpus=gpus, workers=workers)


def _int(value: Any, name: str, *, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(name, "must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise _invalid(name, f"must be {bound}")
    return value


def _optional_str(data: Mapping[str, Any], name: str, *, limit: int = 256) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _invalid(name, f"must be a string of 1 to {limit} characters")
    return value


def _check_data(data: Any) -> dict[str, Any]:
    """The training data reference: a saved dataset, or entity rows and a time range."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise _invalid("data", "must be an object")
    if "dataset" in data:
        if set(data) - {"dataset", "version"}:
            raise _invalid("data", "with 'dataset' takes only 'version' besides")
        if not isinstance(data["dataset"], str) or not data["dataset"]:
            raise _invalid("data.dataset", "must be a dataset name")
        version = data.get("version")
        if version is not None:
            _int(version, "data.version", minimum=1)
        return {"dataset": data["dataset"], "version": version}
    if "entity_rows" in data:
        if set(data) - {"entity_rows", "start", "end"}:
            raise _invalid("data", "with 'entity_rows' takes only 'start' and 'end' besides")
        if not isinstance(data["entity_rows"], str) or not data["entity_rows"]:
            raise _invalid("data.entity_rows", "must be a path or a SQL query")
        out: dict[str, Any] = {"entity_rows": data["entity_rows"]}
        for bound in ("start", "end"):
            value = data.get(bound)
            if value is not None:
                try:
                    datetime.fromisoformat(str(value))
                except ValueError:
                    raise _invalid(f"data.{bound}", f"{value!r} is not an ISO 8601 time") from None
            out[bound] = value
        return out
    if data:
        raise _invalid("data", "must name a 'dataset' or 'entity_rows'")
    return {}


def _check_params(params: Any) -> dict[str, str | int | float | bool | None]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise _invalid("params", "must be an object of name -> value")
    if len(params) > MAX_PARAMS:
        raise _invalid("params", f"has more than {MAX_PARAMS} entries")
    for key, value in params.items():
        if not isinstance(key, str) or not key or len(key) > 250:
            raise _invalid("params", f"key {key!r} must be a string of 1 to 250 characters")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise _invalid(f"params.{key}", "must be a string, number, boolean or null")
        if isinstance(value, float) and not math.isfinite(value):
            raise _invalid(f"params.{key}", "must be a finite number")
    return dict(params)


def _check_tags(tags: Any) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping) or len(tags) > MAX_TAGS:
        raise _invalid("tags", f"must be an object of at most {MAX_TAGS} string -> string")
    for key, value in tags.items():
        if not isinstance(key, str) or not key or len(key) > 250:
            raise _invalid("tags", f"key {key!r} must be a string of 1 to 250 characters")
        if not isinstance(value, str) or len(value) > 5000:
            raise _invalid(f"tags.{key}", "must be a string of at most 5000 characters")
    return dict(tags)


_SPEC_FIELDS = frozenset(
    {
        "kind",
        "model",
        "definition_version",
        "code_digest",
        "data",
        "params",
        "backend",
        "resources",
        "runtime",
        "timeout_s",
        "retries",
        "tags",
        "parent_job_id",
        "experiment",
        "sweep",
    }
)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What to run, with what, where; validated once, by :meth:`from_json`.

    Attributes:
        kind: what the job does (``train``, ``evaluate``, ``predict``, ``sweep``). An
            ``evaluate`` or ``predict`` job names the version in ``params["ref"]``; a
            ``predict`` job reads ``data["entity_rows"]`` (a file of rows or a SQL query)
            and writes ``params["output"]`` (see :mod:`griffin.training.batch`).
        model: the model definition's name (Model Store).
        definition_version: a definition version; None means the newest.
        code_digest: the code the job must run, when pinned.
        data: ``{"dataset": name, "version": n}`` or ``{"entity_rows": ..., "start", "end"}``.
        params: parameter overrides (name -> scalar).
        backend: the launcher that runs it (``local`` by default).
        resources: CPUs, memory, GPUs and workers asked for.
        runtime: a standard runtime the environment must satisfy, checked before launch.
        timeout_s: the job is stopped and TIMED_OUT after this many seconds of running.
        retries: how many times an infrastructure failure is retried (0 to 10); a failure of
            the job's own code is never retried.
        tags: free labels.
        parent_job_id: the sweep that spawned this job.
        experiment: the experiment the job's run is tracked in.
        sweep: for a ``sweep`` job, its search (see :class:`griffin.domain.sweeps.SweepSpec`);
            its trials run as ``train`` child jobs.
    """

    model: str
    kind: JobKind = JobKind.TRAIN
    definition_version: int | None = None
    code_digest: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str | int | float | bool | None] = field(default_factory=dict)
    backend: str = "local"
    resources: Resources = field(default_factory=Resources)
    runtime: str | None = None
    timeout_s: int | None = None
    retries: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    parent_job_id: str | None = None
    experiment: str | None = None
    sweep: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "model": self.model,
            "definition_version": self.definition_version,
            "code_digest": self.code_digest,
            "data": dict(self.data),
            "params": dict(self.params),
            "backend": self.backend,
            "resources": self.resources.to_json(),
            "runtime": self.runtime,
            "timeout_s": self.timeout_s,
            "retries": self.retries,
            "tags": dict(self.tags),
            "parent_job_id": self.parent_job_id,
            "experiment": self.experiment,
            "sweep": None if self.sweep is None else dict(self.sweep),
        }

    @classmethod
    def from_json(cls, data: Any) -> JobSpec:
        """A validated spec; raises ``InvalidArgument`` naming the first bad field."""
        if not isinstance(data, Mapping):
            raise InvalidArgument("invalid job spec: it must be a JSON object")
        unknown = set(data) - _SPEC_FIELDS
        if unknown:
            raise _invalid(sorted(unknown)[0], "is not a known field")
        kind = data.get("kind", "train")
        try:
            job_kind = JobKind(kind)
        except ValueError:
            known = ", ".join(k.value for k in JobKind)
            raise _invalid("kind", f"{kind!r} is not one of {known}") from None
        model = data.get("model")
        if not isinstance(model, str) or not _NAME.fullmatch(model):
            raise _invalid(
                "model", "must be a model definition name (letters, digits, '_', '.', '-')"
            )
        version = data.get("definition_version")
        if version is not None:
            version = _int(version, "definition_version", minimum=1)
        backend = data.get("backend", "local")
        if not isinstance(backend, str) or not _BACKEND.fullmatch(backend):
            raise _invalid("backend", "must be a launcher name such as 'local'")
        timeout = data.get("timeout_s")
        if timeout is not None:
            timeout = _int(timeout, "timeout_s", minimum=1)
        return cls(
            kind=job_kind,
            model=model,
            definition_version=version,
            code_digest=_optional_str(data, "code_digest", limit=128),
            data=_check_data(data.get("data")),
            params=_check_params(data.get("params")),
            backend=backend,
            resources=Resources.from_json(data.get("resources")),
            runtime=_optional_str(data, "runtime", limit=64),
            timeout_s=timeout,
            retries=_int(data.get("retries", 0), "retries", minimum=0, maximum=MAX_RETRIES),
            tags=_check_tags(data.get("tags")),
            parent_job_id=_optional_str(data, "parent_job_id", limit=32),
            experiment=_optional_str(data, "experiment"),
            sweep=_check_sweep(job_kind, data.get("sweep")),
        )


def _check_sweep(kind: JobKind, sweep: Any) -> dict[str, Any] | None:
    """A sweep job needs its search; no other job has one."""
    if kind != JobKind.SWEEP:
        if sweep is not None:
            raise _invalid("sweep", "is only for jobs of kind 'sweep'")
        return None
    if sweep is None:
        raise _invalid("sweep", "is required for a sweep job")
    from griffin.domain.sweeps import SweepSpec

    spec = SweepSpec.from_json(sweep)
    spec.trials()  # a grid too large for max_trials is refused at submission, not later
    return spec.to_json()


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One change in a job's life: a status transition, or an adoption by another worker."""

    seq: int
    from_status: JobStatus | None
    to_status: JobStatus
    reason: str
    worker_id: str | None
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "from_status": None if self.from_status is None else str(self.from_status),
            "to_status": str(self.to_status),
            "reason": self.reason,
            "worker_id": self.worker_id,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobEvent:
        source = data.get("from_status")
        at = _time(data["at"])
        assert at is not None
        return cls(
            seq=int(data["seq"]),
            from_status=None if source is None else JobStatus(source),
            to_status=JobStatus(data["to_status"]),
            reason=str(data.get("reason", "")),
            worker_id=data.get("worker_id"),
            at=at,
        )


@dataclass(frozen=True, slots=True)
class Job:
    """A submitted job and where it stands.

    Attributes:
        id: opaque id.
        project: the project's name.
        spec: what was asked for.
        status: the current status; ``status_reason`` says why.
        attempt: 1 for the first launch, one more for each retry.
        cancel_requested: a cancel was asked for and the dispatcher has not acted on it yet.
        created_by: who submitted it.
        started_at: when its current attempt was claimed; ``ended_at``: when it ended.
        heartbeat_at: the last sign of life from its dispatcher or its process.
        worker_id: the dispatcher supervising it.
        handle: the backend's handle of the running process (JSON).
        result: what the job reported on success, e.g. ``{"model": "x", "version": 3}``.
        failure: the one-line reason the job reported before failing.
        not_before: a retried job is not started before this time.
    """

    id: str
    project: str
    spec: JobSpec
    status: JobStatus
    status_reason: str
    attempt: int
    cancel_requested: bool
    created_by: str
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    heartbeat_at: datetime | None = None
    worker_id: str | None = None
    handle: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    failure: str | None = None
    not_before: datetime | None = None

    @property
    def kind(self) -> JobKind:
        return self.spec.kind

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "spec": self.spec.to_json(),
            "status": str(self.status),
            "status_reason": self.status_reason,
            "attempt": self.attempt,
            "cancel_requested": self.cancel_requested,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "heartbeat_at": _iso(self.heartbeat_at),
            "worker_id": self.worker_id,
            "handle": self.handle,
            "result": self.result,
            "failure": self.failure,
            "not_before": _iso(self.not_before),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        created = _time(data["created_at"])
        assert created is not None
        return cls(
            id=str(data["id"]),
            project=str(data["project"]),
            spec=JobSpec.from_json(data["spec"]),
            status=JobStatus(data["status"]),
            status_reason=str(data.get("status_reason", "")),
            attempt=int(data.get("attempt", 1)),
            cancel_requested=bool(data.get("cancel_requested", False)),
            created_by=str(data.get("created_by", "")),
            created_at=created,
            started_at=_time(data.get("started_at")),
            ended_at=_time(data.get("ended_at")),
            heartbeat_at=_time(data.get("heartbeat_at")),
            worker_id=data.get("worker_id"),
            handle=data.get("handle"),
            result=data.get("result"),
            failure=data.get("failure"),
            not_before=_time(data.get("not_before")),
        )
