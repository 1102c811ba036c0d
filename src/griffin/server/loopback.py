"""The REST API on 127.0.0.1 for the jobs a foreground command runs on the embedded store.

``griffin train`` without a server opens the embedded store in its own process and runs the
job's dispatcher there. Serving the same store to the job over a loopback port lets the job's
process use the light HTTP client instead of opening the store and building the whole API
again (about a second of imports), and keeps one process as the writer of the SQLite file.

The port is chosen by the system, bound to 127.0.0.1 only, and closed when the command ends.
The store's own ``auth`` setting applies: with ``auth = "required"`` each job gets a token of
its own from the dispatcher.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import TYPE_CHECKING

from griffin.errors import BackendUnavailable

if TYPE_CHECKING:
    from types import TracebackType

    import uvicorn

    from griffin.platform import Platform

__all__ = ["LoopbackServer"]

_START_TIMEOUT_S = 10.0


class LoopbackServer:
    """Serves the API over ``platform`` on ``127.0.0.1:<free port>`` in a background thread.

    Use as a context manager; :attr:`url` is the base URL to give a job (``GRIFFIN_URL``).
    """

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def __enter__(self) -> LoopbackServer:
        import uvicorn

        from griffin.server.app import create_app

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        port = sock.getsockname()[1]
        # lifespan off: the stale-run reaper and a second dispatcher belong to real servers.
        config = uvicorn.Config(
            create_app(platform=self.platform),
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])),
            name="griffin-loopback-api",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.close()
                raise BackendUnavailable("the loopback API server for the job did not start")
            time.sleep(0.005)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
