"""Jobs, their events and workers in the metadata store.

Every status change is one conditional ``UPDATE ... WHERE status = <expected>`` plus its event
row, in the caller's transaction: two dispatchers (or a dispatcher and a user cancelling) that
race on a job cannot both move it, on SQLite or PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from griffin.domain.jobs import Job, JobEvent, JobSpec, JobStatus
from griffin.errors import NotFound
from griffin.store.dml import dialect_insert
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.base import utcnow
from griffin.store.orm.jobs import JobEventRow, JobRow, WorkerRow

__all__ = [
    "add_event",
    "events",
    "get",
    "get_row",
    "heartbeat_worker",
    "live_workers",
    "move",
    "stop_worker",
    "to_domain",
]


def to_domain(row: JobRow, project: str) -> Job:
    return Job(
        id=row.id,
        project=project,
        spec=JobSpec.from_json(row.spec),
        status=JobStatus(row.status),
        status_reason=row.status_reason,
        attempt=row.attempt,
        cancel_requested=row.cancel_requested,
        created_by=row.created_by,
        created_at=row.created_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        heartbeat_at=row.heartbeat_at,
        worker_id=row.worker_id,
        handle=row.handle,
        result=row.result,
        failure=row.failure,
        not_before=row.not_before,
    )


def get_row(session: Session, job_id: str) -> tuple[JobRow, str]:
    """The job and its project's name; ``NotFound`` naming the id."""
    found = session.execute(
        select(JobRow, ProjectRow.name)
        .join(ProjectRow, ProjectRow.id == JobRow.project_id)
        .where(JobRow.id == job_id)
    ).first()
    if found is None:
        raise NotFound(f"job {job_id} does not exist", details={"job_id": job_id})
    return found[0], found[1]


def get(session: Session, job_id: str) -> Job:
    row, project = get_row(session, job_id)
    return to_domain(row, project)


def add_event(
    session: Session,
    job_id: str,
    from_status: JobStatus | None,
    to_status: JobStatus,
    reason: str,
    worker_id: str | None,
    at: datetime,
) -> None:
    """Append one event to the job's history.

    Called only while the caller's transaction holds the job's row (it has just updated it),
    so the next sequence number cannot be taken twice.
    """
    last = session.scalar(select(func.max(JobEventRow.seq)).where(JobEventRow.job_id == job_id))
    session.add(
        JobEventRow(
            job_id=job_id,
            seq=(last or 0) + 1,
            from_status=None if from_status is None else str(from_status),
            to_status=str(to_status),
            reason=reason,
            worker_id=worker_id,
            at=at,
        )
    )
    session.flush()


def move(
    session: Session,
    job_id: str,
    current: JobStatus | Sequence[JobStatus],
    new: JobStatus,
    reason: str,
    *,
    by: str | None = None,
    only_worker: str | None = None,
    **values: Any,
) -> JobStatus | None:
    """Move a job from one of ``current`` to ``new`` and record the event, or do nothing.

    Returns the status the job was moved from, or None when it was no longer in ``current``
    (or, with ``only_worker``, no longer supervised by that worker). ``by`` is the worker
    recorded on the event; ``values`` sets other columns in the same UPDATE.
    """
    sources = [current] if isinstance(current, JobStatus) else list(current)
    now = utcnow()
    changes: dict[str, Any] = {"status": str(new), "status_reason": reason, **values}
    if new.is_terminal:
        changes.setdefault("ended_at", now)
    for source in sources:
        query = update(JobRow).where(JobRow.id == job_id, JobRow.status == str(source))
        if only_worker is not None:
            query = query.where(JobRow.worker_id == only_worker)
        result = session.execute(
            query.values(**changes).execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            add_event(session, job_id, source, new, reason, by, now)
            return source
    return None


def events(session: Session, job_id: str) -> list[JobEvent]:
    query = select(JobEventRow).where(JobEventRow.job_id == job_id).order_by(JobEventRow.seq)
    return [
        JobEvent(
            seq=r.seq,
            from_status=None if r.from_status is None else JobStatus(r.from_status),
            to_status=JobStatus(r.to_status),
            reason=r.reason,
            worker_id=r.worker_id,
            at=r.at,
        )
        for r in session.scalars(query)
    ]


def heartbeat_worker(
    session: Session,
    worker_id: str,
    *,
    hostname: str,
    pid: int,
    backends: Iterable[str],
    job_ids: Sequence[str] = (),
) -> None:
    """Record that a worker is alive (creating its row), and touch the jobs it supervises."""
    now = utcnow()
    stmt = dialect_insert(session)(WorkerRow).values(
        id=worker_id,
        hostname=hostname,
        pid=pid,
        backends=list(backends),
        started_at=now,
        heartbeat_at=now,
        stopped_at=None,
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"], set_={"heartbeat_at": now, "stopped_at": None}
        )
    )
    if job_ids:
        session.execute(
            update(JobRow)
            .where(JobRow.id.in_(list(job_ids)), JobRow.worker_id == worker_id)
            .values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )


def stop_worker(session: Session, worker_id: str) -> None:
    """Mark a worker stopped: its jobs may be adopted at once, without waiting for a timeout."""
    session.execute(
        update(WorkerRow)
        .where(WorkerRow.id == worker_id)
        .values(stopped_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def live_workers(session: Session, cutoff: datetime) -> set[str]:
    """Ids of workers that sent a heartbeat after ``cutoff`` and did not stop."""
    query = select(WorkerRow.id).where(
        WorkerRow.heartbeat_at >= cutoff, WorkerRow.stopped_at.is_(None)
    )
    return set(session.scalars(query))
