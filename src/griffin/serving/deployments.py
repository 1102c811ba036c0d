"""Deployments: create, update, roll back, list and read them, every change a revision.

A change is checked whole before anything is written: the configuration's fields
(:meth:`DeploymentConfig.parse`) and that every model reference in it names a version that
exists now, so a deployment never points at nothing. Rolling back makes an earlier revision's
configuration current again as a new revision: the history only grows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from griffin.domain.accounts import Principal, Role
from griffin.domain.deployments import (
    Deployment,
    DeploymentAction,
    DeploymentConfig,
    DeploymentRevision,
    check_deployment_name,
)
from griffin.domain.ids import new_id
from griffin.domain.registry import parse_model_ref
from griffin.domain.validation import check_tags, check_value
from griffin.errors import AlreadyExists, Conflict, NotFound
from griffin.registry import aliases
from griffin.store import deployments as store
from griffin.store import projects
from griffin.store import registry as registry_store
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.base import utcnow
from griffin.store.orm.deployments import DeploymentRevisionRow, DeploymentRow
from griffin.store.session import Database

__all__ = [
    "create_deployment",
    "deployment_history",
    "get_deployment",
    "list_deployments",
    "rollback_deployment",
    "update_deployment",
]

MAX_DESCRIPTION = 8000
MAX_COMMENT = 2000


def create_deployment(
    db: Database,
    principal: Principal,
    project: str,
    name: str,
    spec: Mapping[str, Any],
    *,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    comment: str = "",
) -> Deployment:
    """A new deployment at revision 1; ``AlreadyExists`` if the name is taken."""
    principal.require(Role.EDITOR, project)
    check_deployment_name(name)
    config = DeploymentConfig.parse(spec)
    checked_tags = check_tags(dict(tags or {}))
    check_value(description, limit=MAX_DESCRIPTION, field="description")
    check_value(comment, limit=MAX_COMMENT, field="comment")
    now = utcnow()
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        if store.find(session, project_row, name) is not None:
            raise AlreadyExists(
                f"deployment {name!r} already exists in project {project!r}; change it with update",
                details={"deployment": name},
            )
        _check_refs(session, project_row, config)
        row = DeploymentRow(
            id=new_id(),
            project_id=project_row.id,
            name=name,
            description=description,
            tags=checked_tags,
            config=config.to_json(),
            revision=1,
            created_by=principal.user,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        _record(session, row, DeploymentAction.CREATE, principal, comment)
        return store.to_domain(row, project)


def get_deployment(db: Database, principal: Principal, project: str, name: str) -> Deployment:
    principal.require(Role.VIEWER, project)
    with db.session() as session:
        project_row = projects.get_row(session, project)
        return store.to_domain(store.get_row(session, project_row, name), project)


def list_deployments(db: Database, principal: Principal, project: str) -> list[Deployment]:
    """The project's deployments, by name."""
    principal.require(Role.VIEWER, project)
    with db.session() as session:
        project_row = projects.get_row(session, project)
        return [store.to_domain(r, project) for r in store.list_rows(session, project_row)]


def update_deployment(
    db: Database,
    principal: Principal,
    project: str,
    name: str,
    changes: Mapping[str, Any],
    *,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    comment: str = "",
) -> Deployment:
    """Apply ``changes`` (configuration fields) as a new revision.

    A change that leaves the configuration as it is records nothing (the revision stays);
    ``description`` and ``tags`` (merged) are not part of the configuration and make no
    revision either.
    """
    principal.require(Role.EDITOR, project)
    check_value(comment, limit=MAX_COMMENT, field="comment")
    if description is not None:
        check_value(description, limit=MAX_DESCRIPTION, field="description")
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        row = store.get_row(session, project_row, name, for_update=True)
        current = DeploymentConfig.parse(row.config)
        config = current.merged(changes)
        now = utcnow()
        if description is not None:
            row.description = description
            row.updated_at = now
        if tags:
            row.tags = check_tags({**(row.tags or {}), **tags})
            row.updated_at = now
        if config != current:
            _check_refs(session, project_row, config)
            row.config = config.to_json()
            row.revision += 1
            row.updated_at = now
            session.flush()
            _record(session, row, DeploymentAction.UPDATE, principal, comment)
        return store.to_domain(row, project)


def rollback_deployment(
    db: Database,
    principal: Principal,
    project: str,
    name: str,
    *,
    to_revision: int | None = None,
    comment: str = "",
) -> Deployment:
    """Make an earlier revision's configuration current again, as a new revision.

    By default the one before the current revision: calling this twice goes back, then
    forward again (the second call rolls back the rollback).
    """
    principal.require(Role.EDITOR, project)
    check_value(comment, limit=MAX_COMMENT, field="comment")
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        row = store.get_row(session, project_row, name, for_update=True)
        target = row.revision - 1 if to_revision is None else to_revision
        if target < 1:
            raise Conflict(
                f"deployment {name!r} has only one revision: there is nothing to roll back to",
                details={"deployment": name, "revision": row.revision},
            )
        if target == row.revision:
            raise Conflict(
                f"revision {target} is the current revision of deployment {name!r}",
                details={"deployment": name, "revision": target},
            )
        config = DeploymentConfig.parse(store.get_revision(session, row, target).config)
        _check_refs(session, project_row, config)
        row.config = config.to_json()
        row.revision += 1
        row.updated_at = utcnow()
        session.flush()
        _record(session, row, DeploymentAction.ROLLBACK, principal, comment, rolled_back_to=target)
        return store.to_domain(row, project)


def deployment_history(
    db: Database, principal: Principal, project: str, name: str, *, limit: int = 100
) -> list[DeploymentRevision]:
    """The deployment's revisions, newest first."""
    principal.require(Role.VIEWER, project)
    with db.session() as session:
        project_row = projects.get_row(session, project)
        row = store.get_row(session, project_row, name)
        return store.revisions(session, row.id, limit=limit)


def _record(
    session: Session,
    row: DeploymentRow,
    action: DeploymentAction,
    principal: Principal,
    comment: str,
    *,
    rolled_back_to: int | None = None,
) -> None:
    session.add(
        DeploymentRevisionRow(
            deployment_id=row.id,
            revision=row.revision,
            action=action.value,
            config=row.config,
            comment=comment,
            rolled_back_to=rolled_back_to,
            created_by=principal.user,
            created_at=row.updated_at,
        )
    )


def _check_refs(session: Session, project: ProjectRow, config: DeploymentConfig) -> None:
    """Every reference names a version that exists now (its alias set, its number used)."""
    for ref in config.refs:
        name, which = parse_model_ref(ref)
        if registry_store.resolve(session, project.name, name, which) is None:
            try:
                error = aliases.missing(session, project, name, which)
            except NotFound as exc:  # no such model or version: raised, not returned
                error = exc
            raise NotFound(
                f"{ref!r} names nothing: {error.message}",
                details={**error.details, "field": "model", "ref": ref},
            )
