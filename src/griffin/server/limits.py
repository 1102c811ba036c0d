"""Request-size limits, enforced once for every route before a body is parsed.

JSON bodies are capped (a client cannot make the server buffer gigabytes); artifact and dataset
uploads are exempt here because they stream to the artifact store, which enforces its own size
limit.
"""

from __future__ import annotations

import re

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from griffin.errors import PayloadTooLarge

__all__ = ["MAX_JSON_BODY", "BodyLimit", "read_body"]

MAX_JSON_BODY = 16 * 1024 * 1024
# Uploads that stream to the artifact store, which enforces its own limit (max_artifact_bytes).
_STREAMED = {
    # Griffin's artifact upload, and MLflow's artifact proxy PUT and multipart part PUT (under
    # /api/2.0 or a project's /projects/<p>/api/2.0; MLflow's client never uses 3.0 for them).
    "PUT": re.compile(
        r"^/api/v1/runs/[^/]+/artifacts/."
        r"|^(/projects/[^/]+)?/api/2\.0/mlflow-artifacts/(artifacts|mpu/part)/."
    ),
    "POST": re.compile(r"^/api/v1/projects/[^/]+/features/datasets/[^/]+$"),
}


class BodyLimit:
    """Reject request bodies over ``limit`` bytes with 413, by header or as they stream in."""

    def __init__(self, app: ASGIApp, limit: int = MAX_JSON_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streamed = _STREAMED.get(scope.get("method", "")) if scope["type"] == "http" else None
        if scope["type"] != "http" or (streamed is not None and streamed.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(send)
            return
        seen = 0
        rejected = False

        async def counted() -> Message:
            # Over the limit mid-stream: answer 413 ourselves and tell the app the client went
            # away (an exception here would be swallowed by the framework's body parser).
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                rejected = True
                await self._reject(send)
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not rejected:
                await send(message)

        await self.app(scope, counted, guarded_send)

    def _message(self) -> str:
        return (
            f"request body is over the {self.limit / 1024**2:g} MiB limit "
            f"({self.limit} bytes); upload files as artifacts instead"
        )

    async def _reject(self, send: Send) -> None:
        body = orjson.dumps(PayloadTooLarge(self._message()).to_payload())
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive, limit: int = MAX_JSON_BODY) -> bytes:
    """A bare ASGI app's request body, whole; ``PayloadTooLarge`` past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
