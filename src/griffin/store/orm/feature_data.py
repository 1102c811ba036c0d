"""Feature data the registry keeps track of: saved training datasets and materialization state.

``feature_datasets`` is the "offline feature store" of the metadata: one row per saved
training-set snapshot (where its file is, which feature versions and entity rows built it,
its time range, row count and per-column statistics), so a training run can name the exact
snapshot it used. ``feature_view_states`` holds, per feature view, what is online: the
materialization watermark, the last run and the freshest event written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from griffin.store.orm.base import Base, UTCDateTime, ident


class FeatureDatasetRow(Base):
    __tablename__ = "feature_datasets"

    id: Mapped[str] = mapped_column(ident(), primary_key=True)
    project_id: Mapped[str] = mapped_column(ident(), ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(ident(256))
    version: Mapped[int] = mapped_column(Integer)
    uri: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(32), default="parquet")
    row_count: Mapped[int] = mapped_column(BigInteger)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    # [{"name", "type", "role" (entity_key|timestamp|label|feature), statistics...}]
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # [{"kind", "view", "version", "features": [...]}]: the exact definitions used
    features: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    feature_service: Mapped[str | None] = mapped_column(String(256), nullable=True)
    feature_service_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    entity_source: Mapped[str] = mapped_column(Text, default="")
    event_timestamp_column: Mapped[str] = mapped_column(String(256), default="")
    event_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    event_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The created_before cutoff the join used: rows written at or after it were left out.
    created_before: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("project_id", "name", "version"),)


class FeatureViewStateRow(Base):
    __tablename__ = "feature_view_states"

    project_id: Mapped[str] = mapped_column(
        ident(), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    view: Mapped[str] = mapped_column(ident(256), primary_key=True)
    # Source rows with an event time before the watermark are online (incremental runs start
    # here); it only moves after a batch is written.
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    view_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_run_status: Mapped[str] = mapped_column(String(16), default="")
    last_run_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_run_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_run_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    last_run_error: Mapped[str] = mapped_column(Text, default="")
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The newest event time written online, by materialization or push: what freshness is
    # measured from.
    freshest_event: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_push_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pushed_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
