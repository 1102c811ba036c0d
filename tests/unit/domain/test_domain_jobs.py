"""The job state machine and spec validation: pure rules, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from griffin.domain.jobs import (
    ALLOWED,
    Job,
    JobEvent,
    JobKind,
    JobSpec,
    JobStatus,
    Resources,
    check_transition,
    parse_memory,
)
from griffin.errors import Conflict, InvalidArgument


def test_terminal_states_never_change() -> None:
    for status in JobStatus:
        if status.is_terminal:
            assert status not in ALLOWED
            for new in JobStatus:
                with pytest.raises(Conflict, match=f"is {status}; it cannot become {new}"):
                    check_transition("j1", status, new)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (JobStatus.QUEUED, JobStatus.STARTING),
        (JobStatus.QUEUED, JobStatus.CANCELLED),
        (JobStatus.STARTING, JobStatus.RUNNING),
        (JobStatus.STARTING, JobStatus.QUEUED),
        (JobStatus.RUNNING, JobStatus.SUCCEEDED),
        (JobStatus.RUNNING, JobStatus.TIMED_OUT),
        (JobStatus.RUNNING, JobStatus.QUEUED),
    ],
)
def test_allowed_transitions(current: JobStatus, new: JobStatus) -> None:
    check_transition("j1", current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (JobStatus.QUEUED, JobStatus.RUNNING),
        (JobStatus.QUEUED, JobStatus.SUCCEEDED),
        (JobStatus.RUNNING, JobStatus.STARTING),
        (JobStatus.RUNNING, JobStatus.RUNNING),
    ],
)
def test_forbidden_transitions(current: JobStatus, new: JobStatus) -> None:
    with pytest.raises(Conflict):
        check_transition("j1", current, new)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2Gi", 2 * 1024**3), ("512Mi", 512 * 1024**2), ("1.5G", 1_500_000_000), ("1000", 1000)],
)
def test_parse_memory(text: str, expected: int) -> None:
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["", "two gig", "-1Gi", "0", "5Xi"])
def test_parse_memory_refuses_nonsense(text: str) -> None:
    with pytest.raises(InvalidArgument, match=r"resources\.memory"):
        parse_memory(text)


def test_spec_defaults_and_round_trip() -> None:
    spec = JobSpec.from_json({"model": "churn"})
    assert spec.kind is JobKind.TRAIN
    assert spec.backend == "local"
    assert spec.resources == Resources()
    assert spec.retries == 0
    full = {
        "kind": "evaluate",
        "model": "churn",
        "definition_version": 3,
        "code_digest": "abc",
        "data": {"dataset": "d", "version": 2},
        "params": {"lr": 0.1, "depth": 3, "name": "x", "flag": True},
        "backend": "local",
        "resources": {"cpus": 0.5, "memory": "2Gi", "gpus": 1, "workers": 2},
        "runtime": "sklearn-1",
        "timeout_s": 60,
        "retries": 2,
        "tags": {"team": "eta"},
        "parent_job_id": "p1",
        "experiment": "exp",
        "sweep": None,
    }
    parsed = JobSpec.from_json(full)
    assert parsed.to_json() == full
    assert parsed.resources.memory_bytes == 2 * 1024**3
    assert JobSpec.from_json(parsed.to_json()) == parsed


def test_entity_rows_data_shape() -> None:
    data = {"entity_rows": "rows.parquet", "start": "2024-01-01", "end": "2024-02-01T00:00:00"}
    assert JobSpec.from_json({"model": "m", "data": data}).data == data


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"model": ""}, "model"),
        ({"model": "a/b"}, "model"),
        ({"kind": "deploy"}, "kind"),
        ({"surprise": 1}, "surprise"),
        ({"retries": 11}, "retries"),
        ({"retries": -1}, "retries"),
        ({"retries": True}, "retries"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"definition_version": 0}, "definition_version"),
        ({"backend": "Not a name"}, "backend"),
        ({"resources": {"cpus": 0}}, "resources.cpus"),
        ({"resources": {"gpus": -1}}, "resources.gpus"),
        ({"resources": {"workers": 0}}, "resources.workers"),
        ({"resources": {"memory": "lots"}}, "resources.memory"),
        ({"resources": {"disk": 1}}, "resources.disk"),
        ({"params": {"x": [1, 2]}}, "params.x"),
        ({"params": {"x": float("nan")}}, "params.x"),
        ({"tags": {"a": 1}}, "tags.a"),
        ({"data": {"table": "x"}}, "data"),
        ({"data": {"dataset": "d", "extra": 1}}, "data"),
        ({"data": {"dataset": "d", "version": 0}}, "data.version"),
        ({"data": {"entity_rows": "r", "start": "yesterday"}}, "data.start"),
    ],
)
def test_spec_validation_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        JobSpec.from_json({"model": "m", **changes})
    assert caught.value.details["field"] == field
    assert field in caught.value.message


def test_spec_must_be_an_object() -> None:
    with pytest.raises(InvalidArgument, match="JSON object"):
        JobSpec.from_json(["model"])


def test_job_and_event_round_trip() -> None:
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    job = Job(
        id="j1",
        project="default",
        spec=JobSpec.from_json({"model": "m"}),
        status=JobStatus.RUNNING,
        status_reason="the job started",
        attempt=2,
        cancel_requested=True,
        created_by="ana",
        created_at=now,
        started_at=now,
        handle={"pid": 12},
        result={"version": 3},
        not_before=now,
    )
    assert Job.from_json(job.to_json()) == job
    event = JobEvent(1, None, JobStatus.QUEUED, "submitted", None, now)
    assert JobEvent.from_json(event.to_json()) == event
