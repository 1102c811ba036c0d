"""The MLflow side of the tracking benchmark; runs in MLflow's own venv (``.bench/mlflow-venv``).

The benchmark (``_mlflow_side.py``) starts this script as a subprocess, never imports it. It
prints one JSON object as its last line of output. Subcommands:

* ``info``: MLflow's version and whether psycopg2 (PostgreSQL) is importable;
* ``seed``: create the search corpus directly in MLflow's SQL store, in-process;
* ``bench``: the timed workload, with MLflow's own ``MlflowClient``, against whatever server
  ``--tracking-uri`` names: a running ``mlflow server``, or Griffin's server (which serves
  MLflow's REST API), so that the very same client code is timed against both. With
  ``--alias-model`` it also times alias resolution (``get_model_version_by_alias`` and
  ``models:/name@alias``), seeding the model first when ``--alias-seed-versions`` is given.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workload import (
    BATCH_KEYS,
    SEARCH_EXPERIMENT,
    SEARCH_FILTER,
    SEARCH_ORDER,
    batch_points,
    expected_top,
    seed_runs,
)

CHUNK = 2000


def _info() -> dict[str, Any]:
    import importlib.util

    import mlflow  # type: ignore[import-not-found, unused-ignore]

    # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3; pick whichever driver is installed.
    driver = next(
        (name for name in ("psycopg2", "psycopg") if importlib.util.find_spec(name) is not None),
        None,
    )
    return {"version": mlflow.__version__, "pg_driver": driver}


def _seed(store_uri: str, artifact_root: str, n: int, seed: int) -> dict[str, Any]:
    """Bulk INSERTs through MLflow's own ORM models (the store's REST path would take minutes)."""
    from mlflow.store.tracking.dbmodels.models import (  # type: ignore[import-not-found, unused-ignore]
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from mlflow.store.tracking.sqlalchemy_store import (  # type: ignore[import-not-found, unused-ignore]
        SqlAlchemyStore,
    )
    from sqlalchemy import insert, text  # type: ignore[import-not-found, unused-ignore]

    started = time.perf_counter()
    # Any: MLflow's store is untyped (mypy sees it where mlflow-skinny is in Griffin's venv).
    store: Any = SqlAlchemyStore(store_uri, artifact_root)  # type: ignore[no-untyped-call, unused-ignore]
    migrated = time.perf_counter()
    experiment_id = store.create_experiment(SEARCH_EXPERIMENT)
    runs = seed_runs(n, seed)
    now = int(time.time() * 1000)
    for first in range(0, n, CHUNK):
        chunk = runs[first : first + CHUNK]
        ids = [uuid.uuid4().hex for _ in chunk]
        run_rows = [
            {
                "run_uuid": run_id,
                "name": f"seed-{r.index}",
                "source_type": "LOCAL",
                "source_name": "",
                "entry_point_name": "",
                "user_id": "bench",
                "status": "FINISHED",
                "start_time": now - n + r.index,
                "end_time": now,
                "source_version": "",
                "lifecycle_stage": "active",
                "artifact_uri": f"{artifact_root}/{experiment_id}/{run_id}/artifacts",
                "experiment_id": int(experiment_id),
            }
            for run_id, r in zip(ids, chunk, strict=True)
        ]
        params = [
            row
            for run_id, r in zip(ids, chunk, strict=True)
            for row in (
                {"run_uuid": run_id, "key": "model", "value": r.model},
                {"run_uuid": run_id, "key": "lr", "value": r.lr},
            )
        ]
        metrics = [
            row
            for run_id, r in zip(ids, chunk, strict=True)
            for row in (
                {"run_uuid": run_id, "key": "acc", "value": r.acc, "timestamp": now, "step": 0},
                {"run_uuid": run_id, "key": "loss", "value": r.loss, "timestamp": now, "step": 0},
            )
        ]
        # The tags every run carries: MLflow's create_run writes mlflow.runName, its fluent
        # start_run mlflow.user; Griffin answers with both (from its columns), so both answers
        # hold the same fields.
        tags = [
            row
            for run_id, r in zip(ids, chunk, strict=True)
            for row in (
                {"run_uuid": run_id, "key": "mlflow.runName", "value": f"seed-{r.index}"},
                {"run_uuid": run_id, "key": "mlflow.user", "value": "bench"},
            )
        ]
        for row in metrics:
            row["is_nan"] = False
        with store.ManagedSessionMaker() as session:
            session.execute(insert(SqlRun), run_rows)
            session.execute(insert(SqlParam), params)
            session.execute(insert(SqlTag), tags)
            session.execute(insert(SqlMetric), metrics)
            session.execute(insert(SqlLatestMetric), metrics)
    method = "bulk INSERTs through MLflow's SqlAlchemyStore ORM models, in-process"
    if store.engine.dialect.name == "postgresql":
        # As on the Griffin side: the statistics autovacuum would have gathered by now.
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        method += ", then ANALYZE"
    done = time.perf_counter()
    return {
        "experiment_id": experiment_id,
        "runs": n,
        "migrate_s": migrated - started,
        "seed_s": done - migrated,
        "method": method,
    }


def _latencies(
    call: Callable[[], object], reps: int, budget_s: float, warmup: int = 0
) -> list[float]:
    """Seconds per call: ``reps`` calls, or fewer when ``budget_s`` runs out (at least one),
    after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    out: list[float] = []
    deadline = time.perf_counter() + budget_s
    for _ in range(reps):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
        if time.perf_counter() > deadline:
            break
    return out


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": statistics.median(ordered) * 1000, "p95_ms": p95 * 1000, "n": len(samples)}


def _optional(out: dict[str, Any], key: str, step: Callable[[], None]) -> None:
    """A step whose failure is reported, not fatal: the other figures still come back."""
    try:
        step()
    except Exception as exc:
        traceback.print_exc()
        out.setdefault("errors", {})[key] = f"{type(exc).__name__}: {str(exc)[:400]}"


def _bench(args: argparse.Namespace) -> dict[str, Any]:
    import mlflow  # type: ignore[import-not-found, unused-ignore]
    from mlflow.tracking import MlflowClient  # type: ignore[import-not-found, unused-ignore]

    # Both registries too: models:/ URIs and the alias calls go to the same server.
    mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_registry_uri(args.tracking_uri)
    client = MlflowClient(tracking_uri=args.tracking_uri, registry_uri=args.tracking_uri)
    out: dict[str, Any] = {"version": mlflow.__version__, "checks": {}}
    if not args.skip_tracking:
        _tracking(client, args, out)
    if args.alias_model:
        _optional(out, "alias", lambda: _alias(client, args, out))
    return out


def _tracking(client: Any, args: argparse.Namespace, out: dict[str, Any]) -> None:
    """log_metric, log_batch, create_run and the searches: the tracking figures."""
    from mlflow.entities import Metric  # type: ignore[import-not-found, unused-ignore]

    checks: dict[str, str] = out["checks"]
    experiment_id = client.create_experiment(f"throughput-{uuid.uuid4().hex[:8]}")

    # 1. log_metric, one blocking request per point.
    run_id = client.create_run(experiment_id).info.run_id
    deadline = time.perf_counter() + args.budget_s
    t0 = time.perf_counter()
    done = 0
    for i in range(args.single):
        client.log_metric(run_id, "loss", 1.0 / (i + 1), step=i)
        done += 1
        if time.perf_counter() > deadline:
            break
    out["log_metric"] = {"n": done, "seconds": time.perf_counter() - t0}
    stored = len(client.get_metric_history(run_id, "loss"))
    checks["log_metric"] = "ok" if stored == done else f"{done} logged, {stored} stored"

    # 2. log_batch, 1,000 points per request.
    run_id = client.create_run(experiment_id).info.run_id
    deadline = time.perf_counter() + args.budget_s
    t0 = time.perf_counter()
    points = 0
    for b in range(args.batches):
        now = int(time.time() * 1000)
        batch = [Metric(k, v, now, s) for k, v, s in batch_points(b, args.batch_size)]
        client.log_batch(run_id, metrics=batch)
        points += len(batch)
        if time.perf_counter() > deadline:
            break
    out["log_batch"] = {"n": points, "seconds": time.perf_counter() - t0}
    stored = len(client.get_metric_history(run_id, "m0")) * len(BATCH_KEYS)
    checks["log_batch"] = "ok" if stored == points else f"{points} logged, {stored} stored"

    # 3. create_run.
    deadline = time.perf_counter() + args.budget_s
    t0 = time.perf_counter()
    created = 0
    for _ in range(args.creates):
        client.create_run(experiment_id)
        created += 1
        if time.perf_counter() > deadline:
            break
    out["create_run"] = {"n": created, "seconds": time.perf_counter() - t0}

    # 4. search over the seeded corpus, named by id or (on Griffin, whose ids the benchmark does
    # not choose) by name.
    search_id = args.search_experiment_id
    if not search_id and args.search_experiment_name:
        search_id = client.get_experiment_by_name(args.search_experiment_name).experiment_id
    if search_id:
        ids = [search_id]
        found = client.search_runs(
            ids, SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=args.search_limit
        )
        want = [f"seed-{i}" for i in expected_top(seed_runs(args.seed_runs, args.seed), 100)]
        got = [r.info.run_name for r in found]
        out["search_check"] = "ok" if got == want else f"mismatch: {len(got)} runs returned"
        checks["search"] = out["search_check"]
        samples = _latencies(
            lambda: client.search_runs(
                ids, SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=args.search_limit
            ),
            args.search_reps,
            args.budget_s,
        )
        out["search"] = _stats(samples)
        count: list[int] = []
        samples = _latencies(
            lambda: count.append(len(client.search_runs(ids, max_results=args.seed_runs))),
            args.all_reps,
            args.budget_s,
        )
        out["search_all"] = {**_stats(samples), "runs": count[-1] if count else 0}
        runs = count[-1] if count else 0
        checks["search_all"] = (
            "ok" if runs == args.seed_runs else f"{runs} runs returned, {args.seed_runs} seeded"
        )
        if args.http_floor:
            top = {
                "experiment_ids": ids,
                "filter": SEARCH_FILTER,
                "order_by": SEARCH_ORDER,
                "max_results": args.search_limit,
            }
            every = {"experiment_ids": ids, "max_results": args.seed_runs}
            _optional(
                out,
                "search_http",
                lambda: _search_http(args, "search_http", top, args.search_reps, out),
            )
            _optional(
                out,
                "search_all_http",
                lambda: _search_http(args, "search_all_http", every, args.all_reps, out),
            )


def _search_http(
    args: argparse.Namespace, key: str, body: dict[str, Any], reps: int, out: dict[str, Any]
) -> None:
    """A request ``search_runs`` sends, posted with ``requests`` and its answer only
    JSON-decoded: the server and the transfer without the client's conversion of the answer
    into ``Run`` objects (the difference to the client's figure is the client's own share)."""
    import requests  # type: ignore[import-untyped, unused-ignore]

    url = args.tracking_uri.rstrip("/") + "/api/2.0/mlflow/runs/search"
    session = requests.Session()

    def call() -> None:
        response = session.post(url, json=body, timeout=300)
        response.raise_for_status()
        response.json()

    try:
        out[key] = _stats(_latencies(call, reps, args.budget_s))
    finally:
        session.close()


def _alias_http(args: argparse.Namespace, out: dict[str, Any]) -> None:
    """The GET ``get_model_version_by_alias`` sends, with ``requests`` on a kept-alive session:
    ``alias`` minus this is the client's own share of a call."""
    import requests  # type: ignore[import-untyped, unused-ignore]

    url = args.tracking_uri.rstrip("/") + "/api/2.0/mlflow/registered-models/alias"
    params = {"name": args.alias_model, "alias": args.alias}
    session = requests.Session()

    def call() -> None:
        response = session.get(url, params=params, timeout=60)
        response.raise_for_status()
        response.json()

    try:
        out["alias_http"] = _stats(_latencies(call, args.alias_calls, args.budget_s, warmup=5))
    finally:
        session.close()


def _alias(client: Any, args: argparse.Namespace, out: dict[str, Any]) -> None:
    """``get_model_version_by_alias`` on one client, and ``models:/name@alias`` resolved from
    scratch as ``mlflow.<flavor>.load_model`` does before it downloads anything."""
    from mlflow.store.artifact.models_artifact_repo import (  # type: ignore[import-not-found, unused-ignore]
        ModelsArtifactRepository,
    )

    name, alias = args.alias_model, args.alias
    if args.alias_seed_versions:
        t0 = time.perf_counter()
        experiment_id = client.create_experiment(f"alias-{uuid.uuid4().hex[:8]}")
        run_id = client.create_run(experiment_id).info.run_id
        client.create_registered_model(name)
        for _ in range(args.alias_seed_versions):
            client.create_model_version(name, f"runs:/{run_id}/model", run_id)
        client.set_registered_model_alias(name, alias, str(args.alias_version))
        out["alias_seed_s"] = time.perf_counter() - t0
    found = client.get_model_version_by_alias(name, alias)
    if str(found.version) != str(args.alias_version):
        raise RuntimeError(f"{name}@{alias} is version {found.version}, not {args.alias_version}")
    out["checks"]["alias"] = "ok"
    samples = _latencies(
        lambda: client.get_model_version_by_alias(name, alias),
        args.alias_calls,
        args.budget_s,
        warmup=5,
    )
    out["alias"] = {**_stats(samples), "seconds": sum(samples)}
    if args.http_floor:
        _optional(out, "alias_http", lambda: _alias_http(args, out))

    uri = f"models:/{name}@{alias}"
    repository: Any = ModelsArtifactRepository  # untyped

    def resolve_uri() -> None:
        out["uri_target"] = repository.get_underlying_uri(uri)
        samples = _latencies(lambda: repository(uri), args.uri_calls, args.budget_s, warmup=2)
        out["models_uri"] = _stats(samples)

    _optional(out, "models_uri", resolve_uri)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info")
    seed = sub.add_parser("seed")
    seed.add_argument("--store-uri", required=True)
    seed.add_argument("--artifact-root", required=True)
    seed.add_argument("--runs", type=int, required=True)
    seed.add_argument("--seed", type=int, default=7)
    bench = sub.add_parser("bench")
    bench.add_argument("--tracking-uri", required=True)
    bench.add_argument("--single", type=int, default=200)
    bench.add_argument("--batches", type=int, default=20)
    bench.add_argument("--batch-size", type=int, default=1000)
    bench.add_argument("--creates", type=int, default=100)
    bench.add_argument("--search-experiment-id", default="")
    bench.add_argument("--search-limit", type=int, default=100)
    bench.add_argument("--search-reps", type=int, default=30)
    bench.add_argument("--all-reps", type=int, default=3)
    bench.add_argument("--seed-runs", type=int, default=10_000)
    bench.add_argument("--seed", type=int, default=7)
    bench.add_argument("--search-experiment-name", default="", help="when no id is given")
    bench.add_argument("--skip-tracking", action="store_true", help="only the alias part")
    bench.add_argument("--http-floor", action="store_true", help="also time search_all raw")
    bench.add_argument("--alias-model", default="", help="time alias resolution on this model")
    bench.add_argument("--alias", default="champion")
    bench.add_argument("--alias-version", type=int, default=7)
    bench.add_argument(
        "--alias-seed-versions", type=int, default=0, help="create the model with N versions"
    )
    bench.add_argument("--alias-calls", type=int, default=200)
    bench.add_argument("--uri-calls", type=int, default=30)
    bench.add_argument("--budget-s", type=float, default=60.0, help="time cap per measurement")
    args = parser.parse_args(argv)
    if args.command == "info":
        result = _info()
    elif args.command == "seed":
        result = _seed(args.store_uri, args.artifact_root, args.runs, args.seed)
    else:
        result = _bench(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
