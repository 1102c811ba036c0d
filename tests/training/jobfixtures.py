"""A stand-in for ``griffin.runtime`` in the job tests, and helpers to use it.

Run as ``python -m jobfixtures --job ID`` by the local launcher, it behaves as its job spec's
params say:

- ``mode``: ``succeed`` (default); ``fail`` (reports a reason, exits 3); ``crash`` (exits 4
  without a word); ``killself`` (SIGKILLs itself); ``flaky`` (SIGKILLs itself until attempt
  ``succeed_at``, default 2, then succeeds);
- ``seconds``: how long it sleeps first (in every mode);
- ``lines``: how many numbered lines it prints first;
- ``report_running``: whether it reports RUNNING (default true);
- ``show_token``: print the API token the job was given (``GRIFFIN_TOKEN``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

    from griffin.domain.jobs import Job
    from griffin.platform import Platform

HERE = Path(__file__).resolve().parent


def use_fixture_entrypoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every job kind run this module (importable by the child through PYTHONPATH)."""
    from griffin.training import jobs

    for kind in list(jobs.ENTRYPOINTS):
        monkeypatch.setitem(jobs.ENTRYPOINTS, kind, "jobfixtures")
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", f"{HERE}{os.pathsep}{path}" if path else str(HERE))


def wait_for(predicate: object, timeout: float = 30.0, interval: float = 0.05) -> None:
    """Wait until ``predicate()`` is true; fail the test after ``timeout`` seconds."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def read_job(platform: Platform, job_id: str) -> Job:
    from griffin.store import jobs as store

    with platform.db.session() as session:
        return store.get(session, job_id)


def main() -> None:
    import griffin

    parser = argparse.ArgumentParser()
    parser.add_argument("--job", required=True)
    args = parser.parse_args()
    attempt = int(os.environ["GRIFFIN_JOB_ATTEMPT"])
    with griffin.Client() as client:
        job = client.get_job(args.job)
        params = job.spec.params
        mode = params.get("mode", "succeed")
        print(f"attempt {attempt} of job {args.job} in {Path.cwd().name}", flush=True)
        if params.get("report_running", True):
            client.report_job(args.job, status="RUNNING")
        if params.get("show_token"):
            print(f"token={os.environ.get('GRIFFIN_TOKEN', '')}", flush=True)
        for i in range(int(params.get("lines", 0) or 0)):
            print(f"line {i}", flush=True)
        if params.get("seconds"):
            time.sleep(float(params["seconds"] or 0))
        if mode == "fail":
            client.report_job(args.job, failure="boom: the learning rate is too high\nmore")
            print("failing", file=sys.stderr, flush=True)
            sys.exit(3)
        if mode == "crash":
            sys.exit(4)
        if mode == "killself" or (
            mode == "flaky" and attempt < int(params.get("succeed_at", 2) or 2)
        ):
            os.kill(os.getpid(), signal.SIGKILL)
        client.report_job(args.job, result={"model": job.spec.model, "version": attempt})
        print("done", flush=True)


if __name__ == "__main__":
    main()
