"""The dispatcher: claims queued jobs, launches them, watches them to the end.

One loop, run by ``griffin worker``, inside ``griffin server`` (setting ``server_dispatcher``)
or in the foreground by a command that waits for one job (:meth:`Dispatcher.run_until_done`).
Each :meth:`~Dispatcher.step`:

1. records the worker's heartbeat (and touches the jobs it supervises);
2. reconciles jobs whose worker stopped sending heartbeats: adopts their processes when they
   still run, records how they ended when they did, queues them again when they never started;
3. polls each supervised process: ships new log bytes to the artifact store, moves the job to
   RUNNING, enforces its timeout, acts on a cancel request, and records its final state;
4. claims and launches queued jobs up to ``max_jobs``.

Only infrastructure failures are retried (a launcher that cannot start the job, a process
killed by a signal Griffin did not send, a process that vanished without a word), with an
exponential backoff; a failure of the job's own code never is.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update

from griffin.accounts.service import issue_job_token, revoke_job_tokens
from griffin.domain.ids import new_id
from griffin.domain.jobs import Job, JobKind, JobSpec, JobStatus
from griffin.errors import BackendUnavailable, GriffinError, InvalidArgument, NotSupported
from griffin.launcher import Handle, Launcher, LaunchRequest, open_launcher
from griffin.platform import Platform
from griffin.store import jobs as store
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.base import utcnow
from griffin.store.orm.jobs import JobRow
from griffin.training import jobs as service

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)

ACTIVE = (JobStatus.STARTING, JobStatus.RUNNING)
_LOG_CHUNK = 1024 * 1024
# After a cancel or a timeout, how long past the launcher's grace period a process may take to
# go before the job is recorded as ended anyway.
_END_SLACK_S = 5.0


@dataclass
class _Supervised:
    """A job this dispatcher watches: its process handle and how much log was shipped."""

    job_id: str
    project: str
    project_id: str
    attempt: int
    spec: JobSpec
    handle: Handle
    started: float  # time.monotonic() when supervision of this attempt began
    elapsed_before: float = 0.0  # seconds it had already run (an adopted job)
    log_offset: int = 0
    log_seq: int = 0
    ending: tuple[JobStatus, str] | None = None
    ending_since: float = 0.0


class Dispatcher:
    """Claims, launches and supervises jobs of the given backends.

    Args:
        platform: the opened platform (metadata database, artifact store, settings).
        worker_id: this dispatcher's id in the ``workers`` table; a new unique one by default.
        backends: launcher names it runs jobs for (``local`` by default).
        max_jobs: jobs it runs at once (setting ``job_max_parallel`` by default).
        poll_interval: seconds between steps (setting ``job_poll_interval_s`` by default);
            a step also comes at once after :meth:`wake` (a submitted job, a process that
            exited).
        api_url: the REST API the job processes talk to (``GRIFFIN_URL``), when the settings
            name none: a server's own address, so a job's client is a light HTTP client
            instead of an embedded store of its own.
    """

    def __init__(
        self,
        platform: Platform,
        worker_id: str | None = None,
        backends: tuple[str, ...] | list[str] = ("local",),
        max_jobs: int | None = None,
        poll_interval: float | None = None,
        api_url: str | None = None,
    ) -> None:
        self.platform = platform
        self.settings = platform.settings
        self.hostname = socket.gethostname()
        self.worker_id = worker_id or f"{self.hostname}-{os.getpid()}-{new_id()[:8]}"
        self.backends = tuple(dict.fromkeys(backends)) or ("local",)
        self.max_jobs = max_jobs or self.settings.job_max_parallel
        self.poll_interval = poll_interval or self.settings.job_poll_interval_s
        self.api_url = self.settings.url or api_url
        self._wake = threading.Event()
        # Jobs get tokens of their own where the API needs them: the store requires them, or
        # this dispatcher was itself given one (its jobs' API, GRIFFIN_URL, wants them).
        self.job_tokens = self.settings.auth == "required" or self.settings.token is not None
        # Resolved now, so a wrong backend name fails at start-up, not at the first job.
        self.launchers: dict[str, Launcher] = {
            name: open_launcher(name, self.settings) for name in self.backends
        }
        for launcher in self.launchers.values():
            launcher.on_change = self.wake
        self.claiming = True
        self.left_running = 0
        self._jobs: dict[str, _Supervised] = {}
        self._only: set[str] | None = None

    @property
    def supervised(self) -> list[str]:
        """Ids of the jobs this dispatcher is watching now."""
        return list(self._jobs)

    # -- the loop ---------------------------------------------------------------------------

    def wake(self) -> None:
        """Take the next step now rather than after the poll interval (any thread may call)."""
        self._wake.set()

    def _pause(self) -> None:
        self._wake.wait(self.poll_interval)
        self._wake.clear()

    def run_forever(self, stop: threading.Event) -> None:
        """Step every ``poll_interval`` seconds until ``stop`` is set, then :meth:`shutdown`.

        Running jobs are left running: the next dispatcher on this host adopts them.
        """
        for launcher in self.launchers.values():
            launcher.prepare()
        try:
            while not stop.is_set():
                try:
                    self.step()
                except GriffinError as exc:
                    log.warning("dispatcher %s: %s", self.worker_id, exc.message)
                except Exception:
                    log.exception("dispatcher %s: step failed", self.worker_id)
                if not stop.is_set():
                    self._pause()
        finally:
            self.shutdown()

    def run_until_done(self, job_id: str, timeout: float | None = None) -> Job:
        """Run the loop in the foreground for one job until it ends (or ``timeout`` passes).

        Only that job is claimed and reconciled. Returns the job as it then is; when the
        timeout passed first, it is still running and another dispatcher will adopt it.
        """
        self._only = {job_id}
        with self.platform.db.session() as session:
            single = store.get(session, job_id).spec.kind != JobKind.SWEEP
        for launcher in self.launchers.values():
            launcher.expect_more = not single  # a sweep's trials follow it
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                self.step()
                with self.platform.db.session() as session:
                    job = store.get(session, job_id)
                if job.status.is_terminal:
                    return job
                if deadline is not None and time.monotonic() >= deadline:
                    return job
                self._pause()
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop claiming, ship what the processes wrote, and mark this worker stopped.

        Running processes are left alone (they belong to the job, not to this worker); a
        worker marked stopped has its jobs adopted by the next dispatcher at once.
        """
        self.claiming = False
        self.left_running = len(self._jobs)
        for job in list(self._jobs.values()):
            try:
                self._ship_logs(job)
            except GriffinError as exc:
                log.warning("job %s: could not ship its log: %s", job.job_id, exc.message)
        self._jobs.clear()
        try:
            with self.platform.db.session(write=True) as session:
                store.stop_worker(session, self.worker_id)
        except GriffinError as exc:
            log.warning("dispatcher %s: could not record its stop: %s", self.worker_id, exc)
        for launcher in self.launchers.values():
            launcher.close()

    def step(self) -> None:
        """One iteration: heartbeat, reconcile, supervise, claim (see the module's docs)."""
        self._heartbeat()
        self._reconcile()
        self._supervise_all()
        if self.claiming:
            self._claim()

    # -- heartbeat and reconciliation -------------------------------------------------------

    def _heartbeat(self) -> None:
        with self.platform.db.session(write=True) as session:
            store.heartbeat_worker(
                session,
                self.worker_id,
                hostname=self.hostname,
                pid=os.getpid(),
                backends=self.backends,
                job_ids=list(self._jobs),
            )

    def _reconcile(self) -> None:
        """Take over active jobs whose worker is gone (no heartbeat, or stopped)."""
        cutoff = utcnow() - timedelta(seconds=self.settings.job_heartbeat_timeout_s)
        with self.platform.db.session() as session:
            live = store.live_workers(session, cutoff) | {self.worker_id}
            query = (
                select(JobRow, ProjectRow.name)
                .join(ProjectRow, ProjectRow.id == JobRow.project_id)
                .where(
                    JobRow.status.in_([str(s) for s in ACTIVE]),
                    JobRow.backend.in_(self.backends),
                    or_(JobRow.worker_id.is_(None), JobRow.worker_id.not_in(sorted(live))),
                )
                .order_by(JobRow.created_at)
            )
            if self._only is not None:
                query = query.where(JobRow.id.in_(sorted(self._only)))
            orphans = [(row, name) for row, name in session.execute(query)]
        for row, project in orphans:
            try:
                self._adopt(row, project)
            except GriffinError as exc:
                log.warning("job %s: reconciliation failed: %s", row.id, exc.message)

    def _adopt(self, row: JobRow, project: str) -> None:
        lost = row.worker_id or "(none)"
        status = JobStatus(row.status)
        now = utcnow()
        with self.platform.db.session(write=True) as session:
            claim = update(JobRow).where(JobRow.id == row.id, JobRow.status == str(status))
            claim = claim.where(
                JobRow.worker_id.is_(None) if row.worker_id is None else JobRow.worker_id == lost
            )
            result = session.execute(
                claim.values(worker_id=self.worker_id, heartbeat_at=now).execution_options(
                    synchronize_session=False
                )
            )
            if getattr(result, "rowcount", 0) != 1:
                return  # another dispatcher took it first
            reason = f"adopted by worker {self.worker_id} after worker {lost} was lost"
            store.add_event(session, row.id, status, status, reason, self.worker_id, now)
        log.info("job %s: %s", row.id, reason)
        launcher = self.launchers[row.backend]
        handle = row.handle
        if handle is None:
            try:
                handle = launcher.recover(row.id, row.attempt)
            except NotSupported:
                handle = None
            if handle is None:
                self._move(
                    row.id,
                    JobStatus.QUEUED,
                    f"worker {lost} was lost before it launched the job; queued again",
                    worker_id=None,
                    handle=None,
                    started_at=None,
                )
                return
            self._record_handle(row.id, handle)
        try:
            launcher.status(handle)
        except NotSupported as exc:
            self._move(row.id, JobStatus.FAILED, f"worker {lost} was lost and {exc.message}")
            return
        spec = JobSpec.from_json(row.spec)
        started = row.started_at or now
        job = _Supervised(
            job_id=row.id,
            project=project,
            project_id=row.project_id,
            attempt=row.attempt,
            spec=spec,
            handle=handle,
            started=time.monotonic(),
            elapsed_before=max(0.0, (now - started).total_seconds()),
        )
        shipped = self.platform.artifacts.list(
            service.log_prefix(row.project_id, row.id, row.attempt)
        )
        job.log_offset = sum(chunk.size for chunk in shipped)
        job.log_seq = len(shipped)
        self._jobs[row.id] = job

    # -- supervision ------------------------------------------------------------------------

    def _supervise_all(self) -> None:
        if not self._jobs:
            return
        with self.platform.db.session() as session:
            rows = {
                r.id: r
                for r in session.scalars(select(JobRow).where(JobRow.id.in_(list(self._jobs))))
            }
        for job in list(self._jobs.values()):
            try:
                self._supervise(job, rows.get(job.job_id))
            except GriffinError as exc:
                log.warning("job %s: supervision failed: %s", job.job_id, exc.message)

    def _supervise(self, job: _Supervised, row: JobRow | None) -> None:
        launcher = self.launchers[job.spec.backend]
        if row is None or row.worker_id != self.worker_id or JobStatus(row.status) not in ACTIVE:
            # Deleted, adopted by another worker (this one was presumed dead), or ended by
            # someone else: stop watching. A process of a job that ended must not run on.
            if row is not None and row.worker_id == self.worker_id:
                launcher.cancel(job.handle)
            if self.job_tokens and (row is None or JobStatus(row.status) not in ACTIVE):
                revoke_job_tokens(self.platform.db, job.job_id)
            self._ship_logs(job)
            self._jobs.pop(job.job_id, None)
            return
        state = launcher.status(job.handle)
        self._ship_logs(job)
        status = JobStatus(row.status)
        if state.state == "running":
            self._while_running(job, row, status)
            return
        if job.ending is not None:
            self._finish(job, *job.ending)
        elif state.state == "succeeded":
            self._finish(job, JobStatus.SUCCEEDED, state.message)
        elif state.state == "failed":
            if row.failure:
                self._finish(job, JobStatus.FAILED, row.failure)
            elif state.exit_code is not None and state.exit_code > 128:
                self._retry_or_fail(job, row, f"{state.message}, which Griffin did not send")
            else:
                self._finish(
                    job,
                    JobStatus.FAILED,
                    f"{state.message}; see `griffin jobs logs {job.job_id}`",
                )
        elif row.failure:
            self._finish(job, JobStatus.FAILED, row.failure)
        elif row.result is not None:
            self._finish(job, JobStatus.SUCCEEDED, f"it reported its result; then {state.message}")
        else:
            self._retry_or_fail(job, row, state.message)

    def _while_running(self, job: _Supervised, row: JobRow, status: JobStatus) -> None:
        launcher = self.launchers[job.spec.backend]
        if job.ending is not None:
            grace = float(getattr(launcher, "grace_s", 10.0))
            if time.monotonic() - job.ending_since > grace + _END_SLACK_S:
                ending, reason = job.ending
                self._finish(job, ending, f"{reason} (its process did not stop)")
            return
        elapsed = job.elapsed_before + time.monotonic() - job.started
        if row.cancel_requested:
            launcher.cancel(job.handle)
            job.ending = (JobStatus.CANCELLED, "cancelled at a user's request")
            job.ending_since = time.monotonic()
        elif job.spec.timeout_s is not None and elapsed > job.spec.timeout_s:
            launcher.cancel(job.handle)
            job.ending = (
                JobStatus.TIMED_OUT,
                f"stopped after running longer than its timeout of {job.spec.timeout_s} s",
            )
            job.ending_since = time.monotonic()
        elif status == JobStatus.STARTING:
            self._move(job.job_id, JobStatus.RUNNING, "the process is running")

    def _finish(self, job: _Supervised, status: JobStatus, reason: str) -> None:
        self._ship_logs(job)
        self._move(job.job_id, status, reason)
        self._jobs.pop(job.job_id, None)

    def _retry_or_fail(self, job: _Supervised, row: JobRow, why: str) -> None:
        """An infrastructure failure: queue the next attempt if retries remain, else fail."""
        self._jobs.pop(job.job_id, None)
        self._retry(job.job_id, row.attempt, job.spec, why)

    def _retry(self, job_id: str, attempt: int, spec: JobSpec, why: str) -> None:
        if attempt <= spec.retries:
            delay = self.settings.job_retry_backoff_s * 2 ** (attempt - 1)
            reason = (
                f"attempt {attempt} failed: {why}; retrying as attempt {attempt + 1} of "
                f"{spec.retries + 1} in {delay:g} s"
            )
            self._move(
                job_id,
                JobStatus.QUEUED,
                reason,
                attempt=attempt + 1,
                worker_id=None,
                handle=None,
                result=None,
                failure=None,
                started_at=None,
                not_before=utcnow() + timedelta(seconds=delay),
            )
        else:
            tries = f" (after {attempt} attempts)" if attempt > 1 else ""
            self._move(job_id, JobStatus.FAILED, why + tries)

    def _move(self, job_id: str, new: JobStatus, reason: str, **values: Any) -> JobStatus | None:
        """Move one of this worker's active jobs to ``new``; None when it was no longer ours.

        An attempt that ends (or is queued again) loses its API token.
        """
        moved = service.transition(
            self.platform.db,
            job_id,
            [s for s in ACTIVE if s != new],
            new,
            reason,
            by=self.worker_id,
            only_worker=self.worker_id,
            **values,
        )
        if moved is not None and new not in ACTIVE and self.job_tokens:
            revoke_job_tokens(self.platform.db, job_id)
        return moved

    def _ship_logs(self, job: _Supervised) -> None:
        """Copy what the process wrote since the last call to the artifact store, in chunks."""
        launcher = self.launchers[job.spec.backend]
        prefix = service.log_prefix(job.project_id, job.job_id, job.attempt)
        while True:
            try:
                data = launcher.logs(job.handle, job.log_offset)
            except NotSupported:
                return
            if not data:
                return
            key = f"{prefix}/{job.log_seq:08d}"
            self.platform.artifacts.write_stream(key, [data], max_bytes=len(data))
            job.log_offset += len(data)
            job.log_seq += 1
            if len(data) < _LOG_CHUNK:
                return

    # -- claiming and launching -------------------------------------------------------------

    def _claim(self) -> None:
        if self._only is not None:
            self._only |= self._children(self._only)
        only = None if self._only is None else sorted(self._only)
        # A sweep only waits for its trials: it takes no slot, so a sweep can never hold the
        # last slot its own trials need.
        while sum(j.spec.kind != JobKind.SWEEP for j in self._jobs.values()) < self.max_jobs:
            job = service.claim_next(self.platform.db, self.worker_id, self.backends, job_ids=only)
            if job is None:
                return
            self._launch(job)

    def _children(self, parents: set[str]) -> set[str]:
        """Ids of the jobs a sweep among ``parents`` submitted (run_until_done runs them too)."""
        with self.platform.db.session() as session:
            query = select(JobRow.id).where(JobRow.parent_job_id.in_(sorted(parents)))
            return set(session.scalars(query))

    def _environment(self, job: Job) -> dict[str, str]:
        """The process's environment: this one, plus the settings that reach the same store.

        With ``api_url`` the job talks to that server over HTTP. When the store requires
        tokens, the job gets a token of its own (its submitter's, as an editor of its
        project), revoked when the attempt ends: never the worker's own.
        """
        settings = self.settings
        env = dict(os.environ)
        env.update(
            {
                "GRIFFIN_HOME": str(settings.home),
                "GRIFFIN_DATABASE_URL": settings.resolved_database_url,
                "GRIFFIN_ARTIFACT_ROOT": settings.resolved_artifact_root,
                "GRIFFIN_ONLINE_STORE": settings.resolved_online_store,
                "GRIFFIN_OFFLINE_ROOT": settings.resolved_offline_root,
                "GRIFFIN_PROJECT": job.project,
                "GRIFFIN_JOB_ID": job.id,
                "GRIFFIN_JOB_ATTEMPT": str(job.attempt),
            }
        )
        env.pop("GRIFFIN_TOKEN", None)
        if self.api_url:
            env["GRIFFIN_URL"] = self.api_url
        if self.job_tokens:
            env["GRIFFIN_TOKEN"] = issue_job_token(
                self.platform.db, job.created_by, job.project, job.id, job.attempt
            )
        return env

    def _launch(self, job: Job) -> None:
        launcher = self.launchers[job.spec.backend]
        with self.platform.db.session() as session:
            project_id = session.scalar(select(JobRow.project_id).where(JobRow.id == job.id))
        assert project_id is not None
        request = LaunchRequest(
            job_id=job.id,
            project=job.project,
            attempt=job.attempt,
            argv=service.command_for(job),
            env=self._environment(job),
            working_dir=self.settings.resolved_jobs_root / job.id / "work",
            resources=job.spec.resources,
            timeout_s=job.spec.timeout_s,
            runtime=job.spec.runtime,
        )
        try:
            handle = launcher.submit(request)
        except InvalidArgument as exc:
            self._move(job.id, JobStatus.FAILED, exc.message)
            return
        except BackendUnavailable as exc:
            self._retry(job.id, job.attempt, job.spec, exc.message)
            return
        except GriffinError as exc:
            self._move(job.id, JobStatus.FAILED, exc.message)
            return
        except Exception as exc:
            log.exception("job %s: the %s launcher failed", job.id, job.spec.backend)
            self._move(job.id, JobStatus.FAILED, f"the {job.spec.backend} launcher failed: {exc}")
            return
        self._record_handle(job.id, handle)
        self._jobs[job.id] = _Supervised(
            job_id=job.id,
            project=job.project,
            project_id=project_id,
            attempt=job.attempt,
            spec=job.spec,
            handle=handle,
            started=time.monotonic(),
        )

    def _record_handle(self, job_id: str, handle: Handle) -> None:
        with self.platform.db.session(write=True) as session:
            session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.worker_id == self.worker_id)
                .values(handle=handle)
                .execution_options(synchronize_session=False)
            )
