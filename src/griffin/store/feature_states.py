"""Per-view materialization state in the metadata store (``feature_view_states``).

One row per (project, view), created on first use. Writers lock the row (``FOR UPDATE`` on
PostgreSQL; SQLite serialises writers anyway) so a push and a materialization finishing at the
same moment both land: each merges into the row instead of overwriting the other.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from griffin.domain.feature_states import RunRecord, ViewState, freshness
from griffin.store.dml import insert_missing
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.base import utcnow
from griffin.store.orm.feature_data import FeatureViewStateRow

__all__ = ["find", "list_rows", "lock", "record_push", "record_run", "to_domain"]


def to_domain(
    project: str,
    view: str,
    row: FeatureViewStateRow | None,
    *,
    online: bool,
    registry_version: int | None,
    max_age_s: float | None,
    as_of: datetime,
) -> ViewState:
    """The state of ``view``; ``row`` None means nothing was ever materialized or pushed."""
    freshest = None if row is None else row.freshest_event
    age, breached = freshness(freshest, max_age_s, as_of)
    return ViewState(
        project=project,
        view=view,
        online=online,
        registry_version=registry_version,
        view_version=None if row is None else row.view_version,
        watermark=None if row is None else row.watermark,
        last_run_status="" if row is None else row.last_run_status,
        last_run_start=None if row is None else row.last_run_start,
        last_run_end=None if row is None else row.last_run_end,
        last_run_rows=0 if row is None else row.last_run_rows,
        last_run_error="" if row is None else row.last_run_error,
        last_run_at=None if row is None else row.last_run_at,
        freshest_event=freshest,
        last_push_at=None if row is None else row.last_push_at,
        pushed_rows=0 if row is None else row.pushed_rows,
        updated_at=None if row is None else row.updated_at,
        as_of=as_of,
        age_s=age,
        max_age_s=max_age_s,
        breached=breached,
    )


def find(session: Session, project: ProjectRow, view: str) -> FeatureViewStateRow | None:
    return session.get(FeatureViewStateRow, (project.id, view))


def list_rows(session: Session, project: ProjectRow) -> dict[str, FeatureViewStateRow]:
    query = select(FeatureViewStateRow).where(FeatureViewStateRow.project_id == project.id)
    return {row.view: row for row in session.scalars(query)}


def lock(session: Session, project: ProjectRow, view: str) -> FeatureViewStateRow:
    """The view's state row, created if missing, locked for the rest of the transaction."""
    insert_missing(
        session,
        FeatureViewStateRow,
        {
            "project_id": project.id,
            "view": view,
            "last_run_status": "",
            "last_run_rows": 0,
            "last_run_error": "",
            "pushed_rows": 0,
            "updated_at": utcnow(),
        },
        ["project_id", "view"],
    )
    query = (
        select(FeatureViewStateRow)
        .where(FeatureViewStateRow.project_id == project.id, FeatureViewStateRow.view == view)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = session.scalar(query)
    assert row is not None
    return row


def _later(old: datetime | None, new: datetime | None) -> datetime | None:
    if old is None:
        return new
    if new is None:
        return old
    return max(old, new)


def record_run(session: Session, project: ProjectRow, view: str, run: RunRecord) -> None:
    """Merge a finished run into the view's state; a failed run keeps the watermark."""
    row = lock(session, project, view)
    now = utcnow()
    row.last_run_status = run.status
    row.last_run_start = run.start
    row.last_run_end = run.end
    row.last_run_rows = run.rows
    row.last_run_error = run.error[:10_000]
    row.last_run_at = now
    if run.status == "succeeded":
        row.watermark = _later(row.watermark, run.watermark)
        row.freshest_event = _later(row.freshest_event, run.freshest_event)
        if run.view_version is not None:
            row.view_version = run.view_version
    row.updated_at = now
    session.flush()


def record_push(
    session: Session, project: ProjectRow, view: str, rows: int, freshest: datetime | None
) -> None:
    """Count a push and move the freshest event forward."""
    row = lock(session, project, view)
    now = utcnow()
    row.freshest_event = _later(row.freshest_event, freshest)
    row.last_push_at = now
    row.pushed_rows += rows
    row.updated_at = now
    session.flush()
