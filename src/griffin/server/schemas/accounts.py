"""Wire format of projects, tokens and the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints

from griffin.domain.accounts import Role
from griffin.server.schemas.tracking import Description, Name, Wire


class ProjectCreate(Wire):
    name: Name
    description: Description = ""


class ProjectOut(Wire):
    id: str
    name: str
    description: str
    created_at: datetime


class TokenCreate(Wire):
    user: Name
    role: Role
    description: Annotated[str, StringConstraints(max_length=256)] = ""


class TokenOut(Wire):
    id: str
    user: str
    project: str
    role: Role
    description: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    secret: str | None = None

    @classmethod
    def of(cls, obj: object, secret: str | None = None) -> TokenOut:
        """The token's wire form; ``secret`` only in the response that created it."""
        return super().of(obj).model_copy(update={"secret": secret})


class WhoAmI(Wire):
    user: str
    project: str
    role: Role
