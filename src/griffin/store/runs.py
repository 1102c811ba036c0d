"""Runs, their status history and everything logged to them, in the metadata store.

Writes are batch writes: a ``log_batch`` of 1,000 metrics is one multi-row INSERT plus one
upsert of ``latest_metrics``, whatever the number of points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, any_, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from griffin.domain.tracking import Artifact, Metric, Run, RunStatus, StatusChange
from griffin.errors import Conflict, NotFound
from griffin.store.dml import dialect_insert
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.base import utcnow
from griffin.store.orm.tracking import (
    ArtifactRow,
    ExperimentRow,
    LatestMetricRow,
    MetricRow,
    ParamRow,
    RunRow,
    RunStatusRow,
    RunTagRow,
)

__all__ = [
    "add_artifact",
    "get_row",
    "hydrate",
    "insert_batch",
    "list_artifacts",
    "metric_history",
    "set_status",
]


def get_row(session: Session, run_id: str, *, for_update: bool = False) -> RunRow:
    query = select(RunRow).where(RunRow.id == run_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"run {run_id} does not exist", details={"run_id": run_id})
    return row


def get_row_and_project(
    session: Session, run_id: str, *, for_update: bool = False
) -> tuple[RunRow, str]:
    """The run and its project's name in one query (the check before every write)."""
    query = (
        select(RunRow, ProjectRow.name)
        .join(ProjectRow, ProjectRow.id == RunRow.project_id)
        .where(RunRow.id == run_id)
    )
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=RunRow)
    found = session.execute(query).first()
    if found is None:
        raise NotFound(f"run {run_id} does not exist", details={"run_id": run_id})
    return found[0], found[1]


def set_status(
    session: Session,
    row: RunRow,
    status: RunStatus,
    reason: str = "",
    at: datetime | None = None,
) -> None:
    """Change a run's status and append the change to its history, in the same transaction."""
    at = at or utcnow()
    row.status = str(status)
    row.status_reason = reason
    if status.is_terminal:
        row.ended_at = at
    session.add(RunStatusRow(run_id=row.id, status=str(status), reason=reason, at=at))


_upsert = dialect_insert


def fail_if_silent(session: Session, run_id: str, cutoff: datetime, reason: str) -> bool:
    """Mark a RUNNING run FAILED unless it sent a heartbeat after ``cutoff``.

    One conditional UPDATE: a batch that refreshes the heartbeat concurrently either commits
    first (then this matches nothing) or waits for this one, so a live run is never failed.
    """
    now = utcnow()
    result = session.execute(
        update(RunRow)
        .where(
            RunRow.id == run_id,
            RunRow.status == str(RunStatus.RUNNING),
            RunRow.heartbeat_at < cutoff,
        )
        .values(status=str(RunStatus.FAILED), status_reason=reason, ended_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    session.add(RunStatusRow(run_id=run_id, status=str(RunStatus.FAILED), reason=reason, at=now))
    return True


def insert_batch(
    session: Session,
    run_id: str,
    metrics: Sequence[Metric],
    params: dict[str, str],
    tags: dict[str, str],
) -> None:
    """Append metric points, set params (immutable) and tags (overwritten) of one run."""
    insert = _upsert(session)
    if params:
        _insert_params(session, insert, run_id, params)
    if tags:
        stmt = insert(RunTagRow).values(
            [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()]
        )
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["run_id", "key"], set_={"value": stmt.excluded.value}
            )
        )
    if metrics:
        # One pass builds the rows; NaN is stored as 0 plus a flag (SQLite turns NaN into NULL).
        rows = [
            (
                run_id,
                m.key,
                0.0 if m.value != m.value else m.value,
                m.value != m.value,
                m.step,
                m.timestamp_ms,
            )
            for m in metrics
        ]
        _append_metrics(session, rows)
        _update_latest(session, rows)


_METRIC_COLUMNS = "run_id, key, value, is_nan, step, timestamp_ms"


def _driver_executemany(session: Session, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Run one fixed statement over many rows through the database driver itself.

    SQLAlchemy would rebuild and re-process parameters per row; on the logging hot path that
    costs more than the database work. Placeholders are written as ``?`` and translated.
    """
    connection = session.connection()
    raw = connection.connection.driver_connection
    assert raw is not None, "a checked-out connection always has its driver connection"
    if connection.dialect.name == "postgresql":
        sql = sql.replace("?", "%s")
    cursor = raw.cursor()
    try:
        cursor.executemany(sql, rows)
    except Exception as exc:
        raise _wrap_driver_error(session, sql, exc) from exc
    finally:
        cursor.close()


def _wrap_driver_error(session: Session, sql: str, exc: Exception) -> Exception:
    """A driver exception as the matching SQLAlchemy error (IntegrityError, ...), so the
    session helper translates it like any other; anything else passes through unchanged."""
    dbapi = session.get_bind().dialect.loaded_dbapi
    if not isinstance(exc, dbapi.Error):
        return exc
    return DBAPIError.instance(sql, None, exc, dbapi.Error)


def _append_metrics(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Append metric points with the engine's bulk path.

    On PostgreSQL that is COPY (one round trip; psycopg's executemany would send one statement
    per row); on SQLite, the driver's executemany (a C loop over one prepared statement).
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        _driver_executemany(
            session, f"INSERT INTO metrics ({_METRIC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", rows
        )
        return
    raw = connection.connection.driver_connection
    assert raw is not None, "a checked-out connection always has its driver connection"
    try:
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY metrics ({_METRIC_COLUMNS}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    except Exception as exc:
        raise _wrap_driver_error(session, "COPY metrics", exc) from exc


def _insert_params(session: Session, insert: Any, run_id: str, params: dict[str, str]) -> None:
    stmt = insert(ParamRow).values(
        [{"run_id": run_id, "key": k, "value": v} for k, v in params.items()]
    )
    session.execute(stmt.on_conflict_do_nothing(index_elements=["run_id", "key"]))
    # A param is logged once (like MLflow): a different value for an existing key is an error,
    # and raising here rolls back the whole batch.
    existing = session.execute(
        select(ParamRow.key, ParamRow.value).where(
            ParamRow.run_id == run_id, ParamRow.key.in_(list(params))
        )
    )
    changed = [key for key, value in existing if params[key] != value]
    if changed:
        raise Conflict(
            f"param {changed[0]!r} of run {run_id} is already logged with another value; "
            "params cannot change (log a tag or a metric instead)",
            details={"run_id": run_id, "key": changed[0]},
        )


# The newest point wins: a higher step, or the same step logged later. The WHERE compares with
# the stored row, so concurrent batches can never move "latest" backwards. NaN is stored as
# NULL here so that one "NULLS LAST" sort key puts NaN and missing metrics last in searches.
_UPSERT_LATEST = f"""
INSERT INTO latest_metrics ({_METRIC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, key) DO UPDATE SET
    value = excluded.value, is_nan = excluded.is_nan, step = excluded.step,
    timestamp_ms = excluded.timestamp_ms
WHERE excluded.step > latest_metrics.step
   OR (excluded.step = latest_metrics.step AND excluded.timestamp_ms >= latest_metrics.timestamp_ms)
"""


def _update_latest(session: Session, rows: list[tuple[Any, ...]]) -> None:
    newest: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        best = newest.get(row[1])
        if best is None or (row[4], row[5]) >= (best[4], best[5]):
            newest[row[1]] = row
    latest = [(r[0], r[1], None if r[3] else r[2], r[3], r[4], r[5]) for r in newest.values()]
    _driver_executemany(session, _UPSERT_LATEST, latest)


def touch(session: Session, run_id: str) -> None:
    """Record that the run's process is alive."""
    session.execute(update(RunRow).where(RunRow.id == run_id).values(heartbeat_at=utcnow()))


def _metric(key: str, value: float | None, is_nan: bool, step: int, ts: int) -> Metric:
    return Metric(key, math.nan if is_nan or value is None else value, step, ts)


def metric_history(session: Session, run_id: str, key: str) -> list[Metric]:
    """Every point of one metric, in step order (then time)."""
    query = (
        select(MetricRow.value, MetricRow.is_nan, MetricRow.step, MetricRow.timestamp_ms)
        .where(MetricRow.run_id == run_id, MetricRow.key == key)
        .order_by(MetricRow.step, MetricRow.timestamp_ms)
    )
    return [_metric(key, v, n, s, t) for v, n, s, t in session.execute(query)]


RunSelect = Select[*tuple[Any, ...]]


def run_query() -> RunSelect:
    """Runs' columns with their experiment's and project's names, for reading.

    Plain columns, not ORM objects: a search page reads hundreds of rows and never changes them,
    and building ORM instances cost more than the query. The rows still read like ``RunRow``
    (``row.id``, ``row.status``), plus ``row.experiment_name`` and ``row.project_name``.
    """
    return (
        select(
            *RunRow.__table__.columns,
            ExperimentRow.name.label("experiment_name"),
            ProjectRow.name.label("project_name"),
        )
        .join(ExperimentRow, ExperimentRow.id == RunRow.experiment_id)
        .join(ProjectRow, ProjectRow.id == RunRow.project_id)
    )


def _among(session: Session, column: Any, ids: list[str]) -> ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL as one array parameter (``= ANY(:ids)``).

    A page of 10,000 runs would otherwise be 10,000 bind parameters that SQLAlchemy renders and
    psycopg rewrites on every query, which cost more than running it.
    """
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("ids", ids, type_=ARRAY(String)))  # type: ignore[no-any-return]
    return column.in_(ids)  # type: ignore[no-any-return]


def hydrate(session: Session, found: Iterable[Any], *, history: bool = False) -> list[Run]:
    """Domain runs from ``run_query`` rows, with params, tags and latest metrics.

    Three more queries for the whole page (four with the status history), whatever its size.
    """
    found = list(found)
    ids = [row.id for row in found]
    params: dict[str, dict[str, str]] = {i: {} for i in ids}
    tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    metrics: dict[str, dict[str, Metric]] = {i: {} for i in ids}
    changes: dict[str, list[StatusChange]] = {i: [] for i in ids}
    if ids:
        for run_id, key, value in session.execute(
            select(ParamRow.run_id, ParamRow.key, ParamRow.value).where(
                _among(session, ParamRow.run_id, ids)
            )
        ):
            params[run_id][key] = value
        for run_id, key, value in session.execute(
            select(RunTagRow.run_id, RunTagRow.key, RunTagRow.value).where(
                _among(session, RunTagRow.run_id, ids)
            )
        ):
            tags[run_id][key] = value
        latest = select(
            LatestMetricRow.run_id,
            LatestMetricRow.key,
            LatestMetricRow.value,
            LatestMetricRow.is_nan,
            LatestMetricRow.step,
            LatestMetricRow.timestamp_ms,
        ).where(_among(session, LatestMetricRow.run_id, ids))
        for m in session.execute(latest):
            metrics[m.run_id][m.key] = _metric(m.key, m.value, m.is_nan, m.step, m.timestamp_ms)
        if history:
            query = (
                select(RunStatusRow)
                .where(_among(session, RunStatusRow.run_id, ids))
                .order_by(RunStatusRow.id)
            )
            for change in session.scalars(query):
                changes[change.run_id].append(
                    StatusChange(RunStatus(change.status), change.reason, change.at)
                )
    return [
        Run(
            id=row.id,
            experiment_id=row.experiment_id,
            experiment=row.experiment_name,
            project=row.project_name,
            name=row.name,
            user=row.user,
            status=RunStatus(row.status),
            status_reason=row.status_reason,
            lifecycle=row.lifecycle,
            artifact_uri=row.artifact_uri,
            parent_run_id=row.parent_run_id,
            created_at=row.created_at,
            ended_at=row.ended_at,
            heartbeat_at=row.heartbeat_at,
            params=params[row.id],
            tags=tags[row.id],
            metrics=metrics[row.id],
            history=tuple(changes[row.id]),
        )
        for row in found
    ]


def add_artifact(session: Session, run_id: str, artifact: Artifact) -> None:
    insert = _upsert(session)
    stmt = insert(ArtifactRow).values(
        run_id=run_id,
        path=artifact.path,
        size=artifact.size,
        sha256=artifact.sha256,
        created_at=artifact.created_at or utcnow(),
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["run_id", "path"],
            set_={
                "size": stmt.excluded.size,
                "sha256": stmt.excluded.sha256,
                "created_at": stmt.excluded.created_at,
            },
        )
    )


def list_artifacts(session: Session, run_id: str, prefix: str = "") -> list[Artifact]:
    query = select(ArtifactRow).where(ArtifactRow.run_id == run_id).order_by(ArtifactRow.path)
    if prefix:
        query = query.where(ArtifactRow.path.startswith(prefix.rstrip("/") + "/", autoescape=True))
    return [Artifact(r.path, r.size, r.sha256, r.created_at) for r in session.scalars(query)]


def delete_tag(session: Session, run_id: str, key: str) -> bool:
    """Remove a run's tag; whether there was one."""
    result = session.execute(
        delete(RunTagRow).where(RunTagRow.run_id == run_id, RunTagRow.key == key)
    )
    return bool(getattr(result, "rowcount", 0))


def delete_artifact(session: Session, run_id: str, path: str) -> None:
    session.execute(
        delete(ArtifactRow).where(ArtifactRow.run_id == run_id, ArtifactRow.path == path)
    )
