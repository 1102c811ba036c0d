"""What survives the end of a process: atexit flushing, the excepthook, dead processes.

Each test runs a child Python process on a SQLite store (in-process, or through a server in
this test process) and checks what the store holds after the child is gone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sdk_helpers import ServerThread

from griffin.client import Client
from griffin.config import Settings, load_settings
from griffin.domain.tracking import RunStatus
from griffin.tracking.runs import fail_stale_runs

pytestmark = pytest.mark.slow


@pytest.fixture
def store(tmp_path: Path, sqlite_template: Path) -> Settings:
    shutil.copy(sqlite_template, tmp_path / "griffin.db")  # migrated: children start faster
    return load_settings(
        home=str(tmp_path / "home"),
        database_url=f"sqlite:///{tmp_path / 'griffin.db'}",
        artifact_root=str(tmp_path / "artifacts"),
    )


def run_child(
    code: str, settings: Settings, *, url: str = "", timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GRIFFIN_")}
    environ |= {
        "GRIFFIN_HOME": str(settings.home),
        "GRIFFIN_DATABASE_URL": settings.resolved_database_url,
        "GRIFFIN_ARTIFACT_ROOT": settings.resolved_artifact_root,
        **({"GRIFFIN_URL": url} if url else {}),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


LOG_AND_LEAVE = """
    import griffin
    run = griffin.start_run("child", params={"points": 5000})
    for step in range(5000):
        griffin.log_metric("x", step * 0.5)
    print(run.id, flush=True)
    # no end_run(), no flush(): the atexit hook must send and end everything
"""


OPEN_AND_LEAVE = """
    import griffin
    client = griffin.Client()
    client.list_experiments()
    print("used", flush=True)
    # no close(): the client is closed at exit, and exit must not hang on it
"""


def test_an_unclosed_client_does_not_hang_the_exit(store: Settings) -> None:
    # Regression: weakref's exit hook, registered after ours, ran first and disabled the
    # client's finalizer, so the in-process event loop was stopped by the garbage collector
    # after its thread had died, and the interpreter waited forever.
    child = run_child(OPEN_AND_LEAVE, store, timeout=30)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "used"


@pytest.mark.parametrize("transport", ["inprocess", "http"])
def test_normal_exit_flushes_and_finishes_open_runs(store: Settings, transport: str) -> None:
    server = ServerThread(store) if transport == "http" else None
    try:
        child = run_child(LOG_AND_LEAVE, store, url=server.url if server else "")
        assert child.returncode == 0, child.stderr
        run_id = child.stdout.strip()
        with Client(settings=store) as client:
            run = client.get_run(run_id)
            assert run.status is RunStatus.FINISHED
            assert run.status_reason == "ended at interpreter exit"
            history = client.get_metric_history(run_id, "x")
            assert [(m.step, m.value) for m in history] == [(s, s * 0.5) for s in range(5000)]
    finally:
        if server is not None:
            server.stop()


def test_uncaught_exception_marks_open_runs_failed(store: Settings) -> None:
    code = """
        import griffin
        outer = griffin.start_run("child")
        inner = griffin.start_run("child")
        griffin.log_metric("x", 1.0)
        print(outer.id, inner.id, flush=True)
        raise RuntimeError("out of memory on GPU 0")
    """
    child = run_child(code, store)
    assert child.returncode == 1
    assert "RuntimeError: out of memory on GPU 0" in child.stderr  # the traceback still shows
    outer_id, inner_id = child.stdout.split()
    with Client(settings=store) as client:
        for run_id in (outer_id, inner_id):
            run = client.get_run(run_id)
            assert run.status is RunStatus.FAILED
            assert run.status_reason == "uncaught RuntimeError: out of memory on GPU 0"
        assert [m.value for m in client.get_metric_history(inner_id, "x")] == [1.0]


def test_killed_process_is_failed_after_its_heartbeat_lapses(store: Settings) -> None:
    code = """
        import os, griffin
        run = griffin.start_run("child")
        griffin.log_metric("x", 1.0)
        griffin.flush()
        print(run.id, flush=True)
        os._exit(1)  # no atexit, no excepthook: as if killed
    """
    child = run_child(code, store, GRIFFIN_HEARTBEAT_TIMEOUT_S="1")
    assert child.returncode == 1, child.stderr
    run_id = child.stdout.strip()
    with Client(settings=store) as client:
        assert client.get_run(run_id).status is RunStatus.RUNNING
    time.sleep(1.2)
    # Opening an in-process client reaps stale runs (there is no server process to do it).
    impatient = store.model_copy(update={"heartbeat_timeout_s": 1.0})
    with Client(settings=impatient) as client:
        run = client.get_run(run_id)
        assert run.status is RunStatus.FAILED
        assert "heartbeat" in run.status_reason
        assert [m.value for m in client.get_metric_history(run_id, "x")] == [1.0]
        assert fail_stale_runs(client._transport.platform.db, 1.0) == []  # type: ignore[attr-defined]
