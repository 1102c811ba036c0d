"""The Model Store in the metadata store: definitions as versioned rows.

Every version of a definition is its own ``model_definition_versions`` row (spec, fingerprint,
code digest, git commit); ``model_definitions`` points at the newest (``latest_version``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from griffin.domain.ids import new_id
from griffin.domain.model_definitions import DefinitionVersion, ModelDefinition
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.base import utcnow
from griffin.store.orm.model_definitions import ModelDefinitionRow, ModelDefinitionVersionRow

__all__ = [
    "add_version",
    "find_row",
    "latest",
    "names",
    "to_domain",
    "to_version",
    "versions_of",
]

Latest = tuple[ModelDefinitionRow, ModelDefinitionVersionRow]


def to_version(row: ModelDefinitionVersionRow) -> DefinitionVersion:
    return DefinitionVersion(
        version=row.version,
        fingerprint=row.fingerprint,
        code_digest=row.code_digest,
        git_commit=row.git_commit,
        created_by=row.created_by,
        created_at=row.created_at,
        change=row.change,
    )


def to_domain(
    project: str,
    row: ModelDefinitionRow,
    version: ModelDefinitionVersionRow,
    versions: list[ModelDefinitionVersionRow] | None = None,
) -> ModelDefinition:
    spec: Mapping[str, Any] = version.spec
    tags = spec.get("tags")
    params = spec.get("params")
    return ModelDefinition(
        project=project,
        name=row.name,
        version=version.version,
        latest_version=row.latest_version,
        entry=str(spec.get("entry", "")),
        runtime=spec.get("runtime"),
        features=spec.get("features"),
        target=spec.get("target"),
        task=spec.get("task"),
        entity_rows=spec.get("entity_rows"),
        params=dict(params) if isinstance(params, dict) else {},
        owner=str(spec.get("owner", "")),
        description=str(spec.get("description", "")),
        tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
        fingerprint=version.fingerprint,
        code_digest=version.code_digest,
        git_commit=version.git_commit,
        created_by=version.created_by,
        created_at=version.created_at,
        updated_at=row.updated_at,
        versions=tuple(to_version(v) for v in versions or []),
    )


def latest(session: Session, project: ProjectRow) -> list[Latest]:
    """Every definition of ``project`` with its newest version, by name."""
    query = (
        select(ModelDefinitionRow, ModelDefinitionVersionRow)
        .join(
            ModelDefinitionVersionRow,
            (ModelDefinitionVersionRow.definition_id == ModelDefinitionRow.id)
            & (ModelDefinitionVersionRow.version == ModelDefinitionRow.latest_version),
        )
        .where(ModelDefinitionRow.project_id == project.id)
        .order_by(ModelDefinitionRow.name)
    )
    return [(row, ver) for row, ver in session.execute(query)]


def find_row(session: Session, project: ProjectRow, name: str) -> ModelDefinitionRow | None:
    return session.scalar(
        select(ModelDefinitionRow).where(
            ModelDefinitionRow.project_id == project.id, ModelDefinitionRow.name == name
        )
    )


def names(session: Session, project: ProjectRow) -> list[str]:
    query = select(ModelDefinitionRow.name).where(ModelDefinitionRow.project_id == project.id)
    return list(session.scalars(query))


def versions_of(session: Session, definition_id: str) -> list[ModelDefinitionVersionRow]:
    query = (
        select(ModelDefinitionVersionRow)
        .where(ModelDefinitionVersionRow.definition_id == definition_id)
        .order_by(ModelDefinitionVersionRow.version)
    )
    return list(session.scalars(query))


def add_version(
    session: Session,
    project: ProjectRow,
    row: ModelDefinitionRow | None,
    spec: Mapping[str, Any],
    *,
    fingerprint: str,
    code_digest: str,
    git_commit: str,
    user: str,
    change: str,
) -> int:
    """Store ``spec`` as the next version of its definition (created when ``row`` is None)."""
    now = utcnow()
    if row is None:
        row = ModelDefinitionRow(
            id=new_id(),
            project_id=project.id,
            name=str(spec["name"]),
            latest_version=0,
            created_at=now,
        )
        session.add(row)
    row.latest_version += 1
    row.owner = str(spec.get("owner", ""))[:256]
    row.description = str(spec.get("description", ""))
    row.updated_at = now
    session.add(
        ModelDefinitionVersionRow(
            definition_id=row.id,
            version=row.latest_version,
            spec=dict(spec),
            fingerprint=fingerprint,
            code_digest=code_digest,
            git_commit=git_commit,
            created_by=user,
            created_at=now,
            change=change,
        )
    )
    session.flush()
    return row.latest_version
