"""A synchronous httpx transport that calls an ASGI app in-process, with no port opened.

httpx's own ``ASGITransport`` is async-only and starlette's ``TestClient`` is deprecated and
re-raises server exceptions, so the embedded SDK runs the app here: an anyio event loop lives in
a daemon thread behind a blocking portal owned by this transport, and each request is one task
in it. Any number of threads may send requests at once (the metric flusher does, beside the
caller's thread); the portal serialises nothing but the hand-off.

Request bodies stream: the caller's thread iterates the sync request stream and hands each chunk
to the app's ``receive`` through a small bounded channel, so an artifact upload never sits whole
in memory. Responses are collected, which is fine for JSON; artifact downloads in-process are
buffered (the embedded store is local, so a download is a copy of a local file anyway).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import unquote

import anyio
import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from anyio.streams.memory import MemoryObjectReceiveStream

from griffin.errors import BackendUnavailable, GriffinError

__all__ = ["ASGIApp", "PortalTransport"]

log = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]

# Chunks queued between the caller's thread and the app: enough to overlap reading the file
# with writing it, small enough that a 1 MiB-chunked upload holds a few MiB at most.
_CHANNEL_CHUNKS = 4
# Stands for "the caller failed while producing the body": the app sees a disconnect, so a
# half-read upload is discarded instead of being stored truncated.
_ABORT = None


class _Exchange:
    """One request/response pair as seen from inside the event loop."""

    def __init__(self, body: bytes | MemoryObjectReceiveStream[bytes | None]) -> None:
        self.body = body
        self.body_done = False
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.response_done = anyio.Event()

    async def receive(self) -> Message:
        if self.body_done or self.response_done.is_set():
            # ASGI: once the body is read, receive() blocks until the client goes away.
            # Returning a disconnect early would make starlette cancel a streaming response.
            await self.response_done.wait()
            return {"type": "http.disconnect"}
        if isinstance(self.body, bytes):
            self.body_done = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        try:
            chunk = await self.body.receive()
        except anyio.EndOfStream:
            self.body_done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if chunk is _ABORT:
            self.body_done = True
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            self.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            self.chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self.response_done.set()


class PortalTransport(httpx.BaseTransport):
    """Runs every request through ``app`` on an event loop owned by this transport.

    Args:
        app: the ASGI application (``griffin.server.create_app(platform=...)``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._portal_cm: AbstractContextManager[BlockingPortal] | None = start_blocking_portal(
            name="griffin-inprocess"
        )
        self._portal: BlockingPortal | None = self._portal_cm.__enter__()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        portal = self._portal
        if portal is None:
            raise BackendUnavailable("this in-process Griffin client is closed")
        scope: Message = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "scheme": request.url.scheme,
            "path": unquote(request.url.path),
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "root_path": "",
            "server": (request.url.host, request.url.port or 80),
            "client": ("127.0.0.1", 0),
        }
        if isinstance(request.stream, httpx.ByteStream):
            exchange = _Exchange(request.read())
            future = portal.start_task_soon(self._call, scope, exchange)
        else:
            sender, receiver = anyio.create_memory_object_stream[bytes | None](_CHANNEL_CHUNKS)
            exchange = _Exchange(receiver)
            future = portal.start_task_soon(self._call, scope, exchange)
            self._pump(portal, request, sender)
        future.result()
        if exchange.status is None:  # pragma: no cover - the app always answers or raises
            raise GriffinError(f"the in-process server sent no response to {request.url.path}")
        return httpx.Response(
            exchange.status, headers=exchange.headers, content=b"".join(exchange.chunks)
        )

    def _pump(self, portal: BlockingPortal, request: httpx.Request, sender: Any) -> None:
        """Feed the request body to the app chunk by chunk, from the caller's thread."""
        try:
            for chunk in request.stream:  # type: ignore[union-attr]
                if chunk:
                    portal.call(sender.send, bytes(chunk))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return  # the app answered without reading the whole body (e.g. 401, 413)
        except BaseException:
            # A failing body (unreadable file, interrupted generator) must not look complete.
            try:
                portal.call(sender.send, _ABORT)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass
            finally:
                portal.call(sender.aclose)
            raise
        portal.call(sender.aclose)

    async def _call(self, scope: Message, exchange: _Exchange) -> None:
        try:
            await self._app(scope, exchange.receive, exchange.send)
        except Exception:
            # Starlette's ServerErrorMiddleware re-raises after it has already sent the 500
            # JSON body (which the caller turns into a GriffinError); only an app that fails
            # before answering is an error of this transport.
            if exchange.status is None:
                raise
            log.debug("in-process app raised after answering", exc_info=True)
        finally:
            exchange.response_done.set()
            if not isinstance(exchange.body, bytes):
                await exchange.body.aclose()

    def close(self) -> None:
        """Stop the event loop and its thread; later requests raise ``BackendUnavailable``."""
        with self._lock:
            portal_cm, self._portal_cm, self._portal = self._portal_cm, None, None
        if portal_cm is not None:
            portal_cm.__exit__(None, None, None)
