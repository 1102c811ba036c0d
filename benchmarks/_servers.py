"""Server processes and scratch databases: process groups, free ports, readiness, cleanup.

Every child runs in its own process group (``Proc``) so that stopping it ends its workers too;
``Proc.stop_all()`` is what ``tracking.py`` calls on exit, on Ctrl-C, on SIGTERM and when the
global ``--timeout`` expires.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
from _common import HERE, MLFLOW_VENV, BenchError, say


class Proc:
    """A child in its own process group; ``stop()`` ends the whole group (uvicorn's workers too)."""

    live: list[Proc] = []

    def __init__(
        self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path, log: Path
    ) -> None:
        self.name = name
        self.log_path = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = log.open("wb")
        self.popen = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        Proc.live.append(self)

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise BenchError(f"{self.name} did not finish within {timeout:.0f} s") from None

    def stop(self) -> None:
        pgid = self.popen.pid  # start_new_session: the child leads its own group
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
            try:
                self.popen.wait(grace)
                break
            except subprocess.TimeoutExpired:
                continue
        # Workers may outlive their leader for a moment; make sure none is left.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        self._log.close()
        if self in Proc.live:
            Proc.live.remove(self)

    @classmethod
    def stop_all(cls) -> None:
        for proc in list(cls.live):
            proc.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(proc: Proc, url: str, timeout: float) -> float:
    """Poll ``url`` until it answers 200; returns the seconds it took."""
    started = time.perf_counter()
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if proc.popen.poll() is not None:
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return time.perf_counter() - started
        time.sleep(0.2)
    raise BenchError(f"{proc.name} was not ready after {timeout:.0f} s:\n{proc.tail()}")


@contextlib.contextmanager
def scratch_pg_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one run of the benchmark, dropped afterwards."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    name = f"{prefix}_{secrets.token_hex(4)}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(drivername="postgresql", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def pg_available(admin_url: str) -> str | None:
    """``None`` when PostgreSQL answers, else why not."""
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(admin_url).set(drivername="postgresql").render_as_string(False)
    try:
        with psycopg.connect(conninfo, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


# --------------------------------------------------------------------------- Griffin


def griffin_env(home: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIFFIN_")}
    env |= {"GRIFFIN_HOME": str(home.resolve()), "GRIFFIN_LOG_LEVEL": "warning"}
    if database_url:
        env["GRIFFIN_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)
    return env


@contextlib.contextmanager
def griffin_server(env: dict[str, str], home: Path, workers: int, tag: str) -> Iterator[str]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "_griffin_server:create",
        "--app-dir",
        str(HERE),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    url = f"http://127.0.0.1:{port}"
    # As `griffin server` does: the jobs its dispatcher launches reach it at this address.
    env = env | {"GRIFFIN_URL": url}
    proc = Proc(f"griffin server ({tag})", argv, env=env, cwd=home, log=home / f"{tag}.log")
    try:
        took = wait_ready(proc, f"{url}/readyz", 60)
        say(f"  griffin server ({workers} worker(s)) ready in {took:.1f} s on {url}")
        yield url
    finally:
        proc.stop()


# --------------------------------------------------------------------------- MLflow


def mlflow_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GRIFFIN_"))}
    env |= {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    return env


@contextlib.contextmanager
def mlflow_server(store_uri: str, artifacts: str, home: Path, workers: int | None) -> Iterator[str]:
    port = free_port()
    argv = [
        str(MLFLOW_VENV / "bin" / "mlflow"),
        "server",
        "--backend-store-uri",
        store_uri,
        "--default-artifact-root",
        artifacts,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if workers:
        argv += ["--workers", str(workers)]
    proc = Proc("mlflow server", argv, env=mlflow_env(), cwd=home, log=home / "server.log")
    try:
        url = f"http://127.0.0.1:{port}"
        took = wait_ready(proc, f"{url}/health", 120)
        say(f"  mlflow server ({workers or 'default 4'} workers) ready in {took:.1f} s")
        yield url
    finally:
        proc.stop()
