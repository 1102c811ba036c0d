"""The quickstart's inference server: ``griffin serve``'s app in this process, on a free port.

The same server ``griffin serve`` runs (:func:`griffin.serving.server.open_server`: online
features, batching, the prediction log), under uvicorn in a background thread bound to
127.0.0.1 on a port the OS picks, so a quickstart never collides with a server the user
already runs. Requests go over real HTTP, as any client's would.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from griffin.errors import BackendUnavailable

if TYPE_CHECKING:
    from griffin.config import Settings
    from griffin.serving.server import InferenceServer

__all__ = ["RunningServer", "running_server"]

HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RunningServer:
    """A started inference server: its base URL, what it logs predictions to, and an HTTP
    client for it (with the settings' token, if any)."""

    url: str
    http: httpx.Client
    prediction_log: str | None

    def predict(self, deployment: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """POST ``rows`` to the deployment's predict route; the JSON answer.

        Raises:
            BackendUnavailable: the server answered with an error (its message included).
        """
        answer = self.http.post(f"/v1/deployments/{deployment}/predict", json={"rows": rows})
        if answer.status_code != 200:
            raise BackendUnavailable(
                f"the inference server answered {answer.status_code}: {answer.text[:500]}"
            )
        body: dict[str, Any] = answer.json()
        return body


@contextmanager
def running_server(settings: Settings, deployments: list[str]) -> Iterator[RunningServer]:
    """Serve ``deployments`` of ``settings.project`` until the block ends, then stop cleanly.

    Yields once ``/readyz`` answers 200 (every deployment loaded).

    Raises:
        BackendUnavailable: the server did not start or get ready in time (with its reason).
    """
    import uvicorn

    from griffin.platform import open_platform
    from griffin.serving.prediction_log import prediction_log_dir
    from griffin.serving.server import open_server

    platform = open_platform(settings)
    app: InferenceServer | None = None
    try:
        # Polling is for hot swaps, which the quickstart does not do: one load is enough.
        app = open_server(platform, deployments, poll_s=3600.0)
        # Bound here, port 0: the OS picks a free port and nothing can take it before uvicorn.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, 0))
        port = int(listener.getsockname()[1])
        # log_config=None: uvicorn leaves the process's logging as it is.
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [listener]}, name="griffin-quickstart-serve"
        )
        thread.daemon = True  # an interrupted quickstart must not hang on it at exit
        thread.start()
        url = f"http://{HOST}:{port}"
        headers = {}
        if settings.token is not None:
            headers["authorization"] = f"Bearer {settings.token.get_secret_value()}"
        try:
            with httpx.Client(base_url=url, headers=headers, timeout=30.0) as http:
                _wait_ready(http, thread)
                log = app.prediction_log
                where = (
                    None
                    if log is None
                    else str(prediction_log_dir(log.offline_root, app.project, deployments[0]))
                )
                yield RunningServer(url=url, http=http, prediction_log=where)
        finally:
            server.should_exit = True
            thread.join(STOP_TIMEOUT_S)
            listener.close()
    finally:
        if app is not None:
            app.client.close()
        platform.close()


def _wait_ready(http: httpx.Client, thread: threading.Thread) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    reason = "it did not answer"
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise BackendUnavailable("the inference server stopped while starting")
        try:
            answer = http.get("/readyz")
        except httpx.TransportError as exc:  # not listening yet
            reason = str(exc)
        else:
            if answer.status_code == 200:
                return
            reason = str(answer.json().get("reason", answer.text))
        time.sleep(0.05)
    raise BackendUnavailable(
        f"the inference server was not ready after {READY_TIMEOUT_S:.0f} s: {reason}"
    )
