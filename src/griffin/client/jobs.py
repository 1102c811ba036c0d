"""Training jobs from the SDK: submit, follow, wait for, cancel, and (inside a job) report."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from griffin.client._base import ClientBase, segment
from griffin.domain.jobs import Job, JobEvent, JobKind, JobSpec, JobStatus
from griffin.errors import InvalidArgument

__all__ = ["JobsMixin"]

LOG_OFFSET_HEADER = "x-griffin-log-next-offset"
JOB_STATUS_HEADER = "x-griffin-job-status"


class JobsMixin(ClientBase):
    def _job_path(self, job_id: str) -> str:
        return f"{self._project_path()}/jobs/{segment(job_id)}"

    def submit_job(self, spec: JobSpec | Mapping[str, Any] | None = None, **fields: Any) -> Job:
        """Queue a job in the client's project; a dispatcher then claims and runs it.

        Give a :class:`~griffin.domain.jobs.JobSpec`, a mapping of its fields, or the fields
        as keyword arguments (keywords override the mapping)::

            job = client.submit_job(model="churn", params={"lr": 0.1}, timeout_s=3600)
            client.wait_job(job.id)

        The job runs only where a dispatcher runs: ``griffin server`` (by default) or
        ``griffin worker``.

        Returns:
            The job, QUEUED.

        Raises:
            InvalidArgument: a bad spec; the message names the field.
            PermissionDenied: the token cannot edit the project.
        """
        if isinstance(spec, JobSpec):
            body: dict[str, Any] = spec.to_json()
        else:
            body = dict(spec or {})
        body.update(fields)
        body = JobSpec.from_json(body).to_json()  # a bad spec fails here, before sending
        data = self._call("POST", f"{self._project_path()}/jobs", json=body, idempotent=False)
        return Job.from_json(data)

    def get_job(self, job_id: str) -> Job:
        """One job: its spec, status, attempt, handle and result.

        Raises:
            NotFound: no such job in the client's project.
        """
        return Job.from_json(self._call("GET", self._job_path(job_id)))

    def list_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        kind: JobKind | str | None = None,
        parent: str | None = None,
        limit: int | None = 100,
    ) -> list[Job]:
        """Jobs of the client's project, newest first.

        Args:
            status: only jobs in this status (``"RUNNING"``, ...).
            kind: only jobs of this kind (``"train"``, ...).
            parent: only the jobs spawned by this (sweep) job.
            limit: at most this many; None for all.
        """
        params = {
            "status": None if status is None else str(JobStatus(status)),
            "kind": None if kind is None else str(JobKind(kind)),
            "parent": parent,
        }
        return [
            Job.from_json(item)
            for item in self._pages(f"{self._project_path()}/jobs", params, limit)
        ]

    def job_events(self, job_id: str) -> list[JobEvent]:
        """A job's status history, oldest first: each change, its reason and its worker."""
        data = self._call("GET", f"{self._job_path(job_id)}/events")
        return [JobEvent.from_json(item) for item in data["items"]]

    def cancel_job(self, job_id: str) -> Job:
        """Cancel a job: a queued one is CANCELLED at once; a running one is stopped by its
        dispatcher (SIGTERM, then SIGKILL after a grace period) and then CANCELLED.

        Raises:
            Conflict: the job has already ended.
        """
        return Job.from_json(self._call("POST", f"{self._job_path(job_id)}/cancel"))

    def job_logs(
        self, job_id: str, offset: int = 0, attempt: int | None = None
    ) -> tuple[bytes, int]:
        """New bytes of a job's log from ``offset`` on, and the offset to ask for next.

        Logs reach Griffin every poll of the dispatcher (about a second). ``attempt`` picks a
        past attempt of a retried job; the current one by default.
        """
        response = self._transport.request(
            "GET",
            f"{self._job_path(job_id)}/logs",
            params={"offset": offset, "attempt": attempt},
        )
        return response.content, int(response.headers.get(LOG_OFFSET_HEADER, offset))

    def follow_logs(
        self, job_id: str, *, attempt: int | None = None, poll: float = 0.5
    ) -> Iterator[str]:
        """Yield a job's log as it grows, in pieces of text, until the job has ended.

        A retried job's log continues with its next attempt unless ``attempt`` is given.
        """
        offset = 0
        current = attempt
        while True:
            response = self._transport.request(
                "GET",
                f"{self._job_path(job_id)}/logs",
                params={"offset": offset, "attempt": current},
            )
            if response.content:
                yield response.content.decode("utf-8", errors="replace")
            offset = int(response.headers.get(LOG_OFFSET_HEADER, offset))
            status = JobStatus(response.headers.get(JOB_STATUS_HEADER, "QUEUED"))
            shown = int(response.headers.get("x-griffin-job-attempt", 1))
            if response.content:
                continue  # there may be more already
            if status.is_terminal:
                return
            if attempt is None:
                job = self.get_job(job_id)
                if job.attempt != shown:
                    current, offset = job.attempt, 0
                    continue
            time.sleep(poll)

    def wait_job(self, job_id: str, timeout: float | None = None, poll: float = 0.5) -> Job:
        """Wait until a job has ended and return it (check ``job.status``).

        Raises:
            TimeoutError: ``timeout`` seconds passed first (the job goes on).
        """
        if poll <= 0:
            raise InvalidArgument("poll must be more than 0 seconds", details={"field": "poll"})
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get_job(job_id)
            if job.status.is_terminal:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {job.status} after {timeout} s")
            time.sleep(poll)

    def report_job(
        self,
        job_id: str,
        *,
        status: JobStatus | str | None = None,
        result: Mapping[str, Any] | None = None,
        failure: str | None = None,
    ) -> Job:
        """Report from inside a job's process (its id is in ``GRIFFIN_JOB_ID``).

        Args:
            status: ``"RUNNING"`` once the job has started its work.
            result: on success, what it produced, e.g. ``{"model": "churn", "version": 3}``.
            failure: before exiting non-zero, one line saying why; it becomes the job's
                status reason.
        """
        body = {
            "status": None if status is None else str(JobStatus(status)),
            "result": None if result is None else dict(result),
            "failure": failure,
        }
        data = self._call("POST", f"{self._job_path(job_id)}/report", json=body, idempotent=True)
        return Job.from_json(data)
