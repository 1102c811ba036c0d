"""Helpers shared by the SDK tests: a real uvicorn server in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import httpx
import uvicorn

from griffin.client import Client
from griffin.config import Settings
from griffin.platform import Platform, open_platform
from griffin.server import create_app

# connect(token=None, project=None, **settings_changes) -> Client, from the `connect` fixture.
Connect = Callable[..., Client]


class ServerThread:
    """A real uvicorn server over ``settings``' store, on a free port of 127.0.0.1."""

    def __init__(self, settings: Settings) -> None:
        self.platform: Platform = open_platform(settings)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            create_app(platform=self.platform), host="127.0.0.1", port=port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self._wait_healthy()

    def _serve(self) -> None:
        try:
            self.server.run(sockets=[self._socket])
        finally:
            self.platform.close()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.server.started:
                response = httpx.get(f"{self.url}/healthz", timeout=2)
                if response.status_code == 200:
                    return
            time.sleep(0.02)
        raise RuntimeError(f"the test server at {self.url} did not start")

    def stop(self) -> None:
        """Ask the server to exit without waiting: uvicorn polls the flag every 0.1 s, and
        joining would add that to every HTTP test; the thread closes the store when done."""
        self.server.should_exit = True
