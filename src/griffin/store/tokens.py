"""API tokens: only the SHA-256 of a secret is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from griffin.domain.accounts import ALL_PROJECTS, Role, TokenInfo
from griffin.domain.ids import new_id
from griffin.errors import NotFound
from griffin.store.orm.accounts import ProjectRow, TokenRow, UserRow
from griffin.store.orm.base import utcnow

__all__ = [
    "TOKEN_PREFIX",
    "create",
    "hash_secret",
    "list_for",
    "lookup",
    "revoke",
    "revoke_described",
]

# A recognisable prefix lets secret scanners (and people) spot a leaked Griffin token.
TOKEN_PREFIX = "gft_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(row: TokenRow, user: str, project: str) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user=user,
        project=project,
        role=Role(row.role),
        description=row.description,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def create(
    session: Session,
    *,
    user: UserRow,
    project: ProjectRow | None,
    role: Role,
    description: str = "",
) -> tuple[TokenInfo, str]:
    """A new token and its secret (shown once, never stored)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = TokenRow(
        id=new_id(),
        token_hash=hash_secret(secret),
        user_id=user.id,
        project_id=project.id if project else None,
        role=str(role),
        description=description,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return _info(row, user.name, project.name if project else ALL_PROJECTS), secret


def lookup(session: Session, secret: str) -> TokenInfo | None:
    """The live token with this secret, or ``None`` (unknown or revoked)."""
    query = (
        select(TokenRow, UserRow.name, ProjectRow.name)
        .join(UserRow, UserRow.id == TokenRow.user_id)
        .outerjoin(ProjectRow, ProjectRow.id == TokenRow.project_id)
        .where(TokenRow.token_hash == hash_secret(secret), TokenRow.revoked_at.is_(None))
    )
    found = session.execute(query).first()
    if found is None:
        return None
    row, user, project = found
    return _info(row, user, project or ALL_PROJECTS)


def list_for(session: Session, project: ProjectRow | None) -> list[TokenInfo]:
    """Tokens of one project (site-wide tokens when ``project`` is None and all=True)."""
    query = (
        select(TokenRow, UserRow.name, ProjectRow.name)
        .join(UserRow, UserRow.id == TokenRow.user_id)
        .outerjoin(ProjectRow, ProjectRow.id == TokenRow.project_id)
        .order_by(TokenRow.created_at)
    )
    if project is not None:
        query = query.where(TokenRow.project_id == project.id)
    return [_info(r, u, p or ALL_PROJECTS) for r, u, p in session.execute(query)]


def get_row(session: Session, token_id: str) -> TokenRow:
    row = session.get(TokenRow, token_id)
    if row is None:
        raise NotFound(f"token {token_id} does not exist", details={"token_id": token_id})
    return row


def revoke(session: Session, token_id: str) -> None:
    row = get_row(session, token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()


def revoke_described(session: Session, prefix: str) -> int:
    """Revoke the live tokens whose description starts with ``prefix``; returns how many."""
    query = select(TokenRow).where(
        TokenRow.description.startswith(prefix, autoescape=True), TokenRow.revoked_at.is_(None)
    )
    rows = list(session.scalars(query))
    now = utcnow()
    for row in rows:
        row.revoked_at = now
    return len(rows)
