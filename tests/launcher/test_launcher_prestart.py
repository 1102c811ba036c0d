"""Prestarted job interpreters (setting ``job_prestart``): real processes, real training jobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from griffin.client import Client
from griffin.config import Settings, load_settings
from griffin.domain.jobs import Job, JobStatus
from griffin.launcher import prestart
from griffin.launcher.local import _alive
from griffin.platform import open_platform
from griffin.training.dispatcher import Dispatcher

GRIFFIN = str(Path(sys.executable).with_name("griffin"))
MODEL_PY = """
import time

import griffin
from sklearn.dummy import DummyRegressor


@griffin.model(name="warm", params={"sleep": 0.0})
def train(ctx):
    print("training in", ctx.workdir.name, flush=True)
    time.sleep(float(ctx.params["sleep"]))
    return DummyRegressor().fit([[0], [1]], [0, 1])
"""


def _settings(home: Path, **extra: object) -> Settings:
    return load_settings(home=str(home), job_prestart=True, **extra)  # type: ignore[arg-type]


def _started_at(job: Job) -> float:
    """When the job's process (the sh wrapper leading it) started, as Unix time."""
    assert job.handle is not None
    with open("/proc/uptime") as uptime:
        boot = time.time() - float(uptime.read().split()[0])
    return boot + int(job.handle["start_time"]) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "model.py").write_text(MODEL_PY)
    return folder


@pytest.fixture(autouse=True)
def _no_leftovers() -> Iterator[None]:
    yield
    prestart.close_all()


def test_griffin_train_hands_its_job_to_an_interpreter_started_ahead(
    project: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIFFIN_")}
    env |= {"GRIFFIN_HOME": str(tmp_path / "home"), "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    ids = []
    for _ in range(2):
        done = subprocess.run(
            [GRIFFIN, "train", "--json"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        ids.append(json.loads(done.stdout)["id"])
    settings = _settings(tmp_path / "home")
    with Client(settings=settings) as client:
        for number, job_id in enumerate(ids, start=1):
            job = client.get_job(job_id)
            assert job.status is JobStatus.SUCCEEDED, job.status_reason
            assert job.result is not None
            assert job.result["version"] == number
            # The process began before the job existed: it was started ahead and handed over.
            assert _started_at(job) < job.created_at.timestamp()
            log = "".join(client.follow_logs(job_id))
            assert "training in work" in log  # the job's own folder, output and log
            assert f"registered warm version {number}" in log
    history = orjson.loads(prestart.imports_file(settings).read_bytes())
    assert "sklearn" in history[0]
    assert "model" not in history[0]  # the job's own code is never preloaded
    assert "sklearn" in prestart.recent_imports(settings)
    # The wrapper records the exit status and removes the process's folder.
    assert [p.name for p in prestart.imports_file(settings).parent.iterdir()] == ["imports.json"]


def test_cancelling_a_job_stops_its_prestarted_process(project: Path, tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home", job_cancel_grace_s=0.5, job_poll_interval_s=0.05)
    platform = open_platform(settings)
    stop = threading.Event()
    dispatcher = Dispatcher(platform)
    thread = threading.Thread(target=dispatcher.run_forever, args=(stop,), daemon=True)
    try:
        with Client(settings=settings) as client:
            client.apply_models(project)
            thread.start()  # prestarts the next job's interpreter
            deadline = time.monotonic() + 60
            while not prestart._pool and time.monotonic() < deadline:
                time.sleep(0.05)
            ready = next(iter(prestart._pool.values()))
            job = client.submit_job(model="warm", params={"sleep": 120})
            while client.get_job(job.id).status is not JobStatus.RUNNING:
                assert time.monotonic() < deadline, "the job never ran"
                time.sleep(0.05)
            running = client.get_job(job.id)
            assert running.handle is not None
            assert running.handle["pid"] == ready.process.pid
            client.cancel_job(job.id)
            while not client.get_job(job.id).status.is_terminal:
                assert time.monotonic() < deadline + 30, "the job was never cancelled"
                time.sleep(0.05)
            ended = client.get_job(job.id)
    finally:
        stop.set()
        dispatcher.wake()
        thread.join(30)
        platform.close()
    assert ended.status is JobStatus.CANCELLED
    assert ended.handle is not None
    assert not _alive(ended.handle["pid"], ended.handle["start_time"])


def test_a_different_environment_is_never_handed_a_prestarted_process(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    env = dict(os.environ)
    env.pop("KMP_INIT_AT_FORK", None)
    prestart.ensure(settings, env)
    ready = prestart._pool[prestart._root(settings)]
    # GRIFFIN_* variables are the job's own; anything else must match.
    assert prestart.take(settings, env | {"GRIFFIN_JOB_ID": "x"}) is ready
    prestart._pool[prestart._root(settings)] = ready
    # A variable a library added since (scikit-learn sets KMP_*) is set at hand-over.
    assert prestart.take(settings, env | {"KMP_INIT_AT_FORK": "FALSE"}) is ready
    prestart._pool[prestart._root(settings)] = ready
    assert prestart.take(settings, env | {"PATH": "/nowhere"}) is None
    assert ready.process.wait(timeout=10) is not None  # the mismatched one was let go
    assert not ready.folder.exists()


def test_an_idle_prestarted_process_exits_with_its_launcher(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    prestart.ensure(settings, os.environ)
    ready = prestart._pool[prestart._root(settings)]
    prestart.discard(settings)
    assert ready.process.poll() is not None
    assert prestart.take(settings, os.environ) is None


def test_the_setting_turns_it_off(tmp_path: Path) -> None:
    settings = load_settings(home=str(tmp_path / "home"), job_prestart=False)
    prestart.ensure(settings, os.environ)
    assert prestart.take(settings, os.environ) is None


def test_import_history_keeps_recent_jobs_and_skips_bad_entries(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    path = prestart.imports_file(settings)
    path.parent.mkdir(parents=True)
    path.write_bytes(orjson.dumps([["numpy", "not a module!"], "junk", ["pandas", "numpy"]]))
    assert prestart.recent_imports(settings) == ["numpy", "pandas"]
    for _ in range(12):
        prestart.record_imports(path)
    history = orjson.loads(path.read_bytes())
    assert len(history) <= 8
    assert "orjson" in history[0]
    assert "griffin" not in history[0]
    path.write_text("{not json")
    assert prestart.recent_imports(settings) == []
