"""Job behaviour in the service layer, on SQLite and PostgreSQL: rows, events, claims."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import update

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.domain.jobs import JobKind, JobStatus
from griffin.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from griffin.platform import Platform
from griffin.store import projects
from griffin.store.orm.base import utcnow
from griffin.store.orm.jobs import JobRow
from griffin.training import jobs

ADMIN = Principal("ana", ALL_PROJECTS, Role.ADMIN)
VIEWER = Principal("vic", "default", Role.VIEWER)


def _submit(platform: Platform, **fields: object) -> str:
    return jobs.submit_job(platform.db, ADMIN, "default", {"model": "m", **fields}).id


def test_submit_is_a_queued_row_with_its_first_event(platform: Platform) -> None:
    job = jobs.submit_job(platform.db, ADMIN, "default", {"model": "churn", "retries": 2})
    assert job.status is JobStatus.QUEUED
    assert job.attempt == 1
    assert job.created_by == "ana"
    assert job.created_at.tzinfo is not None
    assert job.spec.retries == 2
    again = jobs.get_job(platform.db, ADMIN, "default", job.id)
    assert again == job
    events = jobs.job_events(platform.db, ADMIN, "default", job.id)
    assert [(e.seq, e.from_status, e.to_status) for e in events] == [(1, None, JobStatus.QUEUED)]
    assert events[0].reason == "submitted by ana"


def test_submit_checks_role_and_spec(platform: Platform) -> None:
    with pytest.raises(PermissionDenied):
        jobs.submit_job(platform.db, VIEWER, "default", {"model": "m"})
    with pytest.raises(InvalidArgument, match="retries"):
        jobs.submit_job(platform.db, ADMIN, "default", {"model": "m", "retries": 99})
    with pytest.raises(NotFound, match="project 'nope'"):
        jobs.submit_job(platform.db, ADMIN, "nope", {"model": "m"})
    with pytest.raises(NotFound, match="job missing"):
        jobs.submit_job(platform.db, ADMIN, "default", {"model": "m", "parent_job_id": "missing"})


def test_a_job_is_only_visible_in_its_project(platform: Platform) -> None:
    job_id = _submit(platform)
    with platform.db.session(write=True) as session:
        projects.create(session, "other")
    with pytest.raises(NotFound, match="does not exist in project 'other'"):
        jobs.get_job(platform.db, ADMIN, "other", job_id)
    with pytest.raises(PermissionDenied):
        jobs.get_job(platform.db, Principal("x", "other", Role.ADMIN), "default", job_id)


def test_list_pages_newest_first_and_filters(platform: Platform) -> None:
    ids = [_submit(platform) for _ in range(5)]
    evaluate = jobs.submit_job(platform.db, ADMIN, "default", {"model": "m", "kind": "evaluate"})
    child = _submit(platform, parent_job_id=ids[0])
    seen: list[str] = []
    cursor = None
    while True:
        page = jobs.list_jobs(platform.db, VIEWER, "default", cursor=cursor, limit=3)
        seen += [j.id for j in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [child, evaluate.id, *reversed(ids)]
    kinds = jobs.list_jobs(platform.db, VIEWER, "default", kind=JobKind.EVALUATE)
    assert [j.id for j in kinds.items] == [evaluate.id]
    children = jobs.list_jobs(platform.db, VIEWER, "default", parent=ids[0])
    assert [j.id for j in children.items] == [child]
    jobs.cancel_job(platform.db, ADMIN, "default", ids[1])
    cancelled = jobs.list_jobs(platform.db, VIEWER, "default", status=JobStatus.CANCELLED)
    assert [j.id for j in cancelled.items] == [ids[1]]


def test_cancel_a_queued_job_at_once(platform: Platform) -> None:
    job_id = _submit(platform)
    job = jobs.cancel_job(platform.db, ADMIN, "default", job_id)
    assert job.status is JobStatus.CANCELLED
    assert job.ended_at is not None
    assert job.status_reason == "cancelled by ana"
    with pytest.raises(Conflict, match="already CANCELLED"):
        jobs.cancel_job(platform.db, ADMIN, "default", job_id)
    with pytest.raises(PermissionDenied):
        jobs.cancel_job(platform.db, VIEWER, "default", job_id)
    # A cancelled job is never claimed.
    assert jobs.claim_next(platform.db, "w1", ["local"]) is None


def test_cancel_a_claimed_job_asks_its_dispatcher(platform: Platform) -> None:
    job_id = _submit(platform)
    claimed = jobs.claim_next(platform.db, "w1", ["local"])
    assert claimed is not None
    assert claimed.id == job_id
    job = jobs.cancel_job(platform.db, ADMIN, "default", job_id)
    assert job.status is JobStatus.STARTING
    assert job.cancel_requested


def test_claim_takes_the_oldest_due_job_of_its_backends(platform: Platform) -> None:
    first = _submit(platform)
    other_backend = _submit(platform, backend="ray")
    later = _submit(platform)
    with platform.db.session(write=True) as session:
        session.execute(
            update(JobRow)
            .where(JobRow.id == first)
            .values(not_before=utcnow() + timedelta(hours=1))
        )
    claimed = jobs.claim_next(platform.db, "w1", ["local"])
    assert claimed is not None
    assert claimed.id == later  # the first is not due yet, the other is another backend's
    assert claimed.status is JobStatus.STARTING
    assert claimed.worker_id == "w1"
    assert claimed.started_at is not None
    assert jobs.claim_next(platform.db, "w1", ["local"]) is None
    assert jobs.claim_next(platform.db, "w2", ["ray"]).id == other_backend  # type: ignore[union-attr]
    events = jobs.job_events(platform.db, ADMIN, "default", later)
    assert events[-1].to_status is JobStatus.STARTING
    assert events[-1].worker_id == "w1"
    only = jobs.claim_next(platform.db, "w3", ["local"], job_ids=["unknown"])
    assert only is None


def test_each_job_is_claimed_by_exactly_one_racing_worker(platform: Platform) -> None:
    ids = {_submit(platform) for _ in range(30)}
    claims: Counter[str] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def worker(name: str) -> None:
        try:
            start.wait(10)
            while True:
                job = jobs.claim_next(platform.db, name, ["local"])
                if job is None:
                    return
                with lock:
                    claims[job.id] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert set(claims) == ids
    assert set(claims.values()) == {1}
    for job_id in ids:
        events = jobs.job_events(platform.db, ADMIN, "default", job_id)
        assert [e.to_status for e in events] == [JobStatus.QUEUED, JobStatus.STARTING]


def test_report_running_result_and_failure(platform: Platform) -> None:
    job_id = _submit(platform)
    with pytest.raises(Conflict, match="only a starting or running job reports"):
        jobs.report(platform.db, ADMIN, "default", job_id, status=JobStatus.RUNNING)
    jobs.claim_next(platform.db, "w1", ["local"])
    job = jobs.report(platform.db, ADMIN, "default", job_id, status=JobStatus.RUNNING)
    assert job.status is JobStatus.RUNNING
    # Reporting RUNNING twice is harmless (the launcher may have said so first).
    jobs.report(platform.db, ADMIN, "default", job_id, status=JobStatus.RUNNING)
    job = jobs.report(platform.db, ADMIN, "default", job_id, result={"model": "m", "version": 3})
    assert job.result == {"model": "m", "version": 3}
    job = jobs.report(platform.db, ADMIN, "default", job_id, failure="bad input\ntraceback...")
    assert job.failure == "bad input"
    with pytest.raises(InvalidArgument, match="reports only RUNNING"):
        jobs.report(platform.db, ADMIN, "default", job_id, status=JobStatus.SUCCEEDED)
    with pytest.raises(PermissionDenied):
        jobs.report(platform.db, VIEWER, "default", job_id, status=JobStatus.RUNNING)
    events = jobs.job_events(platform.db, ADMIN, "default", job_id)
    assert [e.to_status for e in events] == [
        JobStatus.QUEUED,
        JobStatus.STARTING,
        JobStatus.RUNNING,
    ]


def test_transition_enforces_the_state_machine(platform: Platform) -> None:
    job_id = _submit(platform)
    with pytest.raises(Conflict, match="cannot become SUCCEEDED"):
        jobs.transition(platform.db, job_id, JobStatus.QUEUED, JobStatus.SUCCEEDED, "no")
    # A move from a state the job has left does nothing and says so.
    moved = jobs.transition(platform.db, job_id, JobStatus.RUNNING, JobStatus.FAILED, "x")
    assert moved is None
    assert jobs.get_job(platform.db, ADMIN, "default", job_id).status is JobStatus.QUEUED


def test_logs_of_a_job_without_output(platform: Platform) -> None:
    job_id = _submit(platform)
    found = jobs.job_logs(platform.db, platform.artifacts, ADMIN, "default", job_id)
    assert (found.data, found.next_offset, found.attempt) == (b"", 0, 1)
    with pytest.raises(NotFound, match="no attempt 2"):
        jobs.job_logs(platform.db, platform.artifacts, ADMIN, "default", job_id, attempt=2)


def test_logs_concatenate_shipped_chunks_from_an_offset(platform: Platform) -> None:
    job_id = _submit(platform)
    with platform.db.session() as session:
        project_id = projects.get_row(session, "default").id
    prefix = jobs.log_prefix(project_id, job_id, 1)
    for seq, chunk in enumerate([b"hello ", b"wide ", b"world\n"]):
        platform.artifacts.write_stream(f"{prefix}/{seq:08d}", [chunk], max_bytes=100)
    read = jobs.job_logs
    assert read(platform.db, platform.artifacts, ADMIN, "default", job_id).data == (
        b"hello wide world\n"
    )
    part = read(platform.db, platform.artifacts, ADMIN, "default", job_id, offset=8, limit=5)
    assert (part.data, part.next_offset) == (b"de wo", 13)
    rest = read(platform.db, platform.artifacts, ADMIN, "default", job_id, offset=13)
    assert (rest.data, rest.next_offset) == (b"rld\n", 17)
    end = read(platform.db, platform.artifacts, ADMIN, "default", job_id, offset=17)
    assert (end.data, end.next_offset) == (b"", 17)
