"""Fixtures for the MLflow API tests.

``client`` calls the app in-process (httpx's ASGI transport) to pin the wire format;
``live_url`` serves the same app from a thread on 127.0.0.1 for the real MLflow client
(``mlflow_client``), which needs a socket. Both run on SQLite and PostgreSQL (``platform``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from griffin.platform import Platform
from griffin.server import create_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def app(platform: Platform) -> FastAPI:
    return create_app(platform=platform)


@pytest.fixture
async def client(app: FastAPI, anyio_backend: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def live_url(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app served on 127.0.0.1 from a thread; the MLflow client's retries are off, so a
    server error fails the test at once instead of after minutes of backoff."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def mlflow_client(live_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A real ``mlflow.MlflowClient`` talking to ``live_url`` (fluent API pointed there too)."""
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_url)
    # The fluent API remembers the last experiment set, which belongs to another test's server.
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    mlflow.set_tracking_uri(live_url)
    mlflow.set_registry_uri(live_url)
    yield mlflow.MlflowClient(tracking_uri=live_url, registry_uri=live_url)
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri("")
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)  # set_experiment sets it behind monkeypatch
