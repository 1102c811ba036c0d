"""Experiments, runs and what is logged to them: pure models and the run state machine."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple

from griffin.errors import Conflict

__all__ = [
    "Artifact",
    "Experiment",
    "Metric",
    "Run",
    "RunStatus",
    "StatusChange",
    "check_transition",
]


class RunStatus(StrEnum):
    """A run's lifecycle. Terminal states never change again."""

    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED})
_ALLOWED: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.SCHEDULED: frozenset(
        {RunStatus.RUNNING, RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED}
    ),
    RunStatus.RUNNING: frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED}),
}


def check_transition(run_id: str, current: RunStatus, new: RunStatus) -> None:
    """Raise ``Conflict`` unless a run may move from ``current`` to ``new``."""
    if new == current and not current.is_terminal:
        return
    if new not in _ALLOWED.get(current, frozenset()):
        raise Conflict(
            f"run {run_id} is {current}; it cannot become {new}",
            details={"run_id": run_id, "status": str(current)},
        )


@dataclass(frozen=True, slots=True)
class Experiment:
    id: str
    project: str
    name: str
    description: str
    lifecycle: str
    created_at: datetime
    updated_at: datetime
    tags: dict[str, str] = field(default_factory=dict)


class Metric(NamedTuple):
    """One metric point. ``value`` may be NaN or ±inf, as in MLflow.

    A named tuple rather than a dataclass: batches of thousands are built on the logging hot
    path, and a tuple is several times cheaper to create and to hand to the database driver.
    """

    key: str
    value: float
    step: int
    timestamp_ms: int

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    @property
    def is_nan(self) -> bool:
        return math.isnan(self.value)


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: RunStatus
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Artifact:
    path: str
    size: int
    sha256: str | None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """A tracked run, with its params, tags and the latest value of each metric."""

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
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    history: tuple[StatusChange, ...] = ()
