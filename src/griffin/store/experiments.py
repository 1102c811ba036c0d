"""Experiments in the metadata store."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from griffin.domain.ids import new_id
from griffin.domain.tracking import Experiment
from griffin.errors import AlreadyExists, NotFound
from griffin.store.dml import insert_missing
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.base import utcnow
from griffin.store.orm.tracking import ExperimentRow, ExperimentTagRow

__all__ = ["create", "ensure", "get_by_id", "get_row", "list_page", "to_domain"]


def to_domain(row: ExperimentRow, project: str, tags: dict[str, str] | None = None) -> Experiment:
    return Experiment(
        id=row.id,
        project=project,
        name=row.name,
        description=row.description,
        lifecycle=row.lifecycle,
        created_at=row.created_at,
        updated_at=row.updated_at,
        tags=tags or {},
    )


def tags_of(session: Session, experiment_ids: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {i: {} for i in experiment_ids}
    if experiment_ids:
        query = select(ExperimentTagRow).where(ExperimentTagRow.experiment_id.in_(experiment_ids))
        for tag in session.scalars(query):
            found[tag.experiment_id][tag.key] = tag.value
    return found


def find_row(session: Session, project: ProjectRow, name: str) -> ExperimentRow | None:
    return session.scalar(
        select(ExperimentRow).where(
            ExperimentRow.project_id == project.id, ExperimentRow.name == name
        )
    )


def get_row(session: Session, project: ProjectRow, name_or_id: str) -> ExperimentRow:
    """An experiment of ``project`` by name, or by id."""
    row = find_row(session, project, name_or_id)
    if row is None:
        by_id = session.get(ExperimentRow, name_or_id)
        if by_id is not None and by_id.project_id == project.id:
            row = by_id
    if row is None:
        raise NotFound(
            f"experiment '{name_or_id}' does not exist in project '{project.name}'",
            details={"experiment": name_or_id, "project": project.name},
        )
    return row


def get_by_id(session: Session, project: ProjectRow, experiment_id: str) -> ExperimentRow:
    """An experiment of ``project`` by id only."""
    row = session.get(ExperimentRow, experiment_id)
    if row is None or row.project_id != project.id:
        raise NotFound(
            f"No Experiment with id={experiment_id} exists", details={"experiment": experiment_id}
        )
    return row


def create(
    session: Session,
    project: ProjectRow,
    name: str,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> ExperimentRow:
    if find_row(session, project, name) is not None:
        raise AlreadyExists(
            f"experiment '{name}' already exists in project '{project.name}'",
            details={"experiment": name, "project": project.name},
        )
    now = utcnow()
    row = ExperimentRow(
        id=new_id(),
        project_id=project.id,
        name=name,
        description=description,
        lifecycle="active",
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.add_all(
        ExperimentTagRow(experiment_id=row.id, key=k, value=v) for k, v in (tags or {}).items()
    )
    session.flush()
    return row


def ensure(session: Session, project: ProjectRow, name: str) -> ExperimentRow:
    """The experiment named ``name``, created on first use (safe under concurrent callers)."""
    row = find_row(session, project, name)
    if row is None:
        now = utcnow()
        values = {
            "id": new_id(),
            "project_id": project.id,
            "name": name,
            "description": "",
            "lifecycle": "active",
            "created_at": now,
            "updated_at": now,
        }
        insert_missing(session, ExperimentRow, values, ["project_id", "name"])
        row = find_row(session, project, name)
        assert row is not None
    return row


def list_page(
    session: Session,
    project: ProjectRow,
    *,
    after: tuple[str, str] | None,
    limit: int,
    name_contains: str | None = None,
    include_deleted: bool = False,
) -> list[ExperimentRow]:
    """Experiments by name; ``after`` is the (name, id) keyset cursor of the previous page."""
    query = select(ExperimentRow).where(ExperimentRow.project_id == project.id)
    if not include_deleted:
        query = query.where(ExperimentRow.lifecycle == "active")
    if name_contains:
        query = query.where(ExperimentRow.name.contains(name_contains, autoescape=True))
    if after is not None:
        name, ident = after
        query = query.where(
            (ExperimentRow.name > name)
            | ((ExperimentRow.name == name) & (ExperimentRow.id > ident))
        )
    query = query.order_by(ExperimentRow.name, ExperimentRow.id).limit(limit)
    return list(session.scalars(query))


def delete_tag(session: Session, experiment_id: str, key: str) -> bool:
    """Remove a tag; whether there was one."""
    result = session.execute(
        delete(ExperimentTagRow).where(
            ExperimentTagRow.experiment_id == experiment_id, ExperimentTagRow.key == key
        )
    )
    return bool(getattr(result, "rowcount", 0))


def set_tags(session: Session, experiment_id: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        session.merge(ExperimentTagRow(experiment_id=experiment_id, key=key, value=value))
