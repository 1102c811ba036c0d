"""The feature registry: one row per definition, one row per version of it.

``feature_objects`` holds what a definition is (project, kind, name) and the searchable
metadata of its newest version; ``feature_object_versions`` keeps every version's spec, so any
past definition can be read back exactly, with who wrote it, when and what changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from griffin.store.orm.base import Base, UTCDateTime, ident


class FeatureObjectRow(Base):
    __tablename__ = "feature_objects"

    id: Mapped[str] = mapped_column(ident(), primary_key=True)
    project_id: Mapped[str] = mapped_column(ident(), ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(ident(32))
    name: Mapped[str] = mapped_column(ident(256))
    latest_version: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(256), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("project_id", "kind", "name"),)


class FeatureObjectVersionRow(Base):
    __tablename__ = "feature_object_versions"

    object_id: Mapped[str] = mapped_column(
        ident(), ForeignKey("feature_objects.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(ident(64))
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    change: Mapped[str] = mapped_column(Text, default="")
