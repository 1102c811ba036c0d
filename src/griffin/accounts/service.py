"""Project and token behaviour, shared by the REST API, the CLI and the bootstrap path."""

from __future__ import annotations

from griffin.domain.accounts import ALL_PROJECTS, Principal, Project, Role, TokenInfo
from griffin.domain.validation import check_name, check_user
from griffin.errors import InvalidArgument, PermissionDenied, Unauthenticated
from griffin.store import projects, tokens
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.base import utcnow
from griffin.store.session import Database

__all__ = [
    "authenticate",
    "create_project",
    "create_token",
    "get_project",
    "issue_job_token",
    "list_projects",
    "list_tokens",
    "revoke_job_tokens",
    "revoke_token",
]


def authenticate(db: Database, secret: str) -> Principal:
    """The principal a bearer token stands for; ``Unauthenticated`` if unknown or revoked."""
    with db.session(write=True) as session:
        info = tokens.lookup(session, secret)
        if info is None:
            raise Unauthenticated("the API token is not valid (unknown or revoked)")
        row = tokens.get_row(session, info.id)
        # Only record use when it changes by a minute or more: no write per request.
        now = utcnow()
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            row.last_used_at = now
    return Principal(user=info.user, project=info.project, role=info.role, token_id=info.id)


def create_project(db: Database, principal: Principal, name: str, description: str = "") -> Project:
    check_name(name, field="project")
    if not (principal.project == ALL_PROJECTS and principal.role.allows(Role.ADMIN)):
        raise PermissionDenied("creating a project needs a site-wide admin token (--project '*')")
    with db.session(write=True) as session:
        return projects.create(session, name, description)


def get_project(db: Database, principal: Principal, name: str) -> Project:
    principal.require(Role.VIEWER, name)
    with db.session() as session:
        return projects.get(session, name)


def list_projects(db: Database, principal: Principal) -> list[Project]:
    with db.session() as session:
        return [p for p in projects.list_all(session) if principal.can(Role.VIEWER, p.name)]


def create_token(
    db: Database,
    principal: Principal | None,
    *,
    user: str,
    project: str,
    role: Role,
    description: str = "",
) -> tuple[TokenInfo, str]:
    """Issue a token. ``principal=None`` is the bootstrap path (direct database access).

    Over the API, an admin of a project may issue tokens for it; only a site-wide admin may issue
    site-wide tokens. A missing project is created on the bootstrap path only.
    """
    check_user(user)
    if project != ALL_PROJECTS:
        check_name(project, field="project")
    if principal is not None:
        principal.require(Role.ADMIN, project)
    with db.session(write=True) as session:
        if project == ALL_PROJECTS:
            project_row = None
        elif principal is None:
            project_row = projects.ensure(session, project)
        else:
            project_row = projects.get_row(session, project)
        user_row = projects.ensure_user(session, user)
        return tokens.create(
            session, user=user_row, project=project_row, role=role, description=description
        )


def list_tokens(db: Database, principal: Principal | None, project: str | None) -> list[TokenInfo]:
    if principal is not None:
        principal.require(Role.ADMIN, project or ALL_PROJECTS)
    with db.session() as session:
        row = projects.get_row(session, project) if project and project != ALL_PROJECTS else None
        return tokens.list_for(session, row)


def revoke_token(db: Database, principal: Principal | None, token_id: str) -> None:
    with db.session(write=True) as session:
        row = tokens.get_row(session, token_id)
        if principal is not None:
            owner = session.get(ProjectRow, row.project_id) if row.project_id else None
            principal.require(Role.ADMIN, owner.name if owner else ALL_PROJECTS)
        if principal is not None and principal.token_id == token_id:
            raise InvalidArgument("a token cannot revoke itself; use another admin token")
        tokens.revoke(session, token_id)


def _job_token_label(job_id: str) -> str:
    return f"job {job_id} "


def issue_job_token(db: Database, user: str, project: str, job_id: str, attempt: int) -> str:
    """A token for one attempt of a job: its submitter's, as an editor of its project.

    The job's process gets it instead of the dispatcher's own credentials; the dispatcher
    revokes it when the attempt ends (:func:`revoke_job_tokens`). Returns the secret.
    """
    _, secret = create_token(
        db,
        None,
        user=user or "anonymous",
        project=project,
        role=Role.EDITOR,
        description=f"{_job_token_label(job_id)}attempt {attempt}",
    )
    return secret


def revoke_job_tokens(db: Database, job_id: str) -> int:
    """Revoke every live token issued to a job's attempts; returns how many."""
    with db.session(write=True) as session:
        return tokens.revoke_described(session, _job_token_label(job_id))
