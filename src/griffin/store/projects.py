"""Projects and users in the metadata store."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from griffin.domain.accounts import Project
from griffin.domain.ids import new_id
from griffin.errors import AlreadyExists, NotFound
from griffin.store.dml import insert_missing
from griffin.store.orm.accounts import ProjectRow, UserRow
from griffin.store.orm.base import utcnow

__all__ = ["create", "ensure", "ensure_user", "get", "get_row", "list_all"]


def to_domain(row: ProjectRow) -> Project:
    return Project(id=row.id, name=row.name, description=row.description, created_at=row.created_at)


def get_row(session: Session, name: str) -> ProjectRow:
    row = session.scalar(select(ProjectRow).where(ProjectRow.name == name))
    if row is None:
        raise NotFound(f"project '{name}' does not exist", details={"project": name})
    return row


def get(session: Session, name: str) -> Project:
    return to_domain(get_row(session, name))


def create(session: Session, name: str, description: str = "") -> Project:
    if session.scalar(select(ProjectRow.id).where(ProjectRow.name == name)) is not None:
        raise AlreadyExists(f"project '{name}' already exists", details={"project": name})
    row = ProjectRow(id=new_id(), name=name, description=description, created_at=utcnow())
    session.add(row)
    session.flush()
    return to_domain(row)


def ensure(session: Session, name: str) -> ProjectRow:
    """The project row, created on first use (the embedded store's default project)."""
    query = select(ProjectRow).where(ProjectRow.name == name)
    row = session.scalar(query)
    if row is None:
        values = {"id": new_id(), "name": name, "description": "", "created_at": utcnow()}
        insert_missing(session, ProjectRow, values, ["name"])
        row = session.scalar(query)  # ours, or the one a concurrent caller created first
        assert row is not None
    return row


def list_all(session: Session) -> list[Project]:
    return [to_domain(r) for r in session.scalars(select(ProjectRow).order_by(ProjectRow.name))]


def ensure_user(session: Session, name: str) -> UserRow:
    query = select(UserRow).where(UserRow.name == name)
    row = session.scalar(query)
    if row is None:
        insert_missing(
            session, UserRow, {"id": new_id(), "name": name, "created_at": utcnow()}, ["name"]
        )
        row = session.scalar(query)
        assert row is not None
    return row


def get_row_by_id(session: Session, project_id: str) -> ProjectRow:
    row = session.get(ProjectRow, project_id)
    if row is None:
        raise NotFound(f"project {project_id} does not exist", details={"project_id": project_id})
    return row
