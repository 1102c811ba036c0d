"""MLflow 3's logged models in the metadata store: rows in, :class:`LoggedModel` out.

A logged model's files are in its run's artifacts under ``logged_models/<id>``; this module
only keeps its metadata. Reads join the experiment's name, because MLflow calls the project's
``Default`` experiment ``"0"``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from griffin.errors import NotFound
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.base import utcnow
from griffin.store.orm.logged_models import LoggedModelRow
from griffin.store.orm.tracking import ExperimentRow

__all__ = [
    "MODELS_DIR",
    "LoggedModel",
    "LoggedModelStatus",
    "get",
    "get_row",
    "insert",
    "new_model_id",
    "outputs_of",
    "search",
    "to_domain",
]

# Where in its run's artifacts a logged model's files are: ``logged_models/<id>/MLmodel``...
MODELS_DIR = "logged_models"


class LoggedModelStatus(StrEnum):
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class LoggedModel:
    """A model an MLflow client logged: its files are ``path`` in run ``run_id``'s artifacts."""

    id: str
    project_id: str
    experiment_id: str
    experiment: str
    run_id: str
    name: str
    model_type: str
    status: LoggedModelStatus
    status_message: str
    step: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"{MODELS_DIR}/{self.id}"


def new_model_id() -> str:
    """``m-<32 hex>``, the shape of MLflow's ids (clients parse ``models:/m-...`` URIs)."""
    return f"m-{uuid.uuid4().hex}"


def to_domain(row: LoggedModelRow, experiment: str) -> LoggedModel:
    return LoggedModel(
        id=row.id,
        project_id=row.project_id,
        experiment_id=row.experiment_id,
        experiment=experiment,
        run_id=row.run_id,
        name=row.name,
        model_type=row.model_type,
        status=LoggedModelStatus(row.status),
        status_message=row.status_message,
        step=row.step,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        tags=dict(row.tags or {}),
        params=dict(row.params or {}),
    )


def insert(
    session: Session,
    project: ProjectRow,
    experiment: ExperimentRow,
    run_id: str,
    *,
    name: str,
    model_type: str,
    tags: dict[str, str],
    params: dict[str, str],
    user: str,
) -> LoggedModel:
    now = utcnow()
    row = LoggedModelRow(
        id=new_model_id(),
        project_id=project.id,
        experiment_id=experiment.id,
        run_id=run_id,
        name=name,
        model_type=model_type,
        status=str(LoggedModelStatus.PENDING),
        status_message="",
        step=0,
        tags=tags,
        params=params,
        created_by=user,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return to_domain(row, experiment.name)


def get_row(
    session: Session, project: ProjectRow, model_id: str, *, for_update: bool = False
) -> LoggedModelRow:
    """The logged model ``model_id`` of ``project`` (``NotFound`` for another project's too)."""
    query = select(LoggedModelRow).where(
        LoggedModelRow.id == model_id, LoggedModelRow.project_id == project.id
    )
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound(
            f"Logged model with ID '{model_id[:80]}' not found in project '{project.name}'",
            details={"model_id": model_id[:80]},
        )
    return row


def experiment_name(session: Session, experiment_id: str) -> str:
    name = session.scalar(select(ExperimentRow.name).where(ExperimentRow.id == experiment_id))
    return name or ""


def get(session: Session, project: ProjectRow, model_id: str) -> LoggedModel:
    row = get_row(session, project, model_id)
    return to_domain(row, experiment_name(session, row.experiment_id))


def search(
    session: Session,
    project: ProjectRow,
    experiment_ids: Sequence[str],
    where: Sequence[Any],
    order: Sequence[Any],
    *,
    start: int,
    limit: int,
) -> list[LoggedModel]:
    """Logged models of ``experiment_ids`` meeting every ``where`` condition, ``order``-ed
    (newest first by default), ``limit`` of them from offset ``start``."""
    query = (
        select(LoggedModelRow, ExperimentRow.name)
        .join(ExperimentRow, ExperimentRow.id == LoggedModelRow.experiment_id)
        .where(
            LoggedModelRow.project_id == project.id,
            LoggedModelRow.experiment_id.in_(list(experiment_ids)),
            *where,
        )
        .order_by(*order, LoggedModelRow.created_at.desc(), LoggedModelRow.id)
        .offset(start)
        .limit(limit)
    )
    return [to_domain(row, name) for row, name in session.execute(query)]


def outputs_of(session: Session, run_id: str) -> list[tuple[str, int]]:
    """(model id, step) of the models run ``run_id`` logged: a run's ``outputs`` in MLflow."""
    query = (
        select(LoggedModelRow.id, LoggedModelRow.step)
        .where(LoggedModelRow.run_id == run_id)
        .order_by(LoggedModelRow.created_at, LoggedModelRow.id)
    )
    return [(model_id, int(step)) for model_id, step in session.execute(query)]
