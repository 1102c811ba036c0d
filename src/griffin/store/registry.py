"""The model registry in the metadata store: rows in, domain objects out.

Resolving a reference (``name@alias``, ``name@latest``, ``name/3``) is one statement over
primary-key and unique indexes; the version's aliases come back in the same statement as a
comma-joined scalar subquery (alias names cannot hold commas).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from griffin.domain.registry import LATEST, AliasEvent, Lineage, ModelVersion, RegisteredModel
from griffin.errors import NotFound
from griffin.features.common import unknown_name
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.registry import (
    ModelAliasEventRow,
    ModelAliasRow,
    ModelVersionFeatureRow,
    ModelVersionRow,
    RegisteredModelRow,
)

__all__ = [
    "alias_events",
    "aliases_of",
    "find_model",
    "get_model_row",
    "get_version_row",
    "model_names",
    "resolve",
    "to_model",
    "to_version",
    "version_aliases",
    "versions_using_view",
    "write_feature_rows",
]


def to_version(name: str, row: ModelVersionRow, aliases: Iterable[str] = ()) -> ModelVersion:
    return ModelVersion(
        name=name,
        version=row.version,
        source=row.source,
        flavor=row.flavor,
        signature=dict(row.signature or {}),
        metrics={str(k): float(v) for k, v in (row.metrics or {}).items()},
        params=dict(row.params or {}),
        lineage=Lineage.from_json(row.lineage),
        tags=dict(row.tags or {}),
        description=row.description,
        created_by=row.created_by,
        created_at=row.created_at,
        aliases=tuple(sorted(aliases)),
    )


def to_model(project: str, row: RegisteredModelRow, aliases: dict[str, int]) -> RegisteredModel:
    return RegisteredModel(
        project=project,
        name=row.name,
        description=row.description,
        tags=dict(row.tags or {}),
        latest_version=row.latest_version,
        aliases=dict(sorted(aliases.items())),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def find_model(
    session: Session, project: ProjectRow, name: str, *, for_update: bool = False
) -> RegisteredModelRow | None:
    query = select(RegisteredModelRow).where(
        RegisteredModelRow.project_id == project.id, RegisteredModelRow.name == name
    )
    if for_update and session.get_bind().dialect.name == "postgresql":
        # Version numbers are handed out under this row lock: two creators never share one.
        query = query.with_for_update()
    return session.scalar(query)


def model_names(session: Session, project: ProjectRow) -> list[str]:
    query = select(RegisteredModelRow.name).where(RegisteredModelRow.project_id == project.id)
    return list(session.scalars(query))


def get_model_row(
    session: Session, project: ProjectRow, name: str, *, for_update: bool = False
) -> RegisteredModelRow:
    row = find_model(session, project, name, for_update=for_update)
    if row is None:
        raise _no_model(session, project, name)
    return row


def _no_model(session: Session, project: ProjectRow, name: str) -> NotFound:
    hint = unknown_name(f"project {project.name!r}", "model", name, model_names(session, project))
    return NotFound(hint.message, details={**hint.details, "model": name})


def get_version_row(session: Session, model: RegisteredModelRow, version: int) -> ModelVersionRow:
    row = session.get(ModelVersionRow, (model.id, version))
    if row is None:
        raise NotFound(
            f"model {model.name!r} has no version {version} (versions 1 to {model.latest_version})"
            if model.latest_version
            else f"model {model.name!r} has no versions yet",
            details={"model": model.name, "version": version},
        )
    return row


def aliases_of(session: Session, model_id: str) -> dict[str, int]:
    query = select(ModelAliasRow.alias, ModelAliasRow.version).where(
        ModelAliasRow.model_id == model_id
    )
    return {str(alias): int(version) for alias, version in session.execute(query)}


def version_aliases(
    session: Session, model_id: str, versions: Sequence[int]
) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if not versions:
        return found
    query = select(ModelAliasRow.version, ModelAliasRow.alias).where(
        ModelAliasRow.model_id == model_id, ModelAliasRow.version.in_(list(versions))
    )
    for version, alias in session.execute(query):
        found.setdefault(version, []).append(alias)
    return found


def _aliases_column(dialect: str) -> Any:
    join = (
        func.string_agg(ModelAliasRow.alias, ",")
        if dialect == "postgresql"
        else func.group_concat(ModelAliasRow.alias, ",")
    )
    return (
        select(join)
        .where(
            ModelAliasRow.model_id == ModelVersionRow.model_id,
            ModelAliasRow.version == ModelVersionRow.version,
        )
        .correlate(ModelVersionRow)
        .scalar_subquery()
    )


@functools.cache
def _resolve_statement(dialect: str, by: str) -> Select[Any]:
    """The resolve query for one dialect and one kind of reference, built once: building a
    SELECT costs more than running it on this hot path; the values are bound per call."""
    query: Select[Any] = (
        select(ModelVersionRow, _aliases_column(dialect))
        .join(RegisteredModelRow, RegisteredModelRow.id == ModelVersionRow.model_id)
        .join(ProjectRow, ProjectRow.id == RegisteredModelRow.project_id)
        .where(
            ProjectRow.name == bindparam("project"), RegisteredModelRow.name == bindparam("name")
        )
    )
    if by == "number":
        return query.where(ModelVersionRow.version == bindparam("version"))
    if by == "latest":
        # The newest version that still exists: numbers are never reused, so after the
        # newest is deleted, latest_version names none.
        return query.order_by(ModelVersionRow.version.desc()).limit(1)
    return query.join(
        ModelAliasRow,
        (ModelAliasRow.model_id == ModelVersionRow.model_id)
        & (ModelAliasRow.version == ModelVersionRow.version),
    ).where(ModelAliasRow.alias == bindparam("alias"))


def resolve(session: Session, project: str, name: str, ref: str) -> ModelVersion | None:
    """The version ``ref`` (an alias, ``latest`` or a number) names, in one statement; None if
    there is none (the caller then explains why)."""
    dialect = session.get_bind().dialect.name
    values: dict[str, Any] = {"project": project, "name": name}
    if ref.isdigit():
        by = "number"
        values["version"] = int(ref)
    elif ref.lower() == LATEST:
        by = "latest"
    else:
        by = "alias"
        values["alias"] = ref
    found = session.execute(_resolve_statement(dialect, by), values).first()
    if found is None:
        return None
    row, aliases = found
    return to_version(name, row, aliases.split(",") if aliases else ())


def alias_events(
    session: Session, model_id: str, alias: str | None = None, limit: int = 100
) -> list[AliasEvent]:
    """Alias changes, newest first."""
    query = select(ModelAliasEventRow).where(ModelAliasEventRow.model_id == model_id)
    if alias is not None:
        query = query.where(ModelAliasEventRow.alias == alias)
    query = query.order_by(ModelAliasEventRow.id.desc()).limit(limit)
    return [
        AliasEvent(
            alias=row.alias,
            from_version=row.from_version,
            to_version=row.to_version,
            user=row.user,
            at=row.at,
        )
        for row in session.scalars(query)
    ]


def write_feature_rows(
    session: Session, project: ProjectRow, model_id: str, version: int, lineage: Lineage
) -> None:
    """Copy the feature views a version read into rows, for "who used view X" lookups."""
    seen: dict[str, int] = {}
    for use in lineage.features:
        seen.setdefault(use.view, use.version or 0)
    for view, view_version in seen.items():
        session.add(
            ModelVersionFeatureRow(
                model_id=model_id,
                version=version,
                view=view,
                project_id=project.id,
                view_version=view_version,
            )
        )


def versions_using_view(
    session: Session, project: ProjectRow, view: str, view_version: int | None = None
) -> list[tuple[str, int, int]]:
    """(model, version, view version) of every version that read ``view``, newest first."""
    query = (
        select(
            RegisteredModelRow.name,
            ModelVersionFeatureRow.version,
            ModelVersionFeatureRow.view_version,
        )
        .join(RegisteredModelRow, RegisteredModelRow.id == ModelVersionFeatureRow.model_id)
        .where(ModelVersionFeatureRow.project_id == project.id, ModelVersionFeatureRow.view == view)
        .order_by(RegisteredModelRow.name, ModelVersionFeatureRow.version.desc())
    )
    if view_version is not None:
        query = query.where(ModelVersionFeatureRow.view_version == view_version)
    return [(name, version, vv) for name, version, vv in session.execute(query)]
