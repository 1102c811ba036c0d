"""The real `griffin` console script, run as a subprocess: the way users meet it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from griffin._version import __version__

GRIFFIN = Path(sys.executable).parent / "griffin"


def griffin(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GRIFFIN), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_console_script_version() -> None:
    done = griffin("version", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["version"] == __version__


def test_console_script_error_is_one_line() -> None:
    done = griffin("runs", "show", "r-nope")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == "error: run r-nope does not exist"


def test_console_script_unreachable_postgresql() -> None:
    done = griffin(
        "runs", "list", env={"GRIFFIN_DATABASE_URL": "postgresql://u:secret@127.0.0.1:1/x"}
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: cannot reach the metadata database at postgresql://u:***@")
    assert "secret" not in done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server() -> Iterator[str]:
    """`griffin server --auth` on a free loopback port, ready to answer; stopped afterwards."""
    port = _free_port()
    process = subprocess.Popen(
        [str(GRIFFIN), "server", "--port", str(port), "--auth"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"griffin server exited: {process.communicate()[0]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("griffin server did not become ready within 30 s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            output = process.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0]
    assert f"Griffin server on {url}" in output
    assert f"{url}/api/v1/docs" in output
    assert "no API token exists yet" in output


@pytest.mark.slow
def test_server_then_cli_over_http(server: str) -> None:
    anonymous = griffin("runs", "list", env={"GRIFFIN_URL": server})
    assert anonymous.returncode == 1
    assert anonymous.stderr.startswith("error: this server requires an API token")
    # The bootstrap path (no GRIFFIN_URL) writes the first admin token straight to the database.
    bootstrap = griffin("tokens", "create", "--project", "*", "--role", "admin", "--json")
    assert bootstrap.returncode == 0, bootstrap.stderr
    env = {"GRIFFIN_URL": server, "GRIFFIN_TOKEN": json.loads(bootstrap.stdout)["secret"]}

    listed = griffin("runs", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    created = griffin("experiments", "create", "over-http", "--json", env=env)
    assert json.loads(created.stdout)["name"] == "over-http"
    viewer = griffin("tokens", "create", "--role", "viewer", "--user", "ci", "--json", env=env)
    assert viewer.returncode == 0, viewer.stderr
    tokens = json.loads(griffin("tokens", "list", "--json", env=env).stdout)
    assert {t["role"] for t in tokens} == {"admin", "viewer"}
    as_viewer = {**env, "GRIFFIN_TOKEN": json.loads(viewer.stdout)["secret"]}
    me = json.loads(griffin("whoami", "--json", env=as_viewer).stdout)
    assert me == {"user": "ci", "project": "default", "role": "viewer", "server": server}
    refused = griffin("experiments", "create", "nope", env=as_viewer)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: this token's role 'viewer'")
    missing = griffin("runs", "show", "r-nope", env=env)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: run r-nope does not exist"
    health = httpx.get(f"{server}/healthz").json()
    assert health == {"status": "ok", "version": __version__}
