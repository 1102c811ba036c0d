"""Wire format of projects, tokens and the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints

from griffin.domain.accounts import Principal, Project, Role, TokenInfo
from griffin.server.schemas.tracking import Description, Name, Wire


class ProjectCreate(Wire):
    name: Name
    description: Description = ""


class ProjectOut(Wire):
    id: str
    name: str
    description: str
    created_at: datetime

    @classmethod
    def of(cls, p: Project) -> ProjectOut:
        return cls(id=p.id, name=p.name, description=p.description, created_at=p.created_at)


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
    def of(cls, t: TokenInfo, secret: str | None = None) -> TokenOut:
        return cls(
            id=t.id,
            user=t.user,
            project=t.project,
            role=t.role,
            description=t.description,
            created_at=t.created_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
            secret=secret,
        )


class WhoAmI(Wire):
    user: str
    project: str
    role: Role

    @classmethod
    def of(cls, p: Principal) -> WhoAmI:
        return cls(user=p.user, project=p.project, role=p.role)
