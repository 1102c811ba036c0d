"""Run behaviour: creation, status changes, logging, reading back, heartbeats.

The REST routers, the CLI and (through REST) the SDK all call these functions; none
re-implements a rule. Every status change is written together with its history row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from griffin.domain.accounts import Principal, Role
from griffin.domain.ids import new_id
from griffin.domain.tracking import Metric, Run, RunStatus, StatusChange, check_transition
from griffin.domain.validation import (
    MAX_BATCH_METRICS,
    MAX_NAME_LENGTH,
    check_int64,
    check_key,
    check_name,
    check_params,
    check_tags,
)
from griffin.errors import Conflict, InvalidArgument, NotFound
from griffin.store import experiments, projects, runs
from griffin.store.orm.base import utcnow
from griffin.store.orm.tracking import ExperimentRow, RunRow
from griffin.store.session import Database
from griffin.tracking.pages import Page, decode_cursor, encode_cursor

__all__ = [
    "create_run",
    "delete_run",
    "delete_tag",
    "fail_stale_runs",
    "get_metric_history",
    "get_run",
    "heartbeat",
    "list_runs",
    "log_batch",
    "restore_run",
    "resume_run",
    "run_project",
    "update_run",
]


def run_project(db: Database, run_id: str) -> str:
    """The name of the project a run belongs to (for authorisation before anything else)."""
    with db.session() as session:
        row = runs.get_row(session, run_id)
        return projects.get_row_by_id(session, row.project_id).name


def create_run(
    db: Database,
    principal: Principal,
    project: str,
    experiment: str,
    *,
    name: str | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    parent_run_id: str | None = None,
    artifact_root: str,
    by_id: bool = False,
) -> Run:
    """Start a RUNNING run in ``experiment``, creating the experiment on first use.

    With ``by_id``, ``experiment`` is an existing experiment's id (``NotFound`` otherwise),
    as MLflow clients name experiments.
    """
    principal.require(Role.EDITOR, project)
    if not by_id:
        check_name(experiment, field="experiment name")
    run_name = name or f"run-{new_id()[:8]}"
    if len(run_name) > MAX_NAME_LENGTH:
        raise InvalidArgument(
            f"run name is longer than {MAX_NAME_LENGTH} characters", details={"field": "name"}
        )
    check_params(params or {})
    check_tags(tags or {})
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        if by_id:
            exp = experiments.get_by_id(session, project_row, experiment)
        else:
            exp = experiments.ensure(session, project_row, experiment)
        if exp.lifecycle != "active":
            raise Conflict(f"experiment '{experiment}' is deleted; restore it or use another name")
        if parent_run_id is not None:
            parent = runs.get_row(session, parent_run_id)
            if parent.project_id != project_row.id:
                raise InvalidArgument(
                    "a parent run must be in the same project", details={"field": "parent_run_id"}
                )
        now = utcnow()
        run_id = new_id()
        row = RunRow(
            id=run_id,
            experiment_id=exp.id,
            project_id=project_row.id,
            name=run_name,
            user=principal.user,
            status=str(RunStatus.RUNNING),
            status_reason="",
            lifecycle="active",
            artifact_uri=f"{artifact_root.rstrip('/')}/{artifact_prefix(project_row.id, run_id)}",
            parent_run_id=parent_run_id,
            created_at=now,
            heartbeat_at=now,
        )
        session.add(row)
        session.flush()
        runs.set_status(session, row, RunStatus.RUNNING, "started", at=now)
        runs.insert_batch(session, run_id, [], dict(params or {}), dict(tags or {}))
        session.flush()
        # Built from what was just written, not read back: five queries fewer on the path
        # every MLflow start_run takes.
        return Run(
            id=run_id,
            experiment_id=exp.id,
            experiment=exp.name,
            project=project_row.name,
            name=run_name,
            user=principal.user,
            status=RunStatus.RUNNING,
            status_reason="started",
            lifecycle="active",
            artifact_uri=row.artifact_uri,
            parent_run_id=parent_run_id,
            created_at=now,
            ended_at=None,
            heartbeat_at=now,
            params=dict(params or {}),
            tags=dict(tags or {}),
            metrics={},
            history=(StatusChange(RunStatus.RUNNING, "started", now),),
        )


def artifact_prefix(project_id: str, run_id: str) -> str:
    """Where a run's artifacts live under the artifact root; derived from ids, never input."""
    return f"{project_id}/{run_id}/artifacts"


def get_run(db: Database, principal: Principal, run_id: str) -> Run:
    with db.session() as session:
        found = session.execute(runs.run_query().where(RunRow.id == run_id)).first()
        if found is None:
            runs.get_row(session, run_id)  # raises NotFound naming the run
        assert found is not None
        principal.require(Role.VIEWER, found.project_name)
        return runs.hydrate(session, [found], history=True)[0]


def _editable_row(session: Session, principal: Principal, run_id: str) -> RunRow:
    """The run, locked for the transaction, once the principal may edit it."""
    row, project = runs.get_row_and_project(session, run_id, for_update=True)
    principal.require(Role.EDITOR, project)
    if row.lifecycle != "active":
        raise Conflict(f"run {run_id} is deleted", details={"run_id": run_id})
    return row


def update_run(
    db: Database,
    principal: Principal,
    run_id: str,
    *,
    status: RunStatus | None = None,
    reason: str = "",
    name: str | None = None,
) -> Run:
    """Rename a run or move it through its lifecycle (RUNNING -> FINISHED/FAILED/KILLED)."""
    with db.session(write=True) as session:
        row = _editable_row(session, principal, run_id)
        if name is not None:
            if not name or len(name) > MAX_NAME_LENGTH:
                raise InvalidArgument(
                    "run name must be 1 to 256 characters", details={"field": "name"}
                )
            row.name = name
        if status is not None and status != RunStatus(row.status):
            check_transition(run_id, RunStatus(row.status), status)
            runs.set_status(session, row, status, reason)
        session.flush()
    return get_run(db, principal, run_id)


def delete_run(db: Database, principal: Principal, run_id: str) -> None:
    """Soft-delete: the run leaves lists and searches; its data and artifacts stay."""
    with db.session(write=True) as session:
        row = _editable_row(session, principal, run_id)
        row.lifecycle = "deleted"
        if not RunStatus(row.status).is_terminal:
            runs.set_status(session, row, RunStatus.KILLED, "deleted while running")


def restore_run(db: Database, principal: Principal, run_id: str) -> None:
    """Undo :func:`delete_run`: the run is listed and searchable again."""
    with db.session(write=True) as session:
        row, project = runs.get_row_and_project(session, run_id, for_update=True)
        principal.require(Role.EDITOR, project)
        row.lifecycle = "active"


def resume_run(db: Database, principal: Principal, run_id: str) -> Run:
    """Reopen a finished run to log more to it (MLflow's ``start_run(run_id=...)``).

    The only way out of a terminal status, and an explicit one: the run's history records
    the reopening, so its earlier end stays visible.
    """
    with db.session(write=True) as session:
        row = _editable_row(session, principal, run_id)
        if RunStatus(row.status) != RunStatus.RUNNING:
            row.ended_at = None
            runs.set_status(session, row, RunStatus.RUNNING, "resumed")
        row.heartbeat_at = utcnow()
    return get_run(db, principal, run_id)


def delete_tag(db: Database, principal: Principal, run_id: str, key: str) -> None:
    """Remove one tag of a run (``NotFound`` if it has no such tag)."""
    with db.session(write=True) as session:
        _editable_row(session, principal, run_id)
        if not runs.delete_tag(session, run_id, key):
            raise NotFound(
                f"run {run_id} has no tag '{key}'", details={"run_id": run_id, "key": key}
            )


def log_batch(
    db: Database,
    principal: Principal,
    run_id: str,
    *,
    metrics: Sequence[Metric] = (),
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """Log metrics, params and tags to a run in one transaction: all of it or nothing."""
    if len(metrics) > MAX_BATCH_METRICS:
        raise InvalidArgument(
            f"{len(metrics)} metrics in one batch; the limit is {MAX_BATCH_METRICS}",
            details={"field": "metrics"},
        )
    if metrics:
        # Set and min/max run in C: one check per distinct key and per bound, not per point.
        for key in {m.key for m in metrics}:
            check_key(key, field="metric key")
        steps = [m.step for m in metrics]
        times = [m.timestamp_ms for m in metrics]
        check_int64(min(steps), field="metric step")
        check_int64(max(steps), field="metric step")
        check_int64(min(times), field="metric timestamp_ms", minimum=0)
        check_int64(max(times), field="metric timestamp_ms", minimum=0)
    check_params(params or {})
    check_tags(tags or {})
    with db.session(write=True) as session:
        row = _editable_row(session, principal, run_id)
        runs.insert_batch(session, run_id, metrics, dict(params or {}), dict(tags or {}))
        row.heartbeat_at = utcnow()


def heartbeat(db: Database, principal: Principal, run_id: str) -> None:
    with db.session(write=True) as session:
        row = _editable_row(session, principal, run_id)
        row.heartbeat_at = utcnow()


def get_metric_history(db: Database, principal: Principal, run_id: str, key: str) -> list[Metric]:
    """Every point of ``key`` logged to the run, in step order."""
    with db.session() as session:
        row = runs.get_row(session, run_id)
        principal.require(Role.VIEWER, projects.get_row_by_id(session, row.project_id).name)
        return runs.metric_history(session, run_id, key)


def list_runs(
    db: Database,
    principal: Principal,
    project: str,
    *,
    experiment: str | None = None,
    status: RunStatus | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[Run]:
    """Runs of a project (or one experiment), newest first, a page at a time."""
    principal.require(Role.VIEWER, project)
    with db.session() as session:
        project_row = projects.get_row(session, project)
        # A deleted experiment's runs leave the lists with it (their data stays).
        query = runs.run_query().where(
            RunRow.project_id == project_row.id,
            RunRow.lifecycle == "active",
            ExperimentRow.lifecycle == "active",
        )
        if experiment is not None:
            exp = experiments.get_row(session, project_row, experiment)
            query = query.where(RunRow.experiment_id == exp.id)
        if status is not None:
            query = query.where(RunRow.status == str(status))
        if cursor:
            created_ms, ident = decode_cursor(cursor, 2)
            if not isinstance(created_ms, int) or not isinstance(ident, str):
                raise InvalidArgument("invalid page cursor", details={"field": "cursor"})
            from datetime import UTC, datetime

            created = datetime.fromtimestamp(created_ms / 1_000_000, UTC)
            query = query.where(
                (RunRow.created_at < created)
                | ((RunRow.created_at == created) & (RunRow.id < ident))
            )
        query = query.order_by(RunRow.created_at.desc(), RunRow.id.desc()).limit(limit + 1)
        found = list(session.execute(query))
        more = len(found) > limit
        page = runs.hydrate(session, found[:limit])
    next_cursor = None
    if more:
        last = page[-1]
        next_cursor = encode_cursor([int(last.created_at.timestamp() * 1_000_000), last.id])
    return Page(items=page, next_cursor=next_cursor)


def fail_stale_runs(db: Database, timeout_s: float) -> list[str]:
    """Mark FAILED every RUNNING run whose heartbeat lapsed; returns their ids.

    A run's process sends heartbeats (and every logged batch counts as one); when it dies, the
    run would otherwise stay RUNNING forever.
    """
    cutoff = utcnow() - timedelta(seconds=timeout_s)
    with db.session(write=True) as session:
        candidates = session.execute(
            select(RunRow.id, RunRow.heartbeat_at).where(
                RunRow.status == str(RunStatus.RUNNING), RunRow.heartbeat_at < cutoff
            )
        ).all()
        failed = []
        for run_id, heartbeat_at in candidates:
            silent = (utcnow() - heartbeat_at).total_seconds()
            reason = (
                f"no heartbeat for {math.floor(silent)} s (limit {timeout_s:g} s): the process "
                "running it probably died"
            )
            if runs.fail_if_silent(session, run_id, cutoff, reason):
                failed.append(run_id)
        return failed


MAX_SEARCH_RESULTS = 50_000


def search_runs(
    db: Database,
    principal: Principal,
    project: str,
    *,
    experiments_: Sequence[str] = (),
    filter_: str | None = None,
    order_by: Sequence[str] | None = None,
    limit: int = 1000,
    cursor: str | None = None,
    include_deleted: bool = False,
    only_deleted: bool = False,
) -> Page[Run]:
    """Runs of a project's experiments matching ``filter_``, ordered by ``order_by``.

    The grammar is MLflow's (``griffin.domain.search`` documents it). Pages are ``limit`` runs;
    pass ``next_cursor`` back for the next one. Deleted runs are left out unless
    ``include_deleted``; ``only_deleted`` searches nothing else.
    """
    from griffin.domain.search import parse_filter, parse_order_by
    from griffin.store.search import apply_search

    principal.require(Role.VIEWER, project)
    if not 1 <= limit <= MAX_SEARCH_RESULTS:
        raise InvalidArgument(
            f"limit must be between 1 and {MAX_SEARCH_RESULTS}", details={"field": "limit"}
        )
    comparisons = parse_filter(filter_)
    order = parse_order_by(order_by)
    offset = 0
    if cursor:
        (offset_value,) = decode_cursor(cursor, 1)
        if not isinstance(offset_value, int) or offset_value < 0:
            raise InvalidArgument("invalid page cursor", details={"field": "cursor"})
        offset = offset_value
    with db.session() as session:
        project_row = projects.get_row(session, project)
        query = runs.run_query().where(RunRow.project_id == project_row.id)
        if only_deleted:
            query = query.where(RunRow.lifecycle == "deleted")
        elif not include_deleted:
            query = query.where(RunRow.lifecycle == "active", ExperimentRow.lifecycle == "active")
        if experiments_:
            ids = [experiments.get_row(session, project_row, e).id for e in experiments_]
            query = query.where(RunRow.experiment_id.in_(ids))
        query = apply_search(query, comparisons, order)
        found = list(session.execute(query.offset(offset).limit(limit + 1)))
        page = runs.hydrate(session, found[:limit])
    more = len(found) > limit
    return Page(items=page, next_cursor=encode_cursor([offset + limit]) if more else None)
