"""The feature registry in the metadata store: definitions as versioned rows.

Every version of every object is its own ``feature_object_versions`` row; ``feature_objects``
points at the newest one (``latest_version``) and carries the columns lists filter on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from griffin.domain.features import FeatureObject, ObjectVersion
from griffin.domain.ids import new_id
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.base import utcnow
from griffin.store.orm.features import FeatureObjectRow, FeatureObjectVersionRow

__all__ = [
    "add_version",
    "find_row",
    "latest",
    "names_of_kind",
    "to_domain",
    "versions_of",
]

Latest = tuple[FeatureObjectRow, FeatureObjectVersionRow]


def to_domain(
    project: str,
    row: FeatureObjectRow,
    version: FeatureObjectVersionRow,
    versions: list[FeatureObjectVersionRow] | None = None,
) -> FeatureObject:
    spec = dict(version.spec)
    tags = spec.get("tags")
    return FeatureObject(
        project=project,
        kind=row.kind,
        name=row.name,
        version=version.version,
        latest_version=row.latest_version,
        owner=str(spec.get("owner", row.owner)),
        description=str(spec.get("description", row.description)),
        tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
        fingerprint=version.fingerprint,
        spec=spec,
        created_at=row.created_at,
        updated_at=row.updated_at,
        versions=tuple(
            ObjectVersion(
                version=v.version,
                fingerprint=v.fingerprint,
                created_by=v.created_by,
                created_at=v.created_at,
                change=v.change,
            )
            for v in versions or []
        ),
    )


def latest(session: Session, project: ProjectRow, kind: str | None = None) -> list[Latest]:
    """Every object of ``project`` (of ``kind``) with its newest version, by kind and name."""
    query = (
        select(FeatureObjectRow, FeatureObjectVersionRow)
        .join(
            FeatureObjectVersionRow,
            (FeatureObjectVersionRow.object_id == FeatureObjectRow.id)
            & (FeatureObjectVersionRow.version == FeatureObjectRow.latest_version),
        )
        .where(FeatureObjectRow.project_id == project.id)
        .order_by(FeatureObjectRow.kind, FeatureObjectRow.name)
    )
    if kind is not None:
        query = query.where(FeatureObjectRow.kind == kind)
    return [(obj, ver) for obj, ver in session.execute(query)]


def find_row(
    session: Session, project: ProjectRow, kind: str, name: str
) -> FeatureObjectRow | None:
    return session.scalar(
        select(FeatureObjectRow).where(
            FeatureObjectRow.project_id == project.id,
            FeatureObjectRow.kind == kind,
            FeatureObjectRow.name == name,
        )
    )


def names_of_kind(session: Session, project: ProjectRow, kind: str) -> list[str]:
    query = select(FeatureObjectRow.name).where(
        FeatureObjectRow.project_id == project.id, FeatureObjectRow.kind == kind
    )
    return list(session.scalars(query))


def versions_of(session: Session, object_id: str) -> list[FeatureObjectVersionRow]:
    query = (
        select(FeatureObjectVersionRow)
        .where(FeatureObjectVersionRow.object_id == object_id)
        .order_by(FeatureObjectVersionRow.version)
    )
    return list(session.scalars(query))


def add_version(
    session: Session,
    project: ProjectRow,
    row: FeatureObjectRow | None,
    spec: Mapping[str, Any],
    *,
    fingerprint: str,
    user: str,
    change: str,
) -> int:
    """Store ``spec`` as the next version of its object (created when ``row`` is None)."""
    now = utcnow()
    if row is None:
        row = FeatureObjectRow(
            id=new_id(),
            project_id=project.id,
            kind=str(spec["kind"]),
            name=str(spec["name"]),
            latest_version=0,
            created_at=now,
        )
        session.add(row)
    row.latest_version += 1
    row.owner = str(spec.get("owner", ""))
    row.description = str(spec.get("description", ""))
    row.updated_at = now
    session.add(
        FeatureObjectVersionRow(
            object_id=row.id,
            version=row.latest_version,
            spec=dict(spec),
            fingerprint=fingerprint,
            created_by=user,
            created_at=now,
            change=change,
        )
    )
    session.flush()
    return row.latest_version
