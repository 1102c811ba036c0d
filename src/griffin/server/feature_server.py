"""The lean feature server of ``griffin features serve``: online reads over HTTP, nothing else.

A bare ASGI application rather than FastAPI: routing, dependency injection and validation
layers cost more per request than a one-entity Redis read, and this process has three routes.
The read itself is the same as everywhere else (:class:`~griffin.features.serving.ProjectReaders`
over :class:`~griffin.features.serving.OnlineReader`), and so are the request format, the
response format, authentication and the error bodies of ``griffin server``:

- ``POST /api/v1/projects/{project}/features/online`` (also under ``griffin server``)
- ``GET /healthz``: the process is up; ``GET /readyz``: the online store answers.

Callers are identified as everywhere (:class:`~griffin.server.principals.Principals`: a
token is checked once, then trusted for a few seconds).
"""

from __future__ import annotations

import logging
import os

import anyio.to_thread
import orjson

from griffin._version import __version__
from griffin.config import Settings
from griffin.errors import (
    GriffinError,
    MethodNotAllowed,
    NotFound,
)
from griffin.features.project import Definitions
from griffin.features.serving import ProjectReaders
from griffin.platform import Platform, open_platform
from griffin.server.asgi import JSON_HEADERS, Headers, Receive, Scope, Send, respond
from griffin.server.limits import read_body
from griffin.server.principals import Principals
from griffin.server.schemas.feature_serving import encode_online_result, parse_online_request

__all__ = ["DEFINITIONS_ENV", "FeatureServer", "app_from_env"]

log = logging.getLogger(__name__)

# Where `griffin features serve --workers N` tells its worker processes the definitions path
# (not a GRIFFIN_* variable: those are settings, and unknown ones are refused).
DEFINITIONS_ENV = "_GRIFFIN_FEATURE_SERVER_DEFINITIONS"
_PREFIX = "/api/v1/projects/"
_SUFFIX = "/features/online"


class FeatureServer:
    """The ASGI app: ``uvicorn.run(FeatureServer(platform), ...)``.

    Args:
        platform: the opened platform (metadata database and online store). Closed on
            shutdown when ``owns_platform``.
        definitions: your project's definitions, used in place of the registry's objects of
            the same names, so their on-demand views can run here.
        owns_platform: close ``platform`` when the server shuts down.
        blocking_store: read the store with its sync client on the event loop (the
            default). Measured on Redis, redis-py's asyncio client spends more CPU per MGET
            than the sync one waits for the answer, and this process does nothing but reads:
            blocking is faster per request and no slower in throughput per core. Run
            ``--workers`` for more concurrency; pass False to keep the loop free.
    """

    def __init__(
        self,
        platform: Platform,
        *,
        definitions: Definitions | None = None,
        owns_platform: bool = False,
        blocking_store: bool = True,
    ) -> None:
        self.platform = platform
        self.blocking_store = blocking_store
        self.settings: Settings = platform.settings
        self.readers = ProjectReaders(platform.db, platform.online_store(), local=definitions)
        self.owns_platform = owns_platform
        self.principals = Principals(platform)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await respond(scope, send, self._handle(scope, receive))
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.owns_platform:
                    self.platform.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, bytes, Headers]:
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
            project = path[len(_PREFIX) : -len(_SUFFIX)]
            if project and "/" not in project:
                if method != "POST":
                    raise MethodNotAllowed(f"{method} is not allowed on {path}")
                principal = await self.principals.of(scope)
                request = parse_online_request(await read_body(receive))
                result = await self.readers.aread(
                    principal, project, request, blocking_store=self.blocking_store
                )
                return 200, encode_online_result(result), JSON_HEADERS
        if path == "/healthz" and method == "GET":
            return 200, orjson.dumps({"status": "ok", "version": __version__}), JSON_HEADERS
        if path == "/readyz" and method == "GET":
            try:
                await anyio.to_thread.run_sync(self.readers.store.ping)
            except GriffinError as exc:
                body = orjson.dumps({"status": "unavailable", "reason": exc.message})
                return 503, body, JSON_HEADERS
            return 200, orjson.dumps({"status": "ok"}), JSON_HEADERS
        raise NotFound(f"no such endpoint: {method} {path}")


def app_from_env() -> FeatureServer:
    """The app each uvicorn worker builds (``--workers`` > 1): GRIFFIN_* settings and the
    definitions path in ``_GRIFFIN_FEATURE_SERVER_DEFINITIONS``."""
    from griffin.config import load_settings

    path = os.environ.get(DEFINITIONS_ENV)
    definitions = None
    if path:
        from griffin.features.project import load_definitions

        definitions = load_definitions(path)
    return FeatureServer(
        open_platform(load_settings()), definitions=definitions, owns_platform=True
    )
