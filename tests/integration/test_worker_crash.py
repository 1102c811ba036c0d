"""A `griffin worker` killed mid-job: the next worker adopts the job, which runs exactly once.

Real processes throughout: the worker is the `griffin worker` command, the job is
`python -m griffin.runtime` training a real model definition, and the worker is SIGKILLed
while the job's process runs (the job's process is in its own session and survives).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from griffin.client import Client
from griffin.config import load_settings
from griffin.domain.jobs import JobStatus

GRIFFIN = str(Path(sys.executable).with_name("griffin"))
MODEL_PY = """
import time
from pathlib import Path

import griffin
from sklearn.dummy import DummyClassifier


@griffin.model(name="slow", params={"marker": "", "sleep": 1.0})
def train(ctx):
    with open(ctx.params["marker"], "a") as f:
        f.write(f"attempt {ctx.attempt}\\n")
    time.sleep(ctx.params["sleep"])
    return DummyClassifier().fit([[0], [1]], [0, 1])
"""


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [GRIFFIN, "worker", "--poll-interval", "0.2"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_a_killed_worker_s_job_is_adopted_and_runs_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    project = tmp_path / "project"
    project.mkdir()
    (project / "model.py").write_text(MODEL_PY)
    marker = tmp_path / "marker.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIFFIN_")}
    env.update({"GRIFFIN_HOME": str(home), "GRIFFIN_JOB_HEARTBEAT_TIMEOUT_S": "2"})
    settings = load_settings(home=str(home))
    log = tmp_path / "workers.log"
    first = second = None
    with Client(settings=settings) as client:
        plan = client.apply_models(project)
        job = client.submit_job(
            model="slow",
            code_digest=plan.code_digest,
            params={"marker": str(marker), "sleep": 6.0},
        )
        try:
            first = _worker(env, log)
            _wait(marker.exists, 60, "the job to start training")
            assert client.get_job(job.id).status == JobStatus.RUNNING
            os.killpg(first.pid, signal.SIGKILL)  # the worker only: the job has its own session
            first.wait(10)
            second = _worker(env, log)
            final = client.wait_job(job.id, timeout=90, poll=0.2)
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(10)
        assert final.status == JobStatus.SUCCEEDED, (final.status_reason, log.read_text())
        assert final.attempt == 1
        assert marker.read_text() == "attempt 1\n"  # trained once: never started twice
        reasons = [e.reason for e in client.job_events(job.id)]
        assert any("adopted" in r for r in reasons), reasons
        assert client.resolve_model("slow@latest").version == 1
