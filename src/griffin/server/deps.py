"""Request dependencies: the platform and the calling principal."""

from __future__ import annotations

import getpass
from typing import Annotated

from fastapi import Depends, Request

from griffin.accounts.service import authenticate
from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.errors import Unauthenticated
from griffin.platform import Platform

__all__ = ["USER_HEADER", "CurrentPlatform", "CurrentPrincipal"]

# With auth off, the SDK names its OS user here so runs record who made them.
USER_HEADER = "x-griffin-user"


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def get_principal(request: Request) -> Principal:
    platform = get_platform(request)
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        return authenticate(platform.db, secret.strip())
    if platform.settings.auth == "required":
        raise Unauthenticated(
            "this server requires an API token: set GRIFFIN_TOKEN (create one with "
            "`griffin tokens create`)"
        )
    user = request.headers.get(USER_HEADER, "")[:128] or _local_user()
    return Principal(user=user, project=ALL_PROJECTS, role=Role.ADMIN)


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "anonymous"


CurrentPlatform = Annotated[Platform, Depends(get_platform)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
