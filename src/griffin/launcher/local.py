"""The ``local`` launcher: each job attempt is a process on this machine.

The process runs in its own session (so Ctrl-C in the worker's terminal does not reach it, and
cancelling signals its whole process group) under a tiny ``sh`` wrapper that writes the exit
status to a file. Its output goes to ``<jobs_root>/<job_id>/attempt-<n>.log``; its working
folder is ``<jobs_root>/<job_id>/work``. The handle (host, pid, process group, the process's
start time from ``/proc`` to detect a reused pid, and the paths) is also written next to the log
the moment the process starts, so a dispatcher that dies before recording it can be recovered,
and a later dispatcher on the same host can tell how an adopted process ended from the exit
file, although it is not that process's parent.

Resources are not enforced: the process gets what the machine has.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from griffin.errors import BackendUnavailable, NotSupported
from griffin.launcher import prestart
from griffin.launcher.base import Handle, Launcher, LaunchRequest, LaunchStatus

if TYPE_CHECKING:
    from griffin.config import Settings

__all__ = ["LocalLauncher"]

MAX_LOG_READ = 1024 * 1024
# $1 is the exit file; the rest is the command. The trap keeps sh alive through a SIGTERM sent
# to the group (a trapped signal is reset to its default in the child, unlike an ignored one),
# so it can still record the command's status: 128 + N when the command died of signal N.
_WRAPPER = (
    'f="$1"; shift; trap : TERM INT HUP; "$@"; c=$?; '
    'echo "$c" > "$f.tmp" && mv -f "$f.tmp" "$f"; exit "$c"'
)


# Processes started by any local launcher of this Python process, by pid: shared, so a second
# dispatcher in the same process (one that adopted jobs) still reaps them through Popen.
_children: dict[int, subprocess.Popen[bytes]] = {}
_children_lock = threading.Lock()


def _start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat`` (clock ticks after boot), or None if unreadable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces: split after it.
    fields = raw[raw.rfind(b")") + 2 :].split()
    if fields and fields[0] == b"Z":
        return None  # a zombie has finished
    return int(fields[19]) if len(fields) > 19 else None


def _alive(pid: int, start_time: int | None) -> bool:
    """Whether the process of a handle still runs (the same process, not a reused pid)."""
    if Path("/proc").is_dir():
        now = _start_time(pid)
        return now is not None and (start_time is None or now == start_time)
    try:  # pragma: no cover - systems without /proc (macOS)
        os.kill(pid, 0)
    except ProcessLookupError:  # pragma: no cover
        return False
    except PermissionError:  # pragma: no cover
        return True
    return True  # pragma: no cover


def _ended(code: int) -> LaunchStatus:
    if code < 0:  # the wrapper itself was killed by a signal
        code = 128 - code
    if code == 0:
        return LaunchStatus("succeeded", 0, "process exited with code 0")
    if code > 128:
        try:
            name = signal.Signals(code - 128).name
        except ValueError:
            name = f"signal {code - 128}"
        return LaunchStatus("failed", code, f"process was killed by {name}")
    return LaunchStatus("failed", code, f"process exited with code {code}")


class LocalLauncher(Launcher):
    """Runs job attempts as local processes (see the module's description)."""

    def __init__(self, settings: Settings, *, grace_s: float | None = None) -> None:
        super().__init__(settings)
        self.root: Path = settings.resolved_jobs_root
        self.grace_s = settings.job_cancel_grace_s if grace_s is None else grace_s
        self.hostname = socket.gethostname()

    def _paths(self, job_id: str, attempt: int) -> tuple[Path, Path, Path]:
        folder = self.root / job_id
        stem = f"attempt-{attempt}"
        return folder / f"{stem}.log", folder / f"{stem}.exit", folder / f"{stem}.json"

    def submit(self, request: LaunchRequest) -> Handle:
        if request.runtime:
            from griffin.training.runtimes import check_environment, get_runtime

            # The project's runtimes.toml is read from the worker's folder. A mismatch is the
            # job's own fault: InvalidArgument, so it fails without a retry.
            check_environment(get_runtime(request.runtime, Path.cwd())).raise_for_mismatch()
        log_path, exit_path, handle_path = self._paths(request.job_id, request.attempt)
        argv = list(request.argv)
        runtime_job = tuple(argv[:3]) == prestart.RUNTIME_ARGV
        if runtime_job:
            argv += ["--record-imports", str(prestart.imports_file(self.settings))]
        try:
            request.working_dir.mkdir(parents=True, exist_ok=True)
            log_path.parent.mkdir(parents=True, exist_ok=True)
            exit_path.unlink(missing_ok=True)
            process = None
            ready = prestart.take(self.settings, request.env) if runtime_job else None
            if ready is not None:
                with contextlib.suppress(OSError):  # it died meanwhile: start one cold
                    process = ready.hand_over(
                        argv[3:], request.env, request.working_dir, log_path, exit_path
                    )
            if process is None:
                with log_path.open("ab") as log:
                    process = subprocess.Popen(
                        ["/bin/sh", "-c", _WRAPPER, "griffin-job", str(exit_path), *argv],
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        cwd=request.working_dir,
                        env=request.env,
                        start_new_session=True,
                    )
        except OSError as exc:
            raise BackendUnavailable(
                f"the local launcher could not start job {request.job_id}: {exc.strerror or exc}",
                details={"job_id": request.job_id},
            ) from None
        if runtime_job and self.expect_more:
            # The next job's interpreter starts importing now, while this one runs.
            prestart.ensure(self.settings, request.env)
        handle: Handle = {
            "hostname": self.hostname,
            "pid": process.pid,
            "pgid": process.pid,  # start_new_session: the process leads its own group
            "start_time": _start_time(process.pid),
            "log_path": str(log_path),
            "exit_path": str(exit_path),
        }
        with _children_lock:
            _children[process.pid] = process
        # Wait for the exit in a thread, so the dispatcher hears of it at once rather than at
        # its next poll (Popen serialises this wait with status()'s poll()).
        threading.Thread(
            target=self._await_exit, args=(process,), name=f"griffin-job-{process.pid}", daemon=True
        ).start()
        temporary = handle_path.with_suffix(".json.tmp")
        temporary.write_bytes(orjson.dumps(handle))
        temporary.replace(handle_path)
        return handle

    def _await_exit(self, process: subprocess.Popen[bytes]) -> None:
        process.wait()
        self.changed()

    def _check_host(self, handle: Handle) -> None:
        if handle.get("hostname") != self.hostname:
            raise NotSupported(
                f"the local process of this job runs on host {handle.get('hostname')!r} and "
                f"cannot be checked from {self.hostname!r}"
            )

    def status(self, handle: Handle) -> LaunchStatus:
        self._check_host(handle)
        pid = int(handle["pid"])
        with _children_lock:
            child = _children.get(pid)
        if child is not None and _start_time(pid) in (None, handle.get("start_time")):
            code = child.poll()
            if code is None:
                return LaunchStatus("running", None, "process is running")
            with _children_lock:
                _children.pop(pid, None)
            return _ended(code)
        if _alive(pid, handle.get("start_time")):
            return LaunchStatus("running", None, "process is running")
        try:
            # Our child at the OS level although not started through Popen here: reap it.
            reaped, wait_status = os.waitpid(pid, os.WNOHANG)
            if reaped == pid:
                return _ended(os.waitstatus_to_exitcode(wait_status))
        except (ChildProcessError, OSError):
            pass
        try:
            text = Path(handle["exit_path"]).read_text().strip()
            return _ended(int(text))
        except (OSError, ValueError, KeyError):
            return LaunchStatus(
                "lost", None, "the process is gone and left no exit status (it was killed)"
            )

    def logs(self, handle: Handle, offset: int) -> bytes:
        try:
            with open(handle["log_path"], "rb") as log:
                log.seek(offset)
                return log.read(MAX_LOG_READ)
        except (OSError, KeyError):
            return b""

    def cancel(self, handle: Handle) -> None:
        self._check_host(handle)
        pid, pgid = int(handle["pid"]), int(handle["pgid"])
        if not _alive(pid, handle.get("start_time")):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        timer = threading.Timer(self.grace_s, self._kill, (pid, pgid, handle.get("start_time")))
        timer.daemon = True
        timer.start()

    def _kill(self, pid: int, pgid: int, start_time: int | None) -> None:
        # The group may outlive its leader (a child that ignored SIGTERM): signal the group
        # unless the leader's pid now belongs to another process.
        if _start_time(pid) not in (None, start_time):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)

    def prepare(self) -> None:
        prestart.ensure(self.settings, os.environ)

    def close(self) -> None:
        prestart.discard(self.settings)

    def recover(self, job_id: str, attempt: int) -> Handle | None:
        _, _, handle_path = self._paths(job_id, attempt)
        try:
            found = orjson.loads(handle_path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        return found if isinstance(found, dict) else None
