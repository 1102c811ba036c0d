"""The Griffin side of a backend: seed the search corpus, serve it, run the measurements."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from _common import SEED, BackendResult, BenchError, Sizes, latency, say
from _measure import (
    Rest,
    griffin_concurrency_suite,
    griffin_rest_suite,
    griffin_sdk_suite,
    now_ms,
    time_calls,
)
from _mlflow_client import run_mlflow_client
from _servers import griffin_env, griffin_server
from _workload import SEARCH_EXPERIMENT, seed_runs

# --------------------------------------------------------------------------- seeding


def seed_griffin(settings: Any, n: int, method: str) -> str:
    """Create the search corpus in the database the server will use; returns how."""
    from griffin.platform import open_platform

    platform = open_platform(settings)  # migrates SQLite, creates the default project
    try:
        if method == "service":
            _seed_service(platform, n)
            how = "one create_run + log_batch per run through griffin.tracking.runs"
        else:
            _seed_bulk(platform, n)
            how = "bulk INSERTs through Griffin's ORM models (griffin.store.orm.tracking)"
        return how + _analyze(platform.db.engine)
    finally:
        platform.close()


def _analyze(engine: Any) -> str:
    """Give PostgreSQL the table statistics autovacuum would have gathered by now.

    A live database analyzes its tables within a minute of heavy writes; a corpus bulk-loaded a
    second before the first search has none, and the planner then guesses one row per table.
    Both products' corpora get the same treatment (see _mlflow_worker.py).
    """
    if engine.dialect.name != "postgresql":
        return ""
    from sqlalchemy import text

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))
    return ", then ANALYZE"


def _seed_service(platform: Any, n: int) -> None:
    from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
    from griffin.domain.tracking import Metric
    from griffin.tracking import runs

    admin = Principal(user="bench", project=ALL_PROJECTS, role=Role.ADMIN)
    root = platform.settings.resolved_artifact_root
    for r in seed_runs(n, SEED):
        run = runs.create_run(
            platform.db,
            admin,
            platform.settings.project,
            SEARCH_EXPERIMENT,
            name=f"seed-{r.index}",
            params={"model": r.model, "lr": r.lr},
            artifact_root=root,
        )
        ts = now_ms()
        runs.log_batch(
            platform.db,
            admin,
            run.id,
            metrics=[Metric("acc", r.acc, 0, ts), Metric("loss", r.loss, 0, ts)],
        )


def _seed_bulk(platform: Any, n: int) -> None:
    from sqlalchemy import insert

    from griffin.domain.ids import new_id
    from griffin.store import experiments, projects
    from griffin.store.orm.base import utcnow
    from griffin.store.orm.tracking import (
        LatestMetricRow,
        MetricRow,
        ParamRow,
        RunRow,
        RunStatusRow,
    )
    from griffin.tracking.runs import artifact_prefix

    with platform.db.session(write=True) as session:
        project = projects.get_row(session, platform.settings.project)
        exp = experiments.find_row(session, project, SEARCH_EXPERIMENT) or experiments.create(
            session, project, SEARCH_EXPERIMENT
        )
        project_id, experiment_id = project.id, exp.id
    root = platform.settings.resolved_artifact_root.rstrip("/")
    now = utcnow()
    ts = now_ms()
    corpus = seed_runs(n, SEED)
    for first in range(0, n, 2000):
        chunk = corpus[first : first + 2000]
        ids = [new_id() for _ in chunk]
        pairs = list(zip(ids, chunk, strict=True))
        run_rows = [
            {
                "id": run_id,
                "experiment_id": experiment_id,
                "project_id": project_id,
                "name": f"seed-{r.index}",
                "user": "bench",
                "status": "FINISHED",
                "status_reason": "",
                "lifecycle": "active",
                "artifact_uri": f"{root}/{artifact_prefix(project_id, run_id)}",
                "parent_run_id": None,
                "created_at": now - timedelta(milliseconds=n - r.index),
                "ended_at": now,
                "heartbeat_at": now,
            }
            for run_id, r in pairs
        ]
        history = [
            {"run_id": run_id, "status": status, "reason": reason, "at": now}
            for run_id, _ in pairs
            for status, reason in (("RUNNING", "started"), ("FINISHED", ""))
        ]
        params = [
            {"run_id": run_id, "key": key, "value": value}
            for run_id, r in pairs
            for key, value in (("model", r.model), ("lr", r.lr))
        ]
        metrics = [
            {"run_id": run_id, "key": key, "value": value, "is_nan": False, "step": 0}
            | {"timestamp_ms": ts}
            for run_id, r in pairs
            for key, value in (("acc", r.acc), ("loss", r.loss))
        ]
        with platform.db.session(write=True) as session:
            session.execute(insert(RunRow), run_rows)
            session.execute(insert(RunStatusRow), history)
            session.execute(insert(ParamRow), params)
            session.execute(insert(MetricRow), metrics)
            session.execute(insert(LatestMetricRow), metrics)


# --------------------------------------------------------------------------- serve and measure


def run_griffin(
    backend: str,
    database_url: str,
    workdir: Path,
    sizes: Sizes,
    sdk: Any,
    seed_method: str,
    res: BackendResult,
    *,
    mlflow_client: bool = False,
) -> None:
    """Seed, then measure with 1 worker (and 2), filling ``res`` as figures come in; with
    ``mlflow_client``, also MLflow's client against the 1-worker server (``_mlflow_client``)."""
    from griffin.config import load_settings

    home = workdir / f"griffin-{backend}"
    home.mkdir(parents=True, exist_ok=True)
    settings = load_settings(
        cwd=home, environ={}, home=str(home), database_url=database_url or None
    )
    if database_url:
        from griffin.store.migrate import upgrade
        from griffin.store.session import Database

        db = Database(database_url)
        try:
            upgrade(db)
        finally:
            db.dispose()
    say(f"griffin/{backend}: seeding {sizes.search_runs:,} runs")
    t0 = time.perf_counter()
    how = seed_griffin(settings, sizes.search_runs, seed_method)
    res.notes.append(
        f"griffin/{backend}: search corpus seeded with {how} in {time.perf_counter() - t0:.1f} s"
    )
    env = griffin_env(home, database_url)
    with griffin_server(env, home, 1, "workers1") as url:
        griffin_rest_suite(url, sizes, sizes.search_runs, res.griffin)
        if sdk is not None:
            griffin_sdk_suite(sdk, url, sizes, sizes.search_runs, settings, res.griffin)
        if mlflow_client:
            tag = f"mlflow client -> griffin/{backend}"
            try:
                res.mlflow_client_griffin = run_mlflow_client(url, home, sizes, tag, res.notes)
            except BenchError as exc:
                res.notes.append(f"{tag}: FAILED: {exc}")
        if sizes.workers2:
            griffin_concurrency_suite(url, sizes, res.griffin)
    if sizes.workers2:
        two = res.griffin_2_workers
        with griffin_server(env, home, 2, "workers2") as url:
            griffin_concurrency_suite(url, sizes, two)
            rest = Rest(url)
            try:
                samples = time_calls(lambda: rest.search(100), sizes.search_reps, sizes.budget_s)
            finally:
                rest.close()
            two["rest_search"] = latency(samples)
