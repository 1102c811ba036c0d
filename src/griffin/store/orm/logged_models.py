"""MLflow 3's logged models: a model logged by a run, before (and apart from) any registration.

Griffin keeps every file in a run's artifacts, so a logged model is a row pointing at its run:
its files are under ``logged_models/<id>`` there. Tags and params are JSON on the row, because
they are read with the model and never searched across a large table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from griffin.store.orm.base import Base, UTCDateTime, ident


class LoggedModelRow(Base):
    __tablename__ = "logged_models"

    # ``m-<32 hex>``, as MLflow's ids look.
    id: Mapped[str] = mapped_column(ident(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ident(), ForeignKey("projects.id", ondelete="CASCADE"))
    experiment_id: Mapped[str] = mapped_column(
        ident(), ForeignKey("experiments.id", ondelete="CASCADE")
    )
    # The run whose artifacts hold the files (the source run, or one made to hold them).
    run_id: Mapped[str] = mapped_column(ident(), ForeignKey("runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    model_type: Mapped[str] = mapped_column(String(256), default="")
    status: Mapped[str] = mapped_column(String(16))
    status_message: Mapped[str] = mapped_column(Text, default="")
    # The step of the run's output that named this model (``runs/outputs``).
    step: Mapped[int] = mapped_column(BigInteger, default=0)
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    params: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(None, "experiment_id", "created_at"),
        Index(None, "run_id"),
    )
