"""Projects, roles and the caller of a request (a principal): pure rules, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from griffin.errors import PermissionDenied

__all__ = ["ALL_PROJECTS", "Principal", "Project", "Role", "TokenInfo"]

# The project name a site-wide token is scoped to.
ALL_PROJECTS = "*"


class Role(StrEnum):
    """What a token may do in its project; each role includes the ones below it."""

    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    name: str
    description: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed: never the secret."""

    id: str
    user: str
    project: str  # a project name, or ALL_PROJECTS
    role: Role
    description: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and with which rights.

    ``project`` is a project *name* or ``ALL_PROJECTS``. With auth off, every caller is the
    local user with admin rights on every project.
    """

    user: str
    project: str
    role: Role
    token_id: str | None = None

    def can(self, role: Role, project: str) -> bool:
        in_scope = self.project in (ALL_PROJECTS, project)
        return in_scope and self.role.allows(role)

    def require(self, role: Role, project: str) -> None:
        """Raise ``PermissionDenied`` unless this principal holds ``role`` on ``project``."""
        if self.project not in (ALL_PROJECTS, project):
            raise PermissionDenied(
                f"this token is for project '{self.project}', not '{project}'",
                details={"project": project},
            )
        if not self.role.allows(role):
            raise PermissionDenied(
                f"this token's role '{self.role}' on project '{project}' cannot do this; "
                f"it needs '{role}'",
                details={"project": project, "needed": str(role)},
            )
