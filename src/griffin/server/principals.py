"""Who calls a bare ASGI server (the feature server, the inference server): one place.

The same rules as ``griffin server``'s dependency (:mod:`griffin.server.deps`): a bearer token
is checked against the metadata database; without one, the caller is the local user (or the
user the SDK names) as an admin, unless the settings require tokens. A token is checked once,
then trusted for ``TOKEN_CACHE_S`` seconds (a revoked token stops working within that time):
these servers answer thousands of requests a second, each of which would otherwise be a
database read.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import time
from collections.abc import MutableMapping
from typing import Any

import anyio.to_thread

from griffin.accounts.service import authenticate
from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.errors import Unauthenticated
from griffin.platform import Platform

__all__ = ["TOKEN_CACHE_S", "USER_HEADER", "Principals", "local_user"]

TOKEN_CACHE_S = 10.0
# With auth off, the SDK names its OS user here so runs record who made them.
USER_HEADER = "x-griffin-user"
_USER_HEADER = USER_HEADER.encode()


@functools.cache  # the server's OS user does not change while it runs
def local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "anonymous"


class Principals:
    """The principal of each request to a bare ASGI server on ``platform``."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._tokens: dict[bytes, tuple[float, Principal]] = {}
        self._local = Principal(user=local_user(), project=ALL_PROJECTS, role=Role.ADMIN)

    async def of(self, scope: MutableMapping[str, Any]) -> Principal:
        header = b""
        user = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
            elif name == _USER_HEADER:
                user = value
        if header:
            scheme, _, secret = header.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
            return await self.of_token(secret.strip())
        if self.platform.settings.auth == "required":
            raise Unauthenticated(
                "this server requires an API token: set GRIFFIN_TOKEN (create one with "
                "`griffin tokens create`)"
            )
        if user:
            return Principal(
                user=user.decode("latin-1")[:128], project=ALL_PROJECTS, role=Role.ADMIN
            )
        return self._local

    async def of_token(self, secret: str) -> Principal:
        """The principal an API token stands for (cached for ``TOKEN_CACHE_S``)."""
        digest = hashlib.sha256(secret.encode()).digest()
        now = time.monotonic()
        cached = self._tokens.get(digest)
        if cached is not None and now - cached[0] < TOKEN_CACHE_S:
            return cached[1]
        principal = await anyio.to_thread.run_sync(authenticate, self.platform.db, secret)
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[digest] = (now, principal)
        return principal
