"""Reading and writing deployments and their revisions (no permission checks: see
:mod:`griffin.serving.deployments`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from griffin.domain.deployments import (
    Deployment,
    DeploymentAction,
    DeploymentConfig,
    DeploymentRevision,
)
from griffin.errors import NotFound
from griffin.features.common import unknown_name
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.deployments import DeploymentRevisionRow, DeploymentRow


def to_domain(row: DeploymentRow, project: str) -> Deployment:
    return Deployment(
        id=row.id,
        project=project,
        name=row.name,
        description=row.description,
        config=DeploymentConfig.parse(row.config),
        revision=row.revision,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        tags=dict(row.tags or {}),
    )


def revision_to_domain(row: DeploymentRevisionRow) -> DeploymentRevision:
    return DeploymentRevision(
        revision=row.revision,
        action=DeploymentAction(row.action),
        config=DeploymentConfig.parse(row.config),
        created_by=row.created_by,
        created_at=row.created_at,
        comment=row.comment,
        rolled_back_to=row.rolled_back_to,
    )


def find(
    session: Session, project: ProjectRow, name: str, *, for_update: bool = False
) -> DeploymentRow | None:
    query = select(DeploymentRow).where(
        DeploymentRow.project_id == project.id, DeploymentRow.name == name
    )
    if for_update and session.get_bind().dialect.name == "postgresql":
        # Revision numbers are handed out under this row lock: two writers never share one.
        query = query.with_for_update()
    return session.scalar(query)


def get_row(
    session: Session, project: ProjectRow, name: str, *, for_update: bool = False
) -> DeploymentRow:
    row = find(session, project, name, for_update=for_update)
    if row is None:
        names = session.scalars(
            select(DeploymentRow.name).where(DeploymentRow.project_id == project.id)
        )
        hint = unknown_name(f"project {project.name!r}", "deployment", name, names)
        raise NotFound(hint.message, details={**hint.details, "deployment": name})
    return row


def list_rows(session: Session, project: ProjectRow) -> list[DeploymentRow]:
    query = (
        select(DeploymentRow)
        .where(DeploymentRow.project_id == project.id)
        .order_by(DeploymentRow.name)
    )
    return list(session.scalars(query))


def revisions(session: Session, deployment_id: str, limit: int = 100) -> list[DeploymentRevision]:
    """The deployment's revisions, newest first."""
    query = (
        select(DeploymentRevisionRow)
        .where(DeploymentRevisionRow.deployment_id == deployment_id)
        .order_by(DeploymentRevisionRow.revision.desc())
        .limit(limit)
    )
    return [revision_to_domain(r) for r in session.scalars(query)]


def get_revision(session: Session, row: DeploymentRow, revision: int) -> DeploymentRevisionRow:
    found = session.get(DeploymentRevisionRow, (row.id, revision))
    if found is None:
        raise NotFound(
            f"deployment {row.name!r} has no revision {revision} (its revisions: 1 to "
            f"{row.revision})",
            details={"deployment": row.name, "revision": revision},
        )
    return found
