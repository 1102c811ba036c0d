"""Experiment behaviour: the one place the API, CLI and SDK go through."""

from __future__ import annotations

from griffin.domain.accounts import Principal, Role
from griffin.domain.tracking import Experiment
from griffin.domain.validation import check_name, check_tags
from griffin.errors import AlreadyExists, NotFound
from griffin.store import experiments, projects
from griffin.store.orm.base import utcnow
from griffin.store.session import Database
from griffin.tracking.pages import Page, decode_cursor, encode_cursor

__all__ = [
    "create_experiment",
    "delete_experiment",
    "delete_experiment_tag",
    "get_experiment",
    "list_experiments",
    "restore_experiment",
    "update_experiment",
]


def create_experiment(
    db: Database,
    principal: Principal,
    project: str,
    name: str,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> Experiment:
    principal.require(Role.EDITOR, project)
    check_name(name, field="experiment name")
    check_tags(tags or {})
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        row = experiments.create(session, project_row, name, description, tags)
        return experiments.to_domain(row, project, dict(tags or {}))


def get_experiment(db: Database, principal: Principal, project: str, name: str) -> Experiment:
    principal.require(Role.VIEWER, project)
    with db.session() as session:
        row = experiments.get_row(session, projects.get_row(session, project), name)
        return experiments.to_domain(row, project, experiments.tags_of(session, [row.id])[row.id])


def list_experiments(
    db: Database,
    principal: Principal,
    project: str,
    *,
    cursor: str | None = None,
    limit: int = 100,
    name_contains: str | None = None,
    include_deleted: bool = False,
) -> Page[Experiment]:
    principal.require(Role.VIEWER, project)
    after = decode_cursor(cursor, 2) if cursor else None
    with db.session() as session:
        project_row = projects.get_row(session, project)
        rows = experiments.list_page(
            session,
            project_row,
            after=(str(after[0]), str(after[1])) if after else None,
            limit=limit + 1,
            name_contains=name_contains,
            include_deleted=include_deleted,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        tags = experiments.tags_of(session, [r.id for r in rows])
        items = [experiments.to_domain(r, project, tags[r.id]) for r in rows]
    next_cursor = encode_cursor([rows[-1].name, rows[-1].id]) if more else None
    return Page(items=items, next_cursor=next_cursor)


def update_experiment(
    db: Database,
    principal: Principal,
    project: str,
    name: str,
    *,
    new_name: str | None = None,
    description: str | None = None,
    tags: dict[str, str] | None = None,
) -> Experiment:
    principal.require(Role.EDITOR, project)
    if new_name is not None:
        check_name(new_name, field="experiment name")
    check_tags(tags or {})
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        row = experiments.get_row(session, project_row, name)
        if new_name is not None and new_name != row.name:
            if experiments.find_row(session, project_row, new_name) is not None:
                raise AlreadyExists(
                    f"experiment '{new_name}' already exists in project '{project}'",
                    details={"experiment": new_name, "project": project},
                )
            row.name = new_name
        if description is not None:
            row.description = description
        if tags:
            experiments.set_tags(session, row.id, tags)
        row.updated_at = utcnow()
        session.flush()
        return experiments.to_domain(row, project, experiments.tags_of(session, [row.id])[row.id])


def delete_experiment(db: Database, principal: Principal, project: str, name: str) -> None:
    """Soft-delete: the experiment and its runs disappear from lists but keep their data."""
    _set_lifecycle(db, principal, project, name, "deleted")


def restore_experiment(db: Database, principal: Principal, project: str, name: str) -> None:
    """Undo :func:`delete_experiment`: the experiment and its runs are listed again."""
    _set_lifecycle(db, principal, project, name, "active")


def _set_lifecycle(
    db: Database, principal: Principal, project: str, name: str, lifecycle: str
) -> None:
    principal.require(Role.EDITOR, project)
    with db.session(write=True) as session:
        row = experiments.get_row(session, projects.get_row(session, project), name)
        row.lifecycle = lifecycle
        row.updated_at = utcnow()


def delete_experiment_tag(
    db: Database, principal: Principal, project: str, name: str, key: str
) -> None:
    """Remove one tag (``NotFound`` if the experiment has no such tag)."""
    principal.require(Role.EDITOR, project)
    with db.session(write=True) as session:
        row = experiments.get_row(session, projects.get_row(session, project), name)
        if not experiments.delete_tag(session, row.id, key):
            raise NotFound(
                f"experiment '{row.name}' has no tag '{key}'",
                details={"experiment": row.name, "key": key},
            )
        row.updated_at = utcnow()
