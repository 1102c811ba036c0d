"""Experiments and runs: the tracking tables of the Workflow-runs store.

Metrics are append-only points; ``latest_metrics`` keeps the newest point per (run, key) so that
searching and ordering thousands of runs by a metric is one indexed join, not a scan of history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from griffin.store.orm.base import Base, UTCDateTime, ident

KEY = ident(250)
VALUE = String(8000)


class ExperimentRow(Base):
    __tablename__ = "experiments"

    id: Mapped[str] = mapped_column(ident(), primary_key=True)
    project_id: Mapped[str] = mapped_column(ident(), ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    lifecycle: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("project_id", "name"),)


class ExperimentTagRow(Base):
    __tablename__ = "experiment_tags"

    experiment_id: Mapped[str] = mapped_column(
        ident(), ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    value: Mapped[str] = mapped_column(VALUE)


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(ident(), primary_key=True)
    experiment_id: Mapped[str] = mapped_column(
        ident(), ForeignKey("experiments.id", ondelete="CASCADE")
    )
    # Denormalised from the experiment: every authorisation check and search filters on it.
    project_id: Mapped[str] = mapped_column(ident(), ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    user: Mapped[str] = mapped_column(String(128), default="")
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(Text, default="")
    lifecycle: Mapped[str] = mapped_column(String(16), default="active")
    artifact_uri: Mapped[str] = mapped_column(String(1024))
    parent_run_id: Mapped[str | None] = mapped_column(ident(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(None, "experiment_id", "created_at"),
        Index(None, "status", "heartbeat_at"),
    )


class RunStatusRow(Base):
    """Every status a run has been in, with the reason: its history, never overwritten."""

    __tablename__ = "run_status_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(
        ident(), ForeignKey("runs.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ParamRow(Base):
    __tablename__ = "params"

    run_id: Mapped[str] = mapped_column(
        ident(), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    value: Mapped[str] = mapped_column(VALUE)

    __table_args__ = (Index(None, "key", "value"),)


class RunTagRow(Base):
    __tablename__ = "run_tags"

    run_id: Mapped[str] = mapped_column(
        ident(), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    value: Mapped[str] = mapped_column(VALUE)

    __table_args__ = (Index(None, "key", "value"),)


class MetricRow(Base):
    """One metric point. NaN is kept as a flag because SQLite stores NaN as NULL.

    This is the one hot table, and it is shaped for appending thousands of points at a time:

    - no surrogate key: points are only appended in bulk and read by (run, key, step); a serial
      id (a sequence call and a second index entry per point) doubled the cost of a COPY;
    - no foreign key to ``runs``: PostgreSQL checks one with a trigger per row, which cost more
      than the insert itself. Points are only written while their run's row is locked in the
      same transaction (``tracking.runs.log_batch``), so they cannot reference a missing run;
      whoever deletes runs for good deletes their points too.

    The mapper's key below is for SQLAlchemy only, not a database constraint: the same point
    may be logged twice.
    """

    __tablename__ = "metrics"

    run_id: Mapped[str] = mapped_column(ident())
    key: Mapped[str] = mapped_column(KEY)
    value: Mapped[float] = mapped_column(Float)
    is_nan: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[int] = mapped_column(BigInteger)
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index(None, "run_id", "key", "step"),)
    __mapper_args__ = {"primary_key": [run_id, key, step, timestamp_ms]}


class LatestMetricRow(Base):
    """The newest point (highest step, then timestamp) of each metric of each run."""

    __tablename__ = "latest_metrics"

    run_id: Mapped[str] = mapped_column(
        ident(), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    # NULL for NaN, so a single NULLS LAST sort key puts NaN and missing metrics last.
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    is_nan: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[int] = mapped_column(BigInteger)
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index(None, "key", "value"),)


class ArtifactRow(Base):
    """A file logged to a run, as stored in the artifact store."""

    __tablename__ = "artifacts"

    run_id: Mapped[str] = mapped_column(
        ident(), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
