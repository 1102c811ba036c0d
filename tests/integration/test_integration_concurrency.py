"""Many writers, one run: concurrent batches through the service layer on both backends."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.domain.tracking import Metric
from griffin.platform import Platform
from griffin.store.orm.tracking import LatestMetricRow, MetricRow, ParamRow
from griffin.tracking import runs

ADMIN = Principal("tester", ALL_PROJECTS, Role.ADMIN)
THREADS = 8
BATCHES = 12
POINTS = 50


def test_concurrent_batches_to_one_run(platform: Platform) -> None:
    run_id = runs.create_run(platform.db, ADMIN, "default", "exp", artifact_root="/a").id
    start = threading.Barrier(THREADS)

    def writer(worker: int) -> None:
        start.wait()
        for batch in range(BATCHES):
            step0 = batch * POINTS
            # Every worker writes the shared "loss" and its own key, and the same param value.
            metrics = [
                Metric("loss", float(worker * 1_000_000 + step0 + i), step0 + i, worker)
                for i in range(POINTS)
            ] + [Metric(f"w{worker}", float(step0 + i), step0 + i, 1) for i in range(POINTS)]
            runs.log_batch(
                platform.db,
                ADMIN,
                run_id,
                metrics=metrics,
                params={"seed": "42", f"p{worker}": str(worker)},
                tags={"last_writer": str(worker)},
            )

    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(writer, w) for w in range(THREADS)]:
            future.result()  # re-raises any error a writer met

    per_worker = BATCHES * POINTS
    with platform.db.session() as session:
        total = session.scalar(select(func.count()).select_from(MetricRow))
        loss_points = session.scalar(
            select(func.count()).select_from(MetricRow).where(MetricRow.key == "loss")
        )
        distinct = session.scalar(
            select(func.count(func.distinct(MetricRow.value))).where(MetricRow.key == "loss")
        )
        params = session.scalar(select(func.count()).select_from(ParamRow))
        latest = {r.key: r for r in session.scalars(select(LatestMetricRow))}
    assert total == THREADS * per_worker * 2
    assert loss_points == distinct == THREADS * per_worker
    assert params == THREADS + 1

    run = runs.get_run(platform.db, ADMIN, run_id)
    last_step = per_worker - 1
    # Highest step wins, then the newest timestamp: worker THREADS-1 wrote the largest one.
    top = THREADS - 1
    assert run.metrics["loss"].step == last_step
    assert run.metrics["loss"].timestamp_ms == top
    assert run.metrics["loss"].value == float(top * 1_000_000 + last_step)
    for worker in range(THREADS):
        assert run.metrics[f"w{worker}"].step == last_step
        assert latest[f"w{worker}"].value == float(last_step)
        assert run.params[f"p{worker}"] == str(worker)
    assert run.params["seed"] == "42"
    assert run.tags["last_writer"] in {str(w) for w in range(THREADS)}
    history = runs.get_metric_history(platform.db, ADMIN, run_id, "w3")
    assert [m.step for m in history] == list(range(per_worker))


def test_concurrent_runs_and_experiments(platform: Platform) -> None:
    """Creating runs in one new experiment from many threads makes one experiment."""
    start = threading.Barrier(THREADS)

    def creator(_: int) -> str:
        start.wait()
        return runs.create_run(platform.db, ADMIN, "default", "shared", artifact_root="/a").id

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(creator, range(THREADS)))
    assert len(set(results)) == THREADS
    page = runs.list_runs(platform.db, ADMIN, "default", experiment="shared")
    assert {r.id for r in page.items} == set(results)


def test_concurrent_first_use_of_a_project_and_user(platform: Platform) -> None:
    """Server workers starting together, or parallel bootstraps, create each row once."""
    from griffin.accounts import service
    from griffin.store import projects

    start = threading.Barrier(THREADS)

    def bootstrap(_: int) -> str:
        start.wait()
        with platform.db.session(write=True) as session:
            project = projects.ensure(session, "team")
        _, secret = service.create_token(
            platform.db, None, user="ci-bot", project="other", role=Role.EDITOR
        )
        return project.id + secret

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(bootstrap, range(THREADS)))
    assert len(results) == THREADS
    with platform.db.session() as session:
        names = sorted(p.name for p in projects.list_all(session))
    assert names == ["default", "other", "team"]
    assert len(service.list_tokens(platform.db, None, "other")) == THREADS
