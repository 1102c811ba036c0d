"""The dispatcher with real local processes, on SQLite and PostgreSQL.

The job's code is ``jobfixtures`` (a stand-in for ``griffin.runtime``) whose behaviour each
test picks through the spec's params.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from jobfixtures import read_job, use_fixture_entrypoint, wait_for
from pydantic import SecretStr
from sqlalchemy import update

from griffin.accounts.service import authenticate, list_tokens
from griffin.config import Settings
from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.domain.jobs import JobStatus
from griffin.errors import BackendUnavailable, Unauthenticated
from griffin.launcher.local import LocalLauncher, _alive
from griffin.platform import Platform, open_platform
from griffin.store.orm.base import utcnow
from griffin.store.orm.jobs import JobRow, WorkerRow
from griffin.training import jobs
from griffin.training.dispatcher import Dispatcher

ADMIN = Principal("ana", ALL_PROJECTS, Role.ADMIN)


@pytest.fixture
def jobs_platform(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    use_fixture_entrypoint(monkeypatch)
    opened = open_platform(
        settings.model_copy(
            update={
                "job_poll_interval_s": 0.05,
                "job_retry_backoff_s": 0.0,
                "job_cancel_grace_s": 0.5,
                "job_heartbeat_timeout_s": 2.0,
            }
        )
    )
    yield opened
    opened.close()


def _submit(platform: Platform, **spec: Any) -> str:
    return jobs.submit_job(platform.db, ADMIN, "default", {"model": "m", **spec}).id


def _statuses(platform: Platform, job_id: str) -> list[JobStatus]:
    return [e.to_status for e in jobs.job_events(platform.db, ADMIN, "default", job_id)]


def _log(platform: Platform, job_id: str, attempt: int | None = None) -> str:
    found = jobs.job_logs(
        platform.db, platform.artifacts, ADMIN, "default", job_id, attempt=attempt
    )
    return found.data.decode()


def test_a_job_runs_to_success_with_its_logs_and_result(jobs_platform: Platform) -> None:
    job_id = _submit(jobs_platform, params={"lines": 3})
    job = Dispatcher(jobs_platform).run_until_done(job_id, timeout=60)
    assert job.status is JobStatus.SUCCEEDED, job.status_reason
    assert job.result == {"model": "m", "version": 1}
    assert job.ended_at is not None
    assert job.handle is not None
    assert job.handle["pid"] > 0
    assert _statuses(jobs_platform, job_id) == [
        JobStatus.QUEUED,
        JobStatus.STARTING,
        JobStatus.RUNNING,
        JobStatus.SUCCEEDED,
    ]
    log = _log(jobs_platform, job_id)
    assert f"attempt 1 of job {job_id} in work" in log
    assert "line 0\nline 1\nline 2\ndone\n" in log


@pytest.mark.parametrize("why", ["worker token", "auth required"])
def test_a_job_gets_a_token_of_its_own_revoked_when_it_ends(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    """Jobs get tokens when the dispatcher holds one (a worker talking to a server) and when
    the store requires tokens (a server's own dispatcher, which holds none)."""
    use_fixture_entrypoint(monkeypatch)
    worker_secret = "gft_the_workers_own"
    update: dict[str, object] = {"job_poll_interval_s": 0.05}
    if why == "worker token":
        update["token"] = SecretStr(worker_secret)
    else:
        update["auth"] = "required"
    platform = open_platform(settings.model_copy(update=update))
    try:
        eve = Principal("eve", "default", Role.EDITOR)
        job_id = jobs.submit_job(
            platform.db, eve, "default", {"model": "m", "params": {"show_token": True}}
        ).id
        job = Dispatcher(platform).run_until_done(job_id, timeout=60)
        assert job.status is JobStatus.SUCCEEDED, job.status_reason
        found = re.search(r"token=(\S*)", _log(platform, job_id))
        assert found is not None
        secret = found.group(1)
        assert secret
        assert secret != worker_secret
        # It was eve's, an editor of the job's project only, and it died with the job.
        [token] = [
            t
            for t in list_tokens(platform.db, None, "default")
            if t.description.startswith(f"job {job_id} ")
        ]
        assert (token.user, token.project, token.role) == ("eve", "default", Role.EDITOR)
        assert token.revoked_at is not None
        with pytest.raises(Unauthenticated):
            authenticate(platform.db, secret)
    finally:
        platform.close()


def test_a_failure_of_the_jobs_code_is_never_retried(jobs_platform: Platform) -> None:
    reported = _submit(jobs_platform, params={"mode": "fail"}, retries=3)
    job = Dispatcher(jobs_platform).run_until_done(reported, timeout=60)
    assert job.status is JobStatus.FAILED
    assert job.status_reason == "boom: the learning rate is too high"
    assert job.attempt == 1
    assert "failing" in _log(jobs_platform, reported)
    silent = _submit(jobs_platform, params={"mode": "crash"}, retries=3)
    job = Dispatcher(jobs_platform).run_until_done(silent, timeout=60)
    assert job.status is JobStatus.FAILED
    assert job.status_reason == f"process exited with code 4; see `griffin jobs logs {silent}`"
    assert job.attempt == 1


def test_a_process_killed_by_a_stranger_is_retried(jobs_platform: Platform) -> None:
    job_id = _submit(jobs_platform, params={"mode": "flaky"}, retries=2)
    job = Dispatcher(jobs_platform).run_until_done(job_id, timeout=60)
    assert job.status is JobStatus.SUCCEEDED, job.status_reason
    assert job.attempt == 2
    assert job.result == {"model": "m", "version": 2}
    events = jobs.job_events(jobs_platform.db, ADMIN, "default", job_id)
    retry = next(e for e in events if e.to_status is JobStatus.QUEUED and e.from_status)
    assert "attempt 1 failed: process was killed by SIGKILL" in retry.reason
    assert "retrying as attempt 2 of 3" in retry.reason
    assert "attempt 1 of job" in _log(jobs_platform, job_id, attempt=1)
    assert "attempt 2 of job" in _log(jobs_platform, job_id)


def test_retries_run_out(jobs_platform: Platform) -> None:
    job_id = _submit(jobs_platform, params={"mode": "killself"}, retries=1)
    job = Dispatcher(jobs_platform).run_until_done(job_id, timeout=60)
    assert job.status is JobStatus.FAILED
    assert job.attempt == 2
    assert job.status_reason.endswith("(after 2 attempts)")


def test_backoff_delays_the_next_attempt(
    jobs_platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def unavailable(self: LocalLauncher, request: Any) -> dict[str, Any]:
        calls.append(request.attempt)
        raise BackendUnavailable("no capacity right now")

    monkeypatch.setattr(LocalLauncher, "submit", unavailable)
    platform = jobs_platform
    dispatcher = Dispatcher(platform)
    dispatcher.settings = platform.settings.model_copy(update={"job_retry_backoff_s": 30.0})
    job_id = _submit(platform, retries=1)
    dispatcher.step()
    job = read_job(platform, job_id)
    assert (job.status, job.attempt, calls) == (JobStatus.QUEUED, 2, [1])
    assert job.not_before is not None
    assert job.not_before > utcnow() + timedelta(seconds=25)
    dispatcher.step()  # not due yet: nothing is claimed
    assert calls == [1]
    assert read_job(platform, job_id).status is JobStatus.QUEUED


def test_a_launch_refused_for_the_jobs_own_fault_fails_at_once(jobs_platform: Platform) -> None:
    job_id = _submit(jobs_platform, runtime="no-such-runtime", retries=3)
    job = Dispatcher(jobs_platform).run_until_done(job_id, timeout=30)
    assert job.status is JobStatus.FAILED
    assert "unknown runtime 'no-such-runtime'" in job.status_reason
    assert job.attempt == 1


def test_timeout_stops_the_job(jobs_platform: Platform) -> None:
    job_id = _submit(jobs_platform, params={"seconds": 60}, timeout_s=1)
    job = Dispatcher(jobs_platform).run_until_done(job_id, timeout=30)
    assert job.status is JobStatus.TIMED_OUT
    assert "timeout of 1 s" in job.status_reason
    assert job.handle is not None
    assert not _alive(job.handle["pid"], job.handle["start_time"])


def test_cancel_stops_a_running_job(jobs_platform: Platform) -> None:
    job_id = _submit(jobs_platform, params={"seconds": 60})
    dispatcher = Dispatcher(jobs_platform)
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: read_job(jobs_platform, job_id).status is JobStatus.RUNNING)
        jobs.cancel_job(jobs_platform.db, ADMIN, "default", job_id)
        wait_for(lambda: read_job(jobs_platform, job_id).status.is_terminal, timeout=15)
    finally:
        stop.set()
        thread.join(15)
    job = read_job(jobs_platform, job_id)
    assert job.status is JobStatus.CANCELLED
    assert job.status_reason == "cancelled at a user's request"
    assert job.handle is not None
    assert not _alive(job.handle["pid"], job.handle["start_time"])


def _crash(platform: Platform, dispatcher: Dispatcher) -> None:
    """Abandon a dispatcher as a crash would (no shutdown), its heartbeat long gone."""
    with platform.db.session(write=True) as session:
        session.execute(
            update(WorkerRow)
            .where(WorkerRow.id == dispatcher.worker_id)
            .values(heartbeat_at=utcnow() - timedelta(hours=1))
        )


def _step_until(dispatcher: Dispatcher, platform: Platform, job_id: str, status: JobStatus) -> None:
    def reached() -> bool:
        dispatcher.step()
        return read_job(platform, job_id).status is status

    wait_for(reached, timeout=30)


def test_a_new_dispatcher_adopts_a_running_job_after_a_crash(jobs_platform: Platform) -> None:
    job_id = _submit(jobs_platform, params={"seconds": 1.5, "lines": 2})
    first = Dispatcher(jobs_platform, worker_id="first")
    _step_until(first, jobs_platform, job_id, JobStatus.RUNNING)
    _crash(jobs_platform, first)
    second = Dispatcher(jobs_platform, worker_id="second")
    job = second.run_until_done(job_id, timeout=60)
    assert job.status is JobStatus.SUCCEEDED, job.status_reason
    assert job.worker_id == "second"
    events = jobs.job_events(jobs_platform.db, ADMIN, "default", job_id)
    adopted = [e for e in events if e.reason.startswith("adopted")]
    assert len(adopted) == 1
    assert adopted[0].reason == "adopted by worker second after worker first was lost"
    assert adopted[0].from_status is adopted[0].to_status is JobStatus.RUNNING
    assert events[-1].worker_id == "second"
    log = _log(jobs_platform, job_id)
    assert log.count("attempt 1 of job") == 1  # no byte shipped twice, none lost
    assert log.endswith("line 0\nline 1\ndone\n")


def test_a_job_that_ended_while_nobody_watched_gets_its_true_end(
    jobs_platform: Platform,
) -> None:
    job_id = _submit(jobs_platform, params={"mode": "crash", "seconds": 0.5})
    first = Dispatcher(jobs_platform, worker_id="first")
    _step_until(first, jobs_platform, job_id, JobStatus.RUNNING)
    _crash(jobs_platform, first)
    handle = read_job(jobs_platform, job_id).handle
    assert handle is not None
    wait_for(lambda: not _alive(handle["pid"], handle["start_time"]))
    job = Dispatcher(jobs_platform, worker_id="second").run_until_done(job_id, timeout=30)
    assert job.status is JobStatus.FAILED
    assert job.status_reason.startswith("process exited with code 4")
    assert job.attempt == 1


def test_a_claimed_job_never_launched_is_queued_again(jobs_platform: Platform) -> None:
    job_id = _submit(jobs_platform)
    claimed = jobs.claim_next(jobs_platform.db, "ghost", ["local"])
    assert claimed is not None  # ...and the worker "ghost" died before launching it
    job = Dispatcher(jobs_platform, worker_id="second").run_until_done(job_id, timeout=60)
    assert job.status is JobStatus.SUCCEEDED, job.status_reason
    assert job.attempt == 1
    reasons = [e.reason for e in jobs.job_events(jobs_platform.db, ADMIN, "default", job_id)]
    assert "worker ghost was lost before it launched the job; queued again" in reasons


def test_a_launch_whose_handle_was_never_recorded_is_found(jobs_platform: Platform) -> None:
    job_id = _submit(jobs_platform, params={"seconds": 0.5})
    first = Dispatcher(jobs_platform, worker_id="first")
    first._record_handle = lambda job_id, handle: None  # type: ignore[method-assign]
    first.step()  # claims and launches, then "dies" before recording the handle
    _crash(jobs_platform, first)
    assert read_job(jobs_platform, job_id).handle is None
    job = Dispatcher(jobs_platform, worker_id="second").run_until_done(job_id, timeout=60)
    assert job.status is JobStatus.SUCCEEDED, job.status_reason
    assert job.handle is not None
    statuses = _statuses(jobs_platform, job_id)
    assert statuses.count(JobStatus.STARTING) == 2  # claimed, then adopted: launched once
    assert JobStatus.QUEUED not in statuses[1:]


def test_a_job_on_another_host_fails_once_its_worker_is_lost(jobs_platform: Platform) -> None:
    job_id = _submit(jobs_platform)
    jobs.claim_next(jobs_platform.db, "remote", ["local"])
    handle = {"hostname": "elsewhere", "pid": 1, "pgid": 1, "start_time": 1}
    with jobs_platform.db.session(write=True) as session:
        session.execute(update(JobRow).where(JobRow.id == job_id).values(handle=handle))
    job = Dispatcher(jobs_platform, worker_id="here").run_until_done(job_id, timeout=30)
    assert job.status is JobStatus.FAILED
    assert job.status_reason.startswith("worker remote was lost and the local process")
    assert "'elsewhere'" in job.status_reason


def test_a_live_workers_jobs_are_left_alone(jobs_platform: Platform) -> None:
    job_id = _submit(jobs_platform, params={"seconds": 1})
    first = Dispatcher(jobs_platform, worker_id="first")
    _step_until(first, jobs_platform, job_id, JobStatus.RUNNING)
    other = Dispatcher(jobs_platform, worker_id="other")
    other.step()
    assert other.supervised == []
    assert read_job(jobs_platform, job_id).worker_id == "first"
    _step_until(first, jobs_platform, job_id, JobStatus.SUCCEEDED)
    first.shutdown()
    other.shutdown()
