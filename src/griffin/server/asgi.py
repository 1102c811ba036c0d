"""What the bare ASGI servers (feature server, inference server) share: the ASGI types, and
turning a handler's answer or error into a response with Griffin's error body."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from griffin.errors import GriffinError

__all__ = ["JSON_HEADERS", "Headers", "Receive", "Scope", "Send", "respond"]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
JSON_HEADERS: Headers = [(b"content-type", b"application/json")]


async def respond(scope: Scope, send: Send, answer: Awaitable[tuple[int, bytes, Headers]]) -> None:
    """Send ``answer``'s status, body and headers; a Griffin error as its status and JSON
    body; anything else as a logged 500 that tells the client no more than that."""
    headers = JSON_HEADERS
    try:
        status, body, headers = await answer
    except GriffinError as exc:
        if exc.http_status >= 500:
            log.error("%s %s: %s", scope["method"], scope["path"], exc.message)
        status, body = exc.http_status, orjson.dumps(exc.to_payload())
    except Exception:
        log.exception("unhandled error in %s %s", scope["method"], scope["path"])
        error = GriffinError("internal server error; see the server log")
        status, body = 500, orjson.dumps(error.to_payload())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
