"""Prestarted job processes: the next local job's interpreter, started ahead and warmed.

A training job spends most of its first seconds importing: Griffin's client, NumPy, pandas,
Arrow, and the model's own libraries (scikit-learn alone takes 1-3 s). The local launcher keeps
one interpreter started ahead that has already imported Griffin's job runtime and the
third-party packages recent jobs imported (their names are recorded when each job ends, in
``<jobs_root>/.prestart/imports.json``). When a job comes, that process takes it over: it
applies the job's environment, working folder and log file, and runs the job; a new one is
started for the next job at once.

Each prestarted process serves exactly one job, so no state passes between jobs. It is used
only when none of the environment variables it started with has changed or gone from the
job's (``GRIFFIN_*`` variables aside: they are read when the job starts, not at import), and
only while younger than :data:`MAX_AGE_S`, so packages installed meanwhile are picked up. An
idle one waits on its standard input and exits when the launcher goes (the pipe closes).
Setting ``job_prestart`` turns this off.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from griffin.domain.ids import new_id

if TYPE_CHECKING:
    from griffin.config import Settings

__all__ = [
    "MAX_AGE_S",
    "RUNTIME_ARGV",
    "Prestarted",
    "close_all",
    "discard",
    "ensure",
    "imports_file",
    "record_imports",
    "serve",
    "take",
]

MAX_AGE_S = 600.0
RUNTIME_MODULE = "griffin.runtime"
RUNTIME_ARGV = (sys.executable, "-m", RUNTIME_MODULE)
# What every job imports before its own code runs.
BASE_IMPORTS = (
    "griffin.client",
    "griffin.training.runner",
    "griffin.training.context",
    "griffin.registry.flavors",
    "pyarrow",
)
_IMPORTS_FILE = "imports.json"
_JOBS_REMEMBERED = 8
_MAX_MODULES = 200
_STALE_DIR_S = 86400.0
# $1 is the process's folder; after the command ends, the exit status goes to the file named
# in <folder>/exit-path (written at hand-over), as the local launcher's wrapper does, and the
# folder is removed.
_WRAPPER = (
    'd="$1"; shift; trap : TERM INT HUP; "$@"; c=$?; '
    'f=$(cat "$d/exit-path" 2>/dev/null); '
    'if [ -n "$f" ]; then echo "$c" > "$f.tmp" && mv -f "$f.tmp" "$f"; fi; '
    'rm -rf "$d"; exit "$c"'
)


def _root(settings: Settings) -> Path:
    return settings.resolved_jobs_root / ".prestart"


def _comparable(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith("GRIFFIN_")}


class Prestarted:
    """One interpreter started ahead of a job (see the module's description)."""

    def __init__(self, settings: Settings, env: Mapping[str, str]) -> None:
        self.folder = _root(settings) / new_id()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.env = dict(env)
        self.started = time.monotonic()
        modules = ",".join(dict.fromkeys((*BASE_IMPORTS, *recent_imports(settings))))
        with (self.folder / "prestart.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "/bin/sh",
                    "-c",
                    _WRAPPER,
                    "griffin-job",
                    str(self.folder),
                    *RUNTIME_ARGV,
                    "--prestarted",
                    modules,
                ],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
                env=self.env,
                start_new_session=True,
            )

    def usable(self, env: Mapping[str, str]) -> bool:
        """Alive, young enough, and none of the variables it started with changed or gone
        from ``env`` (``GRIFFIN_*`` aside). Variables added since are set at hand-over: a
        library the launching process imported may add some (scikit-learn sets ``KMP_*``)."""
        if self.process.poll() is not None or time.monotonic() - self.started >= MAX_AGE_S:
            return False
        return all(env.get(k) == v for k, v in self.env.items() if not k.startswith("GRIFFIN_"))

    def hand_over(
        self, argv: list[str], env: Mapping[str, str], cwd: Path, log: Path, exit_path: Path
    ) -> subprocess.Popen[bytes]:
        """Give the process its job; returns it (its pid leads the job's process group).

        Raises:
            OSError: the process is gone (its pipe is closed).
        """
        (self.folder / "exit-path").write_text(str(exit_path))
        message = {
            "argv": argv,
            "env": dict(env),
            "cwd": str(cwd),
            "log": str(log),
        }
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(orjson.dumps(message) + b"\n")
        stdin.close()
        return self.process

    def close(self) -> None:
        """Let an unused process go: it exits when its input closes."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=2)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, 9)
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


# One prestarted process per jobs folder, shared by every local launcher of this process (a
# foreground command starts it before its dispatcher exists).
_pool: dict[Path, Prestarted] = {}
_pool_lock = threading.Lock()


def take(settings: Settings, env: Mapping[str, str]) -> Prestarted | None:
    """The prestarted process for ``settings``' jobs folder, when usable with ``env``."""
    with _pool_lock:
        found = _pool.pop(_root(settings), None)
    if found is None:
        return None
    if found.usable(env):
        return found
    found.close()
    return None


def ensure(settings: Settings, env: Mapping[str, str]) -> None:
    """Make sure a process is prestarted for the next job (no-op when one is, or when off).

    It gets ``env`` without its ``GRIFFIN_*`` variables: a job's own (its id, its token)
    arrive with the job.
    """
    if not settings.job_prestart:
        return
    env = _comparable(env)
    root = _root(settings)
    with _pool_lock:
        current = _pool.get(root)
        if current is not None and current.usable(env):
            return
        _pool.pop(root, None)
    if current is not None:
        current.close()
    _sweep(root)
    try:
        started = Prestarted(settings, env)
    except OSError:
        return  # no prestart: jobs start cold, as without this
    with _pool_lock:
        extra = _pool.pop(root, None)
        _pool[root] = started
    if extra is not None:
        extra.close()


def discard(settings: Settings) -> None:
    """Stop the unused prestarted process of ``settings``' jobs folder, if any."""
    with _pool_lock:
        found = _pool.pop(_root(settings), None)
    if found is not None:
        found.close()


def close_all() -> None:
    """Stop every unused prestarted process of this Python process."""
    with _pool_lock:
        found = list(_pool.values())
        _pool.clear()
    for process in found:
        process.close()


def _sweep(root: Path) -> None:
    """Remove the folders of prestarted processes that ended long ago."""
    cutoff = time.time() - _STALE_DIR_S
    with contextlib.suppress(OSError):
        for child in root.iterdir():
            with contextlib.suppress(OSError):
                if child.is_dir() and child.stat().st_mtime < cutoff:
                    shutil.rmtree(child, ignore_errors=True)


# -- the process's side --------------------------------------------------------------------


def imports_file(settings: Settings) -> Path:
    """Where jobs record the third-party packages they imported (``--record-imports``)."""
    return _root(settings) / _IMPORTS_FILE


def recent_imports(settings: Settings) -> list[str]:
    """Third-party packages recent jobs imported (most recent first, at most a few hundred)."""
    try:
        history = orjson.loads(imports_file(settings).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return []
    names: dict[str, None] = {}
    for entry in history if isinstance(history, list) else []:
        for name in entry if isinstance(entry, list) else []:
            if isinstance(name, str) and name.isidentifier():
                names[name] = None
    return list(names)[:_MAX_MODULES]


def _third_party() -> list[str]:
    """Top-level packages imported now that come from site-packages (never the job's code)."""
    roots = {
        os.path.realpath(p) + os.sep
        for p in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    }
    found = []
    for name, module in list(sys.modules.items()):
        if "." in name or name.startswith("_") or name == "griffin":
            continue
        path = getattr(module, "__file__", None)
        if path and any(os.path.realpath(path).startswith(root) for root in roots):
            found.append(name)
    return sorted(found)


def record_imports(path: Path) -> None:
    """Add this process's third-party imports to the history at ``path`` (best effort)."""
    with contextlib.suppress(OSError, orjson.JSONDecodeError, ValueError):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            history = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            history = []
        mine = _third_party()
        history = [mine, *[h for h in history if h != mine]][:_JOBS_REMEMBERED]
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(orjson.dumps(history))
        temporary.replace(path)


def serve(modules: str) -> int:
    """``python -m griffin.runtime --prestarted MODULES``: import, wait for a job, run it."""
    import importlib

    for name in filter(None, modules.split(",")):
        try:
            importlib.import_module(name)
        except Exception as exc:  # a package that fails here fails in the job, with context
            print(f"griffin: prestart could not import {name}: {exc}", file=sys.stderr)
    sys.stderr.flush()
    line = sys.stdin.buffer.readline()
    if not line:
        return 0  # the launcher went away before a job came
    message: dict[str, Any] = orjson.loads(line)
    log = os.open(message["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    sys.stdout.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.environ.clear()
    os.environ.update(message["env"])
    os.chdir(message["cwd"])
    sys.argv = [RUNTIME_MODULE, *message["argv"]]
    from griffin.training.runner import main

    return main(message["argv"])
