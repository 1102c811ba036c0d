"""Saved training datasets in the metadata store: one ``feature_datasets`` row per version."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from griffin.domain.datasets import ColumnStats, Dataset, FeatureRef
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.feature_data import FeatureDatasetRow

__all__ = ["add", "find", "latest_of_each", "names", "next_version", "to_domain", "versions_of"]


def to_domain(project: str, row: FeatureDatasetRow) -> Dataset:
    return Dataset(
        id=row.id,
        project=project,
        name=row.name,
        version=row.version,
        format=row.format,
        row_count=row.row_count,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        columns=tuple(ColumnStats.from_json(c) for c in row.columns),
        features=tuple(FeatureRef.from_json(f) for f in row.features),
        feature_service=row.feature_service,
        feature_service_version=row.feature_service_version,
        entity_source=row.entity_source,
        event_timestamp_column=row.event_timestamp_column,
        event_start=row.event_start,
        event_end=row.event_end,
        created_before=row.created_before,
        description=row.description,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def next_version(session: Session, project: ProjectRow, name: str) -> int:
    """One more than the newest version of ``name`` (1 for a new name)."""
    current = session.scalar(
        select(func.max(FeatureDatasetRow.version)).where(
            FeatureDatasetRow.project_id == project.id, FeatureDatasetRow.name == name
        )
    )
    return int(current or 0) + 1


def add(session: Session, row: FeatureDatasetRow) -> None:
    """Insert ``row``; a concurrent save of the same name and version fails on flush."""
    session.add(row)
    session.flush()


def find(
    session: Session, project: ProjectRow, name: str, version: int | None = None
) -> FeatureDatasetRow | None:
    """Version ``version`` of ``name`` (the newest when None), or None."""
    query = select(FeatureDatasetRow).where(
        FeatureDatasetRow.project_id == project.id, FeatureDatasetRow.name == name
    )
    if version is None:
        query = query.order_by(FeatureDatasetRow.version.desc()).limit(1)
    else:
        query = query.where(FeatureDatasetRow.version == version)
    return session.scalar(query)


def versions_of(session: Session, project: ProjectRow, name: str) -> list[FeatureDatasetRow]:
    """Every version of ``name``, newest first."""
    query = (
        select(FeatureDatasetRow)
        .where(FeatureDatasetRow.project_id == project.id, FeatureDatasetRow.name == name)
        .order_by(FeatureDatasetRow.version.desc())
    )
    return list(session.scalars(query))


def latest_of_each(session: Session, project: ProjectRow) -> list[FeatureDatasetRow]:
    """The newest version of every dataset of ``project``, by name."""
    newest = (
        select(FeatureDatasetRow.name, func.max(FeatureDatasetRow.version).label("version"))
        .where(FeatureDatasetRow.project_id == project.id)
        .group_by(FeatureDatasetRow.name)
        .subquery()
    )
    query = (
        select(FeatureDatasetRow)
        .join(
            newest,
            (FeatureDatasetRow.name == newest.c.name)
            & (FeatureDatasetRow.version == newest.c.version),
        )
        .where(FeatureDatasetRow.project_id == project.id)
        .order_by(FeatureDatasetRow.name)
    )
    return list(session.scalars(query))


def names(session: Session, project: ProjectRow) -> list[str]:
    query = (
        select(FeatureDatasetRow.name).where(FeatureDatasetRow.project_id == project.id).distinct()
    )
    return list(session.scalars(query))
