"""The heartbeat reaper: RUNNING runs whose process went silent are FAILED, with the reason."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.domain.tracking import Metric, RunStatus
from griffin.platform import Platform
from griffin.server import create_app
from griffin.store.orm.base import utcnow
from griffin.store.orm.tracking import RunRow, RunStatusRow
from griffin.tracking import runs

ADMIN = Principal("tester", ALL_PROJECTS, Role.ADMIN)


def _new(platform: Platform) -> str:
    return runs.create_run(platform.db, ADMIN, "default", "exp", artifact_root="/a").id


def _age(platform: Platform, run_id: str, seconds: float) -> None:
    with platform.db.session(write=True) as session:
        session.execute(
            update(RunRow)
            .where(RunRow.id == run_id)
            .values(heartbeat_at=utcnow() - timedelta(seconds=seconds))
        )


def _history(platform: Platform, run_id: str) -> list[tuple[str, str]]:
    with platform.db.session() as session:
        rows = session.scalars(
            select(RunStatusRow).where(RunStatusRow.run_id == run_id).order_by(RunStatusRow.id)
        )
        return [(r.status, r.reason) for r in rows]


def test_stale_runs_fail_with_a_reason_and_fresh_ones_stay(platform: Platform) -> None:
    stale = _new(platform)
    fresh = _new(platform)
    finished = _new(platform)
    runs.update_run(platform.db, ADMIN, finished, status=RunStatus.FINISHED)
    _age(platform, stale, 600)
    _age(platform, finished, 600)
    _age(platform, fresh, 10)

    assert runs.fail_stale_runs(platform.db, 300) == [stale]

    run = runs.get_run(platform.db, ADMIN, stale)
    assert run.status is RunStatus.FAILED
    assert run.ended_at is not None
    assert run.status_reason.startswith("no heartbeat for 600 s (limit 300 s)")
    assert "probably died" in run.status_reason
    assert _history(platform, stale) == [("RUNNING", "started"), ("FAILED", run.status_reason)]
    assert runs.get_run(platform.db, ADMIN, fresh).status is RunStatus.RUNNING
    assert _history(platform, fresh) == [("RUNNING", "started")]
    assert runs.get_run(platform.db, ADMIN, finished).status is RunStatus.FINISHED
    # Nothing left to do: a second pass changes nothing.
    assert runs.fail_stale_runs(platform.db, 300) == []
    assert len(_history(platform, stale)) == 2


def test_logging_and_heartbeats_keep_a_run_alive(platform: Platform) -> None:
    logged = _new(platform)
    beating = _new(platform)
    _age(platform, logged, 600)
    _age(platform, beating, 600)
    runs.log_batch(platform.db, ADMIN, logged, metrics=[Metric("m", 1.0, 0, 1)])
    runs.heartbeat(platform.db, ADMIN, beating)
    for run_id in (logged, beating):
        assert utcnow() - runs.get_run(platform.db, ADMIN, run_id).heartbeat_at < timedelta(
            seconds=60
        )
    assert runs.fail_stale_runs(platform.db, 300) == []


def test_a_failed_run_refuses_to_finish_later(platform: Platform) -> None:
    from griffin.errors import Conflict

    run_id = _new(platform)
    _age(platform, run_id, 1000)
    runs.fail_stale_runs(platform.db, 60)
    with pytest.raises(Conflict, match="is FAILED; it cannot become FINISHED"):
        runs.update_run(platform.db, ADMIN, run_id, status=RunStatus.FINISHED)


@pytest.mark.anyio
async def test_the_server_reaps_in_the_background(platform: Platform, anyio_backend: str) -> None:
    quick = Platform(
        settings=platform.settings.model_copy(update={"heartbeat_timeout_s": 5.0}),
        db=platform.db,
        artifacts=platform.artifacts,
    )
    run_id = _new(platform)
    _age(platform, run_id, 60)
    app = create_app(platform=quick)
    async with app.router.lifespan_context(app):
        for _ in range(100):
            if runs.get_run(platform.db, ADMIN, run_id).status is RunStatus.FAILED:
                break
            await asyncio.sleep(0.02)
    assert runs.get_run(platform.db, ADMIN, run_id).status is RunStatus.FAILED


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_a_run_that_logged_after_the_check_began_is_not_failed(platform: Platform) -> None:
    # The reaper picks candidates, then fails each with a conditional UPDATE. A batch that
    # refreshed the heartbeat in between must win: the run stays RUNNING, no history row.
    from griffin.store import runs as run_store

    run_id = _new(platform)
    cutoff = utcnow() - timedelta(seconds=60)  # what the reaper computed before the batch
    runs.log_batch(platform.db, ADMIN, run_id, metrics=[Metric("loss", 1.0, 0, 1)])
    with platform.db.session(write=True) as session:
        failed = run_store.fail_if_silent(session, run_id, cutoff, "should not happen")
    assert failed is False
    assert runs.get_run(platform.db, ADMIN, run_id).status is RunStatus.RUNNING
    assert [status for status, _ in _history(platform, run_id)] == ["RUNNING"]
