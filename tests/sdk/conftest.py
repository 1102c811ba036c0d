"""SDK fixtures: one suite, run over both transports on both databases.

``client`` is parametrised over ``inprocess`` (the REST app called in-process, no port) and
``http`` (a real uvicorn server on a free loopback port, in a thread); the root ``settings``
fixture already parametrises SQLite and PostgreSQL, so each SDK test runs four times.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sdk_helpers import Connect, ServerThread

from griffin.client import Client, active_run
from griffin.client import tracking as fluent
from griffin.config import Settings


@pytest.fixture(params=["inprocess", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def connect(transport: str, settings: Settings) -> Iterator[Connect]:
    """Build clients of this test's transport: ``connect(token=..., project=..., **settings)``.

    Keyword arguments other than ``token`` and ``project`` change the settings (e.g.
    ``auth="required"``); each distinct settings object gets its own server over HTTP.
    """
    servers: dict[str, ServerThread] = {}
    clients: list[Client] = []

    def make(token: str | None = None, project: str | None = None, **changes: Any) -> Client:
        chosen = settings.model_copy(update=changes) if changes else settings
        if transport == "http":
            key = repr(sorted(changes.items()))
            if key not in servers:
                servers[key] = ServerThread(chosen)
            made = Client(servers[key].url, token, project=project, settings=chosen)
        else:
            made = Client(token=token, project=project, settings=chosen)
        clients.append(made)
        return made

    yield make
    # Runs a failing test left open must not leak into the next test's active-run stack.
    while (run := fluent.active_run()) is not None:
        try:
            run.end("KILLED", "left open by a test")
        except Exception:
            if run in active_run.stack:
                active_run.stack.remove(run)
    for made in clients:
        made.close()
    for server in servers.values():
        server.stop()


@pytest.fixture
def client(connect: Connect) -> Client:
    return connect()
