"""The local launcher with real processes: exit codes, logs, cancel, adoption, pid files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from griffin import plugins
from griffin.config import load_settings
from griffin.domain.ids import new_id
from griffin.errors import InvalidArgument, NotSupported
from griffin.launcher import LaunchRequest, LaunchStatus, open_launcher
from griffin.launcher.base import Launcher
from griffin.launcher.local import LocalLauncher


@pytest.fixture
def launcher(tmp_path: Path) -> LocalLauncher:
    settings = load_settings(home=str(tmp_path / "home"), job_cancel_grace_s=0.5)
    found = open_launcher("local", settings)
    assert isinstance(found, LocalLauncher)
    return found


def _request(launcher: LocalLauncher, code: str, **changes: object) -> LaunchRequest:
    job_id = new_id()
    values: dict[str, object] = {
        "job_id": job_id,
        "project": "default",
        "attempt": 1,
        "argv": [sys.executable, "-c", code],
        "env": dict(os.environ),
        "working_dir": launcher.root / job_id / "work",
        **changes,
    }
    return LaunchRequest(**values)  # type: ignore[arg-type]


def _wait(launcher: Launcher, handle: dict[str, object], timeout: float = 20) -> LaunchStatus:
    deadline = time.monotonic() + timeout
    while (status := launcher.status(handle)).state == "running":
        assert time.monotonic() < deadline, "the process did not end in time"
        time.sleep(0.02)
    return status


def test_local_is_the_registered_launcher() -> None:
    assert plugins.resolve("launcher", "local") is LocalLauncher


def test_success_logs_and_working_dir(launcher: LocalLauncher) -> None:
    request = _request(
        launcher,
        "import os, sys; print('out', os.getcwd()); print('err', file=sys.stderr); "
        "print(os.environ['MARK'])",
        env={**os.environ, "MARK": "marked"},
    )
    handle = launcher.submit(request)
    assert handle["pid"] == handle["pgid"]
    assert handle["hostname"]
    assert handle["start_time"] is not None
    assert Path(str(handle["log_path"])).name == "attempt-1.log"
    assert _wait(launcher, handle) == LaunchStatus("succeeded", 0, "process exited with code 0")
    log = launcher.logs(handle, 0)
    assert f"out {request.working_dir}".encode() in log
    assert b"err\n" in log
    assert b"marked\n" in log
    assert launcher.logs(handle, 4) == log[4:]
    assert launcher.logs(handle, len(log)) == b""
    # The handle was also written next to the log, for recovery after a crash.
    assert launcher.recover(request.job_id, 1) == handle
    assert launcher.recover(request.job_id, 2) is None


def test_exit_code_and_signal(launcher: LocalLauncher) -> None:
    failed = _wait(launcher, launcher.submit(_request(launcher, "raise SystemExit(3)")))
    assert (failed.state, failed.exit_code) == ("failed", 3)
    assert failed.message == "process exited with code 3"
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    killed = _wait(launcher, launcher.submit(_request(launcher, code)))
    assert (killed.state, killed.exit_code) == ("failed", 128 + signal.SIGKILL)
    assert "SIGKILL" in killed.message


def test_cancel_terminates_the_group(launcher: LocalLauncher) -> None:
    handle = launcher.submit(
        _request(launcher, "import time; print('up', flush=True); time.sleep(60)")
    )
    deadline = time.monotonic() + 20
    while b"up" not in launcher.logs(handle, 0):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    started = time.monotonic()
    launcher.cancel(handle)
    status = _wait(launcher, handle)
    assert time.monotonic() - started < 5
    assert (status.state, status.exit_code) == ("failed", 128 + signal.SIGTERM)
    launcher.cancel(handle)  # an ended process: nothing happens


def test_cancel_kills_what_ignores_sigterm_after_the_grace(launcher: LocalLauncher) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(60)"
    )
    handle = launcher.submit(_request(launcher, code))
    deadline = time.monotonic() + 20
    while b"up" not in launcher.logs(handle, 0):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    started = time.monotonic()
    launcher.cancel(handle)
    status = _wait(launcher, handle)
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 5, elapsed  # the grace is 0.5 s
    assert status.state == "failed"


def _submit_elsewhere(home: Path, code: str) -> dict[str, object]:
    """Start a job process from another Python process that then exits, as a worker that
    crashed would: the job process is not a child of this test's process."""
    script = (
        "import json, os, sys\n"
        "from pathlib import Path\n"
        "from griffin.config import load_settings\n"
        "from griffin.launcher import LaunchRequest\n"
        "from griffin.launcher.local import LocalLauncher\n"
        f"launcher = LocalLauncher(load_settings(home={str(home)!r}))\n"
        f"request = LaunchRequest('j' + str(os.getpid()), 'default', 1, "
        f"[sys.executable, '-c', {code!r}], dict(os.environ), Path({str(home)!r}) / 'work')\n"
        "print(json.dumps(launcher.submit(request)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    handle: dict[str, object] = json.loads(done.stdout)
    return handle


def test_another_launcher_reads_an_adopted_process_end(tmp_path: Path) -> None:
    """A launcher that did not start the process (a new worker) learns its exit code."""
    home = tmp_path / "home"
    handle = _submit_elsewhere(home, "import time; time.sleep(0.5); raise SystemExit(7)")
    adopter = LocalLauncher(load_settings(home=str(home)))
    assert adopter.status(handle).state == "running"
    status = _wait(adopter, handle)
    assert (status.state, status.exit_code) == ("failed", 7)
    assert adopter.logs(handle, 0) == b""


def test_a_process_gone_without_exit_status_is_lost(tmp_path: Path) -> None:
    home = tmp_path / "home"
    handle = _submit_elsewhere(home, "import time; time.sleep(60)")
    os.killpg(int(str(handle["pgid"])), signal.SIGKILL)  # the wrapper too: no exit file
    adopter = LocalLauncher(load_settings(home=str(home)))
    status = _wait(adopter, handle)
    assert status.state == "lost"
    assert "left no exit status" in status.message


def test_a_reused_pid_is_not_taken_for_the_job(launcher: LocalLauncher) -> None:
    handle = launcher.submit(_request(launcher, "import time; time.sleep(60)"))
    try:
        fake = {**handle, "start_time": int(handle["start_time"]) + 1}
        stranger = LocalLauncher(launcher.settings)
        assert stranger.status(fake).state == "lost"
    finally:
        os.killpg(int(handle["pgid"]), signal.SIGKILL)
        _wait(launcher, handle)


def test_another_host_cannot_be_checked(launcher: LocalLauncher) -> None:
    handle = {"hostname": "elsewhere", "pid": 1, "pgid": 1, "start_time": 1}
    with pytest.raises(NotSupported, match="host 'elsewhere'"):
        launcher.status(handle)
    with pytest.raises(NotSupported):
        launcher.cancel(handle)


def test_unsatisfied_runtime_is_refused_with_what_is_missing(launcher: LocalLauncher) -> None:
    # The test's working folder is a fresh one (see the root conftest): its runtimes.toml.
    Path("runtimes.toml").write_text(
        '[runtimes.odd-1]\npython = "3.11"\npackages = ["griffin-no-such-package==1.0"]\n'
    )
    request = _request(launcher, "pass", runtime="odd-1")
    with pytest.raises(InvalidArgument, match="does not satisfy runtime 'odd-1'") as caught:
        launcher.submit(request)
    assert "griffin-no-such-package: not installed" in caught.value.message
    assert "pip install griffin-no-such-package==1.0" in caught.value.message
    assert not (launcher.root / request.job_id / "attempt-1.log").exists()


def test_optional_methods_raise_not_supported(tmp_path: Path) -> None:
    class Minimal(Launcher):
        def submit(self, request: LaunchRequest) -> dict[str, object]:
            return {}

        def status(self, handle: dict[str, object]) -> LaunchStatus:
            return LaunchStatus("running")

        def cancel(self, handle: dict[str, object]) -> None:
            return None

    minimal = Minimal(load_settings(home=str(tmp_path)))
    with pytest.raises(NotSupported):
        minimal.logs({}, 0)
    with pytest.raises(NotSupported):
        minimal.recover("j", 1)
