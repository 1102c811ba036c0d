"""Jobs through the SDK, over both transports: submit, list, show, cancel, logs, wait."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sdk_helpers import Connect

from griffin.client import Client
from griffin.config import Settings
from griffin.domain.jobs import JobSpec, JobStatus
from griffin.errors import Conflict, InvalidArgument, NotFound
from griffin.platform import open_platform
from griffin.training.dispatcher import Dispatcher

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))
from jobfixtures import use_fixture_entrypoint

FAST = {"job_poll_interval_s": 0.05, "job_retry_backoff_s": 0.0, "job_cancel_grace_s": 0.5}


def test_submit_list_show_cancel(connect: Connect) -> None:
    client = connect(server_dispatcher=False)
    job = client.submit_job(model="churn", params={"lr": 0.1}, tags={"team": "eta"})
    assert job.status is JobStatus.QUEUED
    assert job.spec.params == {"lr": 0.1}
    spec = JobSpec.from_json({"model": "churn", "kind": "evaluate"})
    other = client.submit_job(spec, retries=2)
    assert (other.spec.kind, other.spec.retries) == ("evaluate", 2)
    assert client.get_job(job.id) == job
    assert [j.id for j in client.list_jobs()] == [other.id, job.id]
    assert [j.id for j in client.list_jobs(kind="evaluate")] == [other.id]
    assert [j.id for j in client.list_jobs(limit=1)] == [other.id]
    cancelled = client.cancel_job(job.id)
    assert cancelled.status is JobStatus.CANCELLED
    assert [j.id for j in client.list_jobs(status="CANCELLED")] == [job.id]
    with pytest.raises(Conflict, match="already CANCELLED"):
        client.cancel_job(job.id)
    events = client.job_events(job.id)
    assert [e.to_status for e in events] == [JobStatus.QUEUED, JobStatus.CANCELLED]
    assert client.job_logs(job.id) == (b"", 0)
    assert client.wait_job(job.id, timeout=1).status is JobStatus.CANCELLED
    with pytest.raises(TimeoutError, match="still QUEUED"):
        client.wait_job(other.id, timeout=0.1, poll=0.05)
    with pytest.raises(NotFound):
        client.get_job("missing")
    with pytest.raises(InvalidArgument, match="timeout_s"):
        client.submit_job(model="m", timeout_s=-1)


@pytest.fixture
def running_dispatcher(
    transport: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Jobs run: over HTTP by the server's own dispatcher, in-process by one started here."""
    use_fixture_entrypoint(monkeypatch)
    if transport == "http":
        yield
        return
    platform = open_platform(settings.model_copy(update=FAST))
    stop = threading.Event()
    thread = threading.Thread(target=Dispatcher(platform).run_forever, args=(stop,), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(15)
    platform.close()


@pytest.mark.usefixtures("running_dispatcher")
def test_a_job_runs_and_its_logs_follow(connect: Connect) -> None:
    client: Client = connect(**FAST)
    job = client.submit_job(model="churn", params={"lines": 2, "seconds": 0.3})
    text = "".join(client.follow_logs(job.id, poll=0.05))
    assert f"attempt 1 of job {job.id}" in text
    assert text.endswith("line 0\nline 1\ndone\n")
    done = client.wait_job(job.id, timeout=30, poll=0.05)
    assert done.status is JobStatus.SUCCEEDED, done.status_reason
    assert done.result == {"model": "churn", "version": 1}
    data, offset = client.job_logs(job.id, offset=0)
    assert data.decode() == text
    assert client.job_logs(job.id, offset=offset) == (b"", offset)


@pytest.mark.usefixtures("running_dispatcher")
def test_a_running_job_is_cancelled(connect: Connect) -> None:
    client = connect(**FAST)
    job = client.submit_job(model="churn", params={"seconds": 60})
    deadline = 30.0
    start = time.monotonic()
    while client.get_job(job.id).status is not JobStatus.RUNNING:
        assert time.monotonic() - start < deadline
        time.sleep(0.05)
    asked = client.cancel_job(job.id)
    assert asked.cancel_requested
    done = client.wait_job(job.id, timeout=20, poll=0.05)
    assert done.status is JobStatus.CANCELLED


def test_report_from_inside_a_job(connect: Connect, settings: Settings) -> None:
    client = connect(server_dispatcher=False)
    job = client.submit_job(model="churn")
    from griffin.training import jobs as service

    platform = open_platform(settings)
    try:
        service.claim_next(platform.db, "w1", ["local"])
    finally:
        platform.close()
    assert client.report_job(job.id, status="RUNNING").status is JobStatus.RUNNING
    reported = client.report_job(job.id, result={"version": 4}, failure=None)
    assert reported.result == {"version": 4}
    failed = client.report_job(job.id, failure="out of memory")
    assert failed.failure == "out of memory"
