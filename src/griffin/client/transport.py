"""How the SDK reaches the REST API: over HTTP to a server, or in-process on the embedded store.

Both transports are an ``httpx.Client`` behind one small interface (:class:`Transport`), so
every SDK method is written once against REST and the SDK test suite runs against both. Error
bodies are rebuilt into the server's own exception class with :func:`griffin.errors.from_payload`.
"""

from __future__ import annotations

import getpass
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from griffin._version import __version__
from griffin.errors import BackendUnavailable, GriffinError, from_payload

if TYPE_CHECKING:
    from griffin.config import Settings
    from griffin.platform import Platform

__all__ = ["HttpTransport", "InProcessTransport", "Transport", "local_user"]

log = logging.getLogger(__name__)

USER_HEADER = "x-griffin-user"  # read by griffin.server.deps when auth is off
ATTEMPTS = 3
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"})
# A body the transport can send again: bytes, or a factory of fresh chunk iterators (a file
# reopened from the start), so even streamed uploads survive a refused connection.
Body = bytes | Callable[[], Iterable[bytes]] | None
Params = Mapping[str, str | int | bool | None]


def local_user() -> str:
    """The OS user, sent as ``x-griffin-user`` so runs record who made them when auth is off."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "anonymous"


def _headers(token: str | None) -> dict[str, str]:
    headers = {"user-agent": f"griffin-sdk/{__version__}"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    else:
        headers[USER_HEADER] = local_user()
    return headers


class Transport:
    """Sends REST requests and turns error answers into Griffin exceptions.

    Args:
        http: the configured ``httpx.Client`` (base URL, headers, wire transport).
        where: how to name the other end in error messages (a URL, or the embedded store).
        attempts: tries for a request that failed to connect or met a 503.
    """

    def __init__(self, http: httpx.Client, where: str, *, attempts: int = ATTEMPTS) -> None:
        self.http = http
        self.where = where
        self.attempts = attempts
        self.closed = False

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        content: Body = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one request and return its (successful) response, read whole."""
        if json is not None:
            content = orjson.dumps(json)
            headers = {"content-type": "application/json", **(headers or {})}
        return self._send(method, path, params, content, headers, idempotent, stream=False)

    @contextmanager
    def stream(
        self, method: str, path: str, *, params: Params | None = None
    ) -> Iterator[httpx.Response]:
        """Send one request and yield its successful response unread, for chunked reading."""
        response = self._send(method, path, params, None, None, None, stream=True)
        try:
            yield response
        finally:
            response.close()

    def _send(
        self,
        method: str,
        path: str,
        params: Params | None,
        content: Body,
        headers: Mapping[str, str] | None,
        idempotent: bool | None,
        *,
        stream: bool,
    ) -> httpx.Response:
        if self.closed:  # httpx would raise a bare RuntimeError
            raise GriffinError(f"this Griffin client ({self.where}) is closed; open a new one")
        if idempotent is None:
            idempotent = method in _IDEMPOTENT
        query = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in range(1, self.attempts + 1):
            body = content() if callable(content) else content
            request = self.http.build_request(
                method, path, params=query or None, content=body, headers=headers
            )
            try:
                response = self.http.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing reached the server: any request may be sent again.
                if attempt < self.attempts:
                    _backoff(attempt)
                    continue
                raise BackendUnavailable(
                    f"cannot reach the Griffin server at {self.where}: {exc or type(exc).__name__}"
                    "; is it running, and is GRIFFIN_URL right?",
                    details={"url": self.where},
                ) from None
            except httpx.TransportError as exc:
                # The request may have been applied: only idempotent ones are repeated.
                if idempotent and attempt < self.attempts:
                    _backoff(attempt)
                    continue
                raise BackendUnavailable(
                    f"the Griffin server at {self.where} failed to answer {method} {path}: "
                    f"{exc or type(exc).__name__}",
                    details={"url": self.where},
                ) from None
            if response.status_code == 503 and idempotent and attempt < self.attempts:
                response.close()
                _backoff(attempt)
                continue
            if response.status_code >= 400:
                error = _error(response)
                response.close()  # a streamed response would otherwise hold its connection
                raise error
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Release connections (and, in-process, the event loop and the database)."""
        self.closed = True
        self.http.close()


def _backoff(attempt: int) -> None:
    # Exponential with jitter, so clients restarted together do not retry in lockstep.
    time.sleep(0.2 * 2 ** (attempt - 1) * (0.5 + random.random()))


def _error(response: httpx.Response) -> GriffinError:
    try:
        payload = orjson.loads(response.read())
    except (orjson.JSONDecodeError, httpx.HTTPError):
        payload = None
    return from_payload(response.status_code, payload)


class HttpTransport(Transport):
    """HTTP with keep-alive to a Griffin server.

    Args:
        url: the server's base URL (``GRIFFIN_URL``).
        token: API token sent as a bearer token; without one, the OS user is sent instead.
    """

    def __init__(self, url: str, token: str | None) -> None:
        url = url.rstrip("/")
        http = httpx.Client(
            base_url=f"{url}/api/v1",
            headers=_headers(token),
            # Generous read timeout: big batches and uploads legitimately take a while.
            timeout=httpx.Timeout(120.0, connect=10.0),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )
        super().__init__(http, url)


class InProcessTransport(Transport):
    """The REST app called in-process on the embedded store: no server, no port.

    The embedded store has no server process whose lifespan task reaps runs that stopped
    sending heartbeats, so opening one fails such stale runs once, here.

    Args:
        settings: where the metadata database and artifacts live.
        token: API token, needed only when ``settings.auth`` is ``"required"``.
    """

    def __init__(self, settings: Settings, token: str | None) -> None:
        # Imported here: the server stack is heavy and unneeded when talking HTTP.
        from griffin.client.asgi import PortalTransport
        from griffin.platform import open_platform
        from griffin.server import create_app
        from griffin.tracking.runs import fail_stale_runs

        self.platform: Platform = open_platform(settings)
        try:
            failed = fail_stale_runs(self.platform.db, settings.heartbeat_timeout_s)
            if failed:
                log.warning("marked %d run(s) FAILED after a lapsed heartbeat", len(failed))
            self._asgi = PortalTransport(create_app(platform=self.platform))
        except BaseException:
            self.platform.close()
            raise
        http = httpx.Client(
            transport=self._asgi,
            base_url="http://griffin.inprocess/api/v1",
            headers=_headers(token),
            timeout=None,
        )
        super().__init__(http, f"the embedded store ({self.platform.db.masked_url})", attempts=1)

    def close(self) -> None:
        super().close()
        self._asgi.close()
        self.platform.close()
