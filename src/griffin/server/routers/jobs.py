"""Training jobs: submit, list, show, history, logs, cancel, and the job's own reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response

from griffin.domain.jobs import JobKind, JobStatus
from griffin.server.deps import CurrentPlatform, CurrentPrincipal
from griffin.server.schemas.jobs import JobEventOut, JobEventsOut, JobOut, JobReport, JobSpecIn
from griffin.server.schemas.tracking import Paged
from griffin.training import jobs as service

router = APIRouter(prefix="/projects/{project}/jobs", tags=["jobs"])

LOG_OFFSET_HEADER = "x-griffin-log-next-offset"
JOB_STATUS_HEADER = "x-griffin-job-status"


def _wake_dispatcher(request: Request) -> None:
    """This server's own dispatcher acts now, not at its next poll."""
    dispatcher = getattr(request.app.state, "dispatcher", None)
    if dispatcher is not None:
        dispatcher.wake()


@router.post("", status_code=status.HTTP_201_CREATED)
def submit_job(
    project: str,
    body: JobSpecIn,
    request: Request,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> JobOut:
    """Queue a job (editor); a dispatcher claims and launches it."""
    spec = body.model_dump(mode="json")
    job = service.submit_job(platform.db, principal, project, spec)
    _wake_dispatcher(request)
    return JobOut.of_job(job)


@router.get("")
def list_jobs(
    project: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    kind: JobKind | None = None,
    parent: Annotated[str | None, Query(max_length=32)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Paged[JobOut]:
    """Jobs, newest first."""
    page = service.list_jobs(
        platform.db,
        principal,
        project,
        status=status_,
        kind=kind,
        parent=parent,
        cursor=cursor,
        limit=limit,
    )
    return Paged[JobOut](items=[JobOut.of_job(j) for j in page.items], next_cursor=page.next_cursor)


@router.get("/{job_id}")
def get_job(
    project: str, job_id: str, platform: CurrentPlatform, principal: CurrentPrincipal
) -> JobOut:
    return JobOut.of_job(service.get_job(platform.db, principal, project, job_id))


@router.get("/{job_id}/events")
def job_events(
    project: str, job_id: str, platform: CurrentPlatform, principal: CurrentPrincipal
) -> JobEventsOut:
    """The job's status history, oldest first."""
    found = service.job_events(platform.db, principal, project, job_id)
    return JobEventsOut(items=[JobEventOut.of_event(e) for e in found])


@router.get("/{job_id}/logs")
def job_logs(
    project: str,
    job_id: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    attempt: Annotated[int | None, Query(ge=1)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The attempt's log from byte ``offset`` (text/plain); the next offset and the job's
    status are in the ``x-griffin-log-next-offset`` and ``x-griffin-job-status`` headers."""
    found = service.job_logs(
        platform.db, platform.artifacts, principal, project, job_id, attempt=attempt, offset=offset
    )
    return Response(
        content=found.data,
        media_type="text/plain; charset=utf-8",
        headers={
            LOG_OFFSET_HEADER: str(found.next_offset),
            JOB_STATUS_HEADER: str(found.status),
            "x-griffin-job-attempt": str(found.attempt),
        },
    )


@router.post("/{job_id}/cancel")
def cancel_job(
    project: str,
    job_id: str,
    request: Request,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> JobOut:
    """Cancel a job (editor): a queued one at once, a running one through its dispatcher."""
    job = service.cancel_job(platform.db, principal, project, job_id)
    _wake_dispatcher(request)
    return JobOut.of_job(job)


@router.post("/{job_id}/report")
def report_job(
    project: str,
    job_id: str,
    body: JobReport,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> JobOut:
    """Used by the job's own process: it started (RUNNING), its result, or its failure."""
    job = service.report(
        platform.db,
        principal,
        project,
        job_id,
        status=None if body.status is None else JobStatus(body.status),
        result=body.result,
        failure=body.failure,
    )
    return JobOut.of_job(job)
