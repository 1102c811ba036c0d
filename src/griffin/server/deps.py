"""Request dependencies: the platform and the calling principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from griffin.accounts.service import authenticate
from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.errors import Unauthenticated
from griffin.platform import Platform
from griffin.server.principals import USER_HEADER, local_user

__all__ = ["USER_HEADER", "CurrentPlatform", "CurrentPrincipal"]


# Both dependencies are coroutines: FastAPI runs a plain function in its thread pool, a hop
# that costs more than what these do (the token lookup, a database read, takes that hop).


async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def get_principal(request: Request) -> Principal:
    platform: Platform = request.app.state.platform
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        return await run_in_threadpool(authenticate, platform.db, secret.strip())
    if platform.settings.auth == "required":
        raise Unauthenticated(
            "this server requires an API token: set GRIFFIN_TOKEN (create one with "
            "`griffin tokens create`)"
        )
    user = request.headers.get(USER_HEADER, "")[:128] or local_user()
    return Principal(user=user, project=ALL_PROJECTS, role=Role.ADMIN)


CurrentPlatform = Annotated[Platform, Depends(get_platform)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
