"""The two transports in isolation: retries, error rebuilding, the in-process ASGI bridge."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

import griffin
from griffin.client import transport as transport_module
from griffin.client.asgi import Message, PortalTransport, Receive, Send
from griffin.client.transport import Transport
from griffin.config import load_settings


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport_module, "_backoff", lambda attempt: None)


def _mock(handler: Any) -> Transport:
    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://mock/api/v1")
    return Transport(http, "http://mock")


def _error(status: int, code: str, message: str) -> httpx.Response:
    body = {"error": {"code": code, "message": message, "details": {"x": 1}}}
    return httpx.Response(status, json=body)


def test_unreachable_server_is_backend_unavailable_naming_the_url() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    client = griffin.Client(url, settings=load_settings())
    try:
        with pytest.raises(griffin.BackendUnavailable, match=f"127.0.0.1:{port}"):
            client.whoami()
    finally:
        client.close()


def test_idempotent_requests_retry_on_503_and_connect_errors() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(calls) == 2:
            return _error(503, "BACKEND_UNAVAILABLE", "database restarting")
        return httpx.Response(200, json={"ok": True})

    assert _mock(handler).request("GET", "/whoami").json() == {"ok": True}
    assert calls == ["GET", "GET", "GET"]


def test_posts_are_not_repeated_after_the_server_saw_them() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return _error(503, "BACKEND_UNAVAILABLE", "database down")

    with pytest.raises(griffin.BackendUnavailable, match="database down"):
        _mock(handler).request("POST", "/runs/r/batch", json={"metrics": []})
    assert calls == ["POST"]

    calls.clear()

    def refused(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(griffin.BackendUnavailable, match="cannot reach the Griffin server"):
        _mock(refused).request("POST", "/runs/r/batch", json={"metrics": []})
    assert calls == ["POST"] * transport_module.ATTEMPTS  # never sent: safe to resend


def test_error_bodies_become_the_same_class() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/gone"):
            return _error(404, "NOT_FOUND", "run r-1 does not exist")
        return httpx.Response(502, text="<html>bad gateway</html>")

    mock = _mock(handler)
    with pytest.raises(griffin.NotFound, match="r-1") as caught:
        mock.request("GET", "/gone")
    assert caught.value.details == {"x": 1}
    with pytest.raises(griffin.GriffinError, match="HTTP 502"):
        mock.request("GET", "/proxy")


def test_replayable_bodies_are_rebuilt_for_each_attempt() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.read())
        if len(bodies) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(201, json={})

    def chunks() -> Iterator[bytes]:
        yield b"abc"
        yield b"def"

    _mock(handler).request("PUT", "/runs/r/artifacts/f", content=chunks)
    assert bodies == [b"abcdef", b"abcdef"]


class _RecordingApp:
    """An ASGI app that records how its request body arrived."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.produced_at_first_chunk: int | None = None
        self.produced = 0

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            if message["body"] and self.produced_at_first_chunk is None:
                self.produced_at_first_chunk = self.produced
            self.chunks.append(message["body"])
            if not message["more_body"]:
                break
        body = orjson.dumps({"path": scope["path"], "size": sum(map(len, self.chunks))})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


def test_in_process_bodies_stream_chunk_by_chunk() -> None:
    app = _RecordingApp()
    portal = PortalTransport(app)
    http = httpx.Client(transport=portal, base_url="http://inprocess")

    def produce() -> Iterator[bytes]:
        for _ in range(50):
            app.produced += 1
            yield b"x" * 1000

    try:
        response = http.put("/a%20b/c", content=produce())
        assert response.json() == {"path": "/a b/c", "size": 50_000}
        assert len([c for c in app.chunks if c]) == 50
        # The app saw the first chunk long before the body was fully produced: streamed.
        assert app.produced_at_first_chunk is not None
        assert app.produced_at_first_chunk < 10
    finally:
        http.close()
    with pytest.raises(griffin.BackendUnavailable, match="closed"):
        portal.handle_request(httpx.Request("GET", "http://inprocess/"))


def test_in_process_failing_body_is_a_disconnect_not_a_short_body() -> None:
    app = _RecordingApp()
    http = httpx.Client(transport=PortalTransport(app), base_url="http://inprocess")

    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise OSError("disk went away")

    try:
        with pytest.raises(OSError, match="disk went away"):
            http.put("/upload", content=broken())
        assert app.chunks == [b"partial"]  # never told "that was all of it"
    finally:
        http.close()


def test_in_process_transport_is_thread_safe() -> None:
    async def echo(scope: Message, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    http = httpx.Client(transport=PortalTransport(echo), base_url="http://inprocess")
    failures: list[str] = []

    def worker(n: int) -> None:
        for i in range(50):
            payload = f"{n}-{i}".encode()
            if http.post("/echo", content=payload).content != payload:
                failures.append(f"{n}-{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    http.close()
    assert failures == []


def test_a_closed_client_says_so() -> None:
    client = griffin.Client("http://127.0.0.1:9", settings=load_settings())
    client.close()
    client.close()  # idempotent
    assert client.closed
    with pytest.raises(griffin.GriffinError, match="is closed"):
        client.get_run("r")
    with pytest.raises(griffin.GriffinError, match="closed"):
        griffin.start_run(client=client)
