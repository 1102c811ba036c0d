"""Job behaviour: submit, read, list, cancel, report, claim, move, and read logs.

The REST routers, the CLI (through the SDK) and the dispatcher all call these functions; none
re-implements a rule. Every status change goes through :func:`transition` (or the claim), which
checks the state machine and writes the event row in the same transaction.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select

from griffin.artifacts import ArtifactStore
from griffin.domain.accounts import Principal, Role
from griffin.domain.ids import new_id
from griffin.domain.jobs import Job, JobEvent, JobKind, JobSpec, JobStatus, check_transition
from griffin.errors import Conflict, InvalidArgument, NotFound
from griffin.store import jobs as store
from griffin.store import projects
from griffin.store.orm.base import utcnow
from griffin.store.orm.jobs import JobRow
from griffin.store.session import Database
from griffin.tracking.pages import Page, decode_cursor, encode_cursor

__all__ = [
    "ENTRYPOINTS",
    "LogSlice",
    "cancel_job",
    "claim_next",
    "command_for",
    "get_job",
    "job_events",
    "job_logs",
    "list_jobs",
    "log_prefix",
    "report",
    "submit_job",
    "transition",
]

# The module run inside a job of each kind: ``python -m <module> --job <id>``.
ENTRYPOINTS: dict[str, str] = {
    str(JobKind.TRAIN): "griffin.runtime",
    str(JobKind.EVALUATE): "griffin.runtime",
    str(JobKind.PREDICT): "griffin.runtime",
    str(JobKind.SWEEP): "griffin.runtime",
}
MAX_LOG_READ = 4 * 1024 * 1024
MAX_RESULT_BYTES = 64 * 1024
MAX_FAILURE_CHARS = 2000


def command_for(job: Job) -> list[str]:
    """The argv that runs ``job``'s code: this Python, its kind's entry point, the job id."""
    return [sys.executable, "-m", ENTRYPOINTS[str(job.spec.kind)], "--job", job.id]


def log_prefix(project_id: str, job_id: str, attempt: int) -> str:
    """Where an attempt's log chunks live in the artifact store; derived from ids only."""
    return f"jobs/{project_id}/{job_id}/logs/{attempt}"


def _project_job(session: Any, principal: Principal, project: str, job_id: str) -> JobRow:
    """The job, once the principal may see ``project`` and the job belongs to it."""
    principal.require(Role.VIEWER, project)
    row, name = store.get_row(session, job_id)
    if name != project:
        raise NotFound(
            f"job {job_id} does not exist in project '{project}'", details={"job_id": job_id}
        )
    return row


def submit_job(
    db: Database, principal: Principal, project: str, spec: JobSpec | Mapping[str, Any]
) -> Job:
    """Queue a job (editor): it is a QUEUED row, with its first event, before anything runs."""
    principal.require(Role.EDITOR, project)
    if not isinstance(spec, JobSpec):
        spec = JobSpec.from_json(spec)
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        if spec.parent_job_id is not None:
            parent, _ = store.get_row(session, spec.parent_job_id)
            if parent.project_id != project_row.id:
                raise InvalidArgument(
                    "a parent job must be in the same project",
                    details={"field": "parent_job_id"},
                )
        now = utcnow()
        row = JobRow(
            id=new_id(),
            project_id=project_row.id,
            kind=str(spec.kind),
            backend=spec.backend,
            spec=spec.to_json(),
            status=str(JobStatus.QUEUED),
            status_reason=f"submitted by {principal.user}",
            attempt=1,
            cancel_requested=False,
            created_by=principal.user,
            created_at=now,
            not_before=now,
            parent_job_id=spec.parent_job_id,
        )
        session.add(row)
        session.flush()
        store.add_event(session, row.id, None, JobStatus.QUEUED, row.status_reason, None, now)
        return store.to_domain(row, project)


def get_job(db: Database, principal: Principal, project: str, job_id: str) -> Job:
    with db.session() as session:
        return store.to_domain(_project_job(session, principal, project, job_id), project)


def job_events(db: Database, principal: Principal, project: str, job_id: str) -> list[JobEvent]:
    """The job's status history, oldest first."""
    with db.session() as session:
        _project_job(session, principal, project, job_id)
        return store.events(session, job_id)


def list_jobs(
    db: Database,
    principal: Principal,
    project: str,
    *,
    status: JobStatus | None = None,
    kind: JobKind | None = None,
    parent: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[Job]:
    """Jobs of a project, newest first, a page at a time."""
    principal.require(Role.VIEWER, project)
    with db.session() as session:
        project_row = projects.get_row(session, project)
        query = select(JobRow).where(JobRow.project_id == project_row.id)
        if status is not None:
            query = query.where(JobRow.status == str(status))
        if kind is not None:
            query = query.where(JobRow.kind == str(kind))
        if parent is not None:
            query = query.where(JobRow.parent_job_id == parent)
        if cursor:
            created_us, ident = decode_cursor(cursor, 2)
            if not isinstance(created_us, int) or not isinstance(ident, str):
                raise InvalidArgument("invalid page cursor", details={"field": "cursor"})
            created = datetime.fromtimestamp(created_us / 1_000_000, UTC)
            query = query.where(
                (JobRow.created_at < created)
                | ((JobRow.created_at == created) & (JobRow.id < ident))
            )
        query = query.order_by(JobRow.created_at.desc(), JobRow.id.desc()).limit(limit + 1)
        rows = list(session.scalars(query))
        page = [store.to_domain(r, project) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor([_micros(last.created_at), last.id])
    return Page(items=page, next_cursor=next_cursor)


def _micros(at: datetime) -> int:
    # Exact integer microseconds: a float timestamp could round past the row it stands for.
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def transition(
    db: Database,
    job_id: str,
    current: JobStatus | Sequence[JobStatus],
    new: JobStatus,
    reason: str,
    *,
    by: str | None = None,
    only_worker: str | None = None,
    **values: Any,
) -> JobStatus | None:
    """Move a job from (one of) ``current`` to ``new`` with its event, if it is still there.

    Returns the status it left, or None when it had moved on (another actor won the race).
    Raises ``Conflict`` when the state machine forbids the move itself.
    """
    sources = [current] if isinstance(current, JobStatus) else list(current)
    for source in sources:
        check_transition(job_id, source, new)
    with db.session(write=True) as session:
        return store.move(
            session,
            job_id,
            sources,
            new,
            reason,
            by=by,
            only_worker=only_worker,
            **values,
        )


def cancel_job(db: Database, principal: Principal, project: str, job_id: str) -> Job:
    """Cancel a job (editor): a QUEUED job at once; a running one via its dispatcher.

    Raises ``Conflict`` when the job has already ended.
    """
    principal.require(Role.EDITOR, project)
    with db.session(write=True) as session:
        row = _project_job(session, principal, project, job_id)
        status = JobStatus(row.status)
        if status.is_terminal:
            raise Conflict(
                f"job {job_id} is already {status}; there is nothing to cancel",
                details={"job_id": job_id, "status": str(status)},
            )
        reason = f"cancelled by {principal.user}"
        moved = store.move(session, job_id, JobStatus.QUEUED, JobStatus.CANCELLED, reason)
        if moved is None:
            # Claimed meanwhile (or already running): the dispatcher stops the process.
            row.cancel_requested = True
        session.flush()
    return get_job(db, principal, project, job_id)


def report(
    db: Database,
    principal: Principal,
    project: str,
    job_id: str,
    *,
    status: JobStatus | None = None,
    result: Mapping[str, Any] | None = None,
    failure: str | None = None,
) -> Job:
    """What the process inside a job tells Griffin (editor).

    ``status=RUNNING`` when it starts; ``result`` (a JSON object) when it has succeeded;
    ``failure`` (one line) just before it exits non-zero. The dispatcher turns the process's
    exit into the final status and uses what was reported.
    """
    principal.require(Role.EDITOR, project)
    if status is not None and status != JobStatus.RUNNING:
        raise InvalidArgument(
            f"a job reports only RUNNING; the dispatcher sets {status} when the process ends",
            details={"field": "status"},
        )
    if result is not None:
        if not isinstance(result, Mapping):
            raise InvalidArgument("result must be a JSON object", details={"field": "result"})
        if len(orjson.dumps(dict(result))) > MAX_RESULT_BYTES:
            raise InvalidArgument(
                f"result is larger than {MAX_RESULT_BYTES} bytes of JSON",
                details={"field": "result"},
            )
    with db.session(write=True) as session:
        row = _project_job(session, principal, project, job_id)
        current = JobStatus(row.status)
        if current.is_terminal or current == JobStatus.QUEUED:
            raise Conflict(
                f"job {job_id} is {current}; only a starting or running job reports",
                details={"job_id": job_id, "status": str(current)},
            )
        if status == JobStatus.RUNNING and current == JobStatus.STARTING:
            store.move(session, job_id, JobStatus.STARTING, JobStatus.RUNNING, "the job started")
            session.refresh(row)
        if result is not None:
            row.result = dict(result)
        if failure is not None:
            text = failure.strip().splitlines()[0] if failure.strip() else "failed"
            row.failure = text[:MAX_FAILURE_CHARS]
        row.heartbeat_at = utcnow()
        session.flush()
        return store.to_domain(row, project)


def claim_next(
    db: Database,
    worker_id: str,
    backends: Sequence[str],
    *,
    job_ids: Sequence[str] | None = None,
) -> Job | None:
    """Claim the oldest QUEUED job due now among ``backends`` for ``worker_id`` (STARTING).

    Exactly one worker gets each job: on PostgreSQL the candidate row is locked with
    ``FOR UPDATE SKIP LOCKED`` (racing workers take the next one instead of waiting); on
    SQLite, and as a second guard, the UPDATE only matches a row still QUEUED.
    """
    now = utcnow()
    with db.session(write=True) as session:
        query = (
            select(JobRow.id)
            .where(
                JobRow.status == str(JobStatus.QUEUED),
                JobRow.not_before <= now,
                JobRow.backend.in_(list(backends)),
            )
            .order_by(JobRow.created_at, JobRow.id)
        )
        if job_ids is not None:
            query = query.where(JobRow.id.in_(list(job_ids)))
        if db.dialect == "postgresql":
            candidates = list(session.scalars(query.limit(1).with_for_update(skip_locked=True)))
        else:
            candidates = list(session.scalars(query.limit(20)))
        for job_id in candidates:
            moved = store.move(
                session,
                job_id,
                JobStatus.QUEUED,
                JobStatus.STARTING,
                f"claimed by worker {worker_id}",
                by=worker_id,
                worker_id=worker_id,
                started_at=now,
                heartbeat_at=now,
                handle=None,
            )
            if moved is not None:
                return store.get(session, job_id)
    return None


@dataclass(frozen=True, slots=True)
class LogSlice:
    """Bytes of one attempt's log from ``offset`` on, and where the next read starts."""

    data: bytes
    next_offset: int
    attempt: int
    status: JobStatus


def job_logs(
    db: Database,
    artifacts: ArtifactStore,
    principal: Principal,
    project: str,
    job_id: str,
    *,
    attempt: int | None = None,
    offset: int = 0,
    limit: int = MAX_LOG_READ,
) -> LogSlice:
    """The shipped log of an attempt (the current one by default) from byte ``offset`` on."""
    if offset < 0:
        raise InvalidArgument("offset must be 0 or more", details={"field": "offset"})
    with db.session() as session:
        row = _project_job(session, principal, project, job_id)
        chosen = row.attempt if attempt is None else attempt
        if not 1 <= chosen <= row.attempt:
            raise NotFound(
                f"job {job_id} has no attempt {chosen} (it is at attempt {row.attempt})",
                details={"job_id": job_id, "attempt": chosen},
            )
        prefix = log_prefix(row.project_id, job_id, chosen)
        status = JobStatus(row.status)
    out = bytearray()
    position = 0
    for chunk in artifacts.list(prefix):
        end = position + chunk.size
        if end > offset and len(out) < limit:
            with artifacts.open_read(f"{prefix}/{chunk.path}") as handle:
                handle.seek(max(0, offset - position))
                out += handle.read(limit - len(out))
        position = end
    return LogSlice(bytes(out), offset + len(out), chosen, status)
