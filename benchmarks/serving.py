"""Serving benchmark: ``griffin serve`` against the in-process floor, BentoML and MLflow.

One worker per server, a scikit-learn pipeline (scaler + logistic regression) over 10 float
features, 10,000 entities in Redis. Measured in one run, driven by the same load generator
(``_serving_load.py``: kept-alive connections in one asyncio loop, on this machine):

- Griffin, deployment ``eta``: rows carry only the entity key; the server reads the 10
  features from Redis (Griffin's online store) and predicts. Deployment ``eta-inputs``:
  rows carry the 10 inputs (what the peers do).
- The floor: the same work in this process with nothing between: a raw redis-py ``GET``
  (``MGET`` for 100 rows) of the entity's record, decoding it, and ``model.predict`` on a
  DataFrame of the rows.
- BentoML (``.bench/bentoml-venv``): ``predict`` with adaptive batching (32 rows / 50 ms),
  rows carry the inputs; ``predict_entities`` reads the features from Redis by hand first.
- MLflow (``.bench/mlflow-venv``): ``mlflow models serve`` of the same pipeline.

Single-row requests at concurrency 1 and 16, and 100-row requests at concurrency 1; each
bounded by a count and a time budget. Targets (issue 5): with the feature fetch, at least 2x
BentoML's batched throughput at concurrency 16, and p50 at concurrency 1 within 1 ms of the
floor.

    .venv/bin/python benchmarks/serving.py            # full (about 4 minutes with the peers)
    .venv/bin/python benchmarks/serving.py --quick    # smaller counts
    .venv/bin/python benchmarks/serving.py --no-peers --json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import BENCH_DIR, HERE, MLFLOW_VENV, BenchError, say
from _servers import Proc, free_port, wait_ready
from _serving_data import ENTITIES, FEATURES, fit, table
from _serving_load import Load, drive

BENTO_VENV = BENCH_DIR / "bentoml-venv"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
FEATURES_PY = """\
from griffin.features import Entity, Feature, FeatureService, FeatureView, ParquetSource

driver = Entity("driver", ["driver_id"], dtype="int64")
stats = FeatureView(
    "driver_stats",
    [driver],
    [Feature(f"f{i}", "float64") for i in range(10)],
    ParquetSource("data/stats.parquet", "event_timestamp"),
)
eta = FeatureService("eta", [stats])
"""


@dataclass(frozen=True)
class Sizes:
    single: int = 3000  # requests at concurrency 1
    concurrent: int = 8000  # requests at concurrency 16
    hundred: int = 600  # 100-row requests
    budget_s: float = 20.0  # cap on any one load run


QUICK = Sizes(single=500, concurrent=1500, hundred=100, budget_s=8.0)


@dataclass
class Figure:
    server: str
    scenario: str
    load: Load
    rows: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "scenario": self.scenario,
            "requests": self.load.requests,
            "req_per_s": round(self.load.rate, 1),
            "rows_per_s": round(self.load.rate * self.rows, 1),
            "p50_ms": round(self.load.p50_ms, 3),
            "p99_ms": round(self.load.p99_ms, 3),
        }


SCENARIOS = (("1 row, c=1", 1, 1), ("1 row, c=16", 1, 16), ("100 rows, c=1", 100, 1))


def _ids(count: int, rows: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(ENTITIES) for _ in range(rows)] for _ in range(count)]


def _bodies(rows: int, encode: Callable[[list[int]], Any]) -> list[bytes]:
    return [json.dumps(encode(ids)).encode() for ids in _ids(400, rows, seed=rows)]


def _measure(
    server: str, port: int, path: str, encode: Callable[[list[int]], Any], sizes: Sizes
) -> list[Figure]:
    figures = []
    for scenario, rows, concurrency in SCENARIOS:
        total = sizes.hundred if rows > 1 else sizes.concurrent if concurrency > 1 else sizes.single
        say(f"{server}: {scenario} ({total} requests at most)")
        load = drive(
            port,
            path,
            _bodies(rows, encode),
            concurrency=concurrency,
            total=total,
            budget_s=sizes.budget_s,
        )
        figures.append(Figure(server, scenario, load, rows))
    return figures


# --- Griffin ---------------------------------------------------------------------------------


def _griffin_setup(work: Path, prefix: str, x: Any) -> tuple[dict[str, str], str]:
    """A project with the features applied and written online, and the model registered
    twice: ``eta`` (trained on feature service ``eta``) and ``eta-inputs`` (plain inputs).
    Returns the server's environment and the view's storage name in Redis."""
    import pandas as pd

    from griffin.client import Client
    from griffin.config import Settings
    from griffin.features.online import encode_entity_key
    from griffin.features.project import load_definitions
    from griffin.features.selection import storage_name
    from griffin.platform import open_platform

    env = {
        "GRIFFIN_HOME": str(work / "home"),
        "GRIFFIN_ONLINE_STORE": f"{REDIS_URL}?prefix={prefix}",
    }
    project = work / "project"
    (project / "data").mkdir(parents=True)
    (project / "features.py").write_text(FEATURES_PY)
    frame = pd.DataFrame(x, columns=FEATURES)
    frame.insert(0, "driver_id", range(len(frame)))
    frame["event_timestamp"] = pd.Timestamp.now(tz="UTC").floor("s")
    frame.to_parquet(project / "data" / "stats.parquet", index=False)
    settings = Settings(home=work / "home", online_store=env["GRIFFIN_ONLINE_STORE"])
    platform = open_platform(settings)
    client = Client(settings=settings)
    try:
        with contextlib.chdir(project):
            client.apply_features(project / "features.py")
            view: Any = load_definitions(project / "features.py").get(
                "feature_view", "driver_stats"
            )
        now = time.time_ns() // 1000
        platform.online_store().write_batch(
            storage_name(view),
            [encode_entity_key([i]) for i in range(len(frame))],
            [now] * len(frame),
            x.tolist(),
        )
        model = fit(x, frame=True)
        example = pd.DataFrame(x[:2], columns=FEATURES)
        client.log_model(model, "eta", input_example=example, lineage={"feature_service": "eta"})
        client.log_model(model, "eta-inputs", input_example=example)
        client.create_deployment("eta", "eta/1")
        client.create_deployment("eta-inputs", "eta-inputs/1")
    finally:
        client.close()
        platform.close()
    return env, storage_name(view)


def run_griffin(
    work: Path, prefix: str, x: Any, sizes: Sizes, extra: list[str]
) -> tuple[list[Figure], str]:
    """Griffin's figures, and the view's storage name (for the floor)."""
    say("griffin: setting up the project (features, model, deployments)")
    server_env, storage = _griffin_setup(work, prefix, x)
    env = {**os.environ, **server_env}
    port = free_port()
    griffin = Path(sys.executable).parent / "griffin"
    argv = [str(griffin), "serve", "eta", "eta-inputs", "--port", str(port), *extra]
    proc = Proc("griffin serve", argv, env=env, cwd=work, log=work / "griffin-serve.log")
    try:
        ready = wait_ready(proc, f"http://127.0.0.1:{port}/readyz", 60)
        say(f"griffin serve ready in {ready:.1f} s")
        figures = _measure(
            "Griffin, features from Redis",
            port,
            "/v1/deployments/eta/predict",
            lambda ids: {"rows": [{"driver_id": i} for i in ids]},
            sizes,
        )
        figures += _measure(
            "Griffin, inputs in the request",
            port,
            "/v1/deployments/eta-inputs/predict",
            lambda ids: {"rows": [dict(zip(FEATURES, x[i].tolist(), strict=True)) for i in ids]},
            sizes,
        )
        return figures, storage
    finally:
        proc.stop()


# --- the floor -------------------------------------------------------------------------------


def run_floor(prefix: str, name: str, x: Any, sizes: Sizes) -> list[Figure]:
    """In this process: a raw redis-py read of the rows' records, decoding, and predict on a
    DataFrame of them; nothing else (no HTTP, no JSON, no checks)."""
    import pandas as pd
    import redis

    from griffin.features.online import encode_entity_key
    from griffin.features.online.codec import unpack_record

    model = fit(x, frame=True)
    r = redis.Redis.from_url(REDIS_URL)
    figures = []
    for scenario, rows, concurrency in SCENARIOS:
        if concurrency > 1:
            continue  # in process there is no concurrency to speak of
        count = sizes.hundred if rows > 1 else sizes.single
        keys = [
            [f"{prefix}{name}:{encode_entity_key([i])}" for i in ids]
            for ids in _ids(count, rows, rows)
        ]

        def once(batch: list[str]) -> Any:
            blobs: list[bytes] = r.mget(batch) if len(batch) > 1 else [r.get(batch[0])]  # type: ignore[assignment, list-item]
            values = [unpack_record(b)[1] for b in blobs]
            return model.predict(pd.DataFrame(values, columns=FEATURES))

        for batch in keys[:50]:
            once(batch)
        samples = []
        deadline = time.perf_counter() + sizes.budget_s
        begin = time.perf_counter()
        for batch in keys:
            start = time.perf_counter()
            once(batch)
            samples.append(time.perf_counter() - start)
            if start > deadline:
                break
        wall = time.perf_counter() - begin
        ordered = sorted(samples)
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        load = Load(len(ordered), wall, statistics.median(ordered) * 1000, p99 * 1000)
        figures.append(Figure("floor: redis-py + predict, in process", scenario, load, rows))
    return figures


# --- peers -----------------------------------------------------------------------------------


def _peer_model(venv: Path, kind: str, target: Path) -> None:
    import subprocess

    result = subprocess.run(
        [str(venv / "bin" / "python"), str(HERE / "_serving_peer.py"), kind, str(target)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"{kind} model: {result.stderr[-2000:]}")


def run_bentoml(work: Path, prefix: str, x: Any, sizes: Sizes) -> list[Figure]:
    import redis

    say("bentoml: fitting the model in its venv")
    model = work / "bento-model.pkl"
    _peer_model(BENTO_VENV, "pickle", model)
    peer_prefix = f"{prefix}peer:"
    r = redis.Redis.from_url(REDIS_URL)
    pipe = r.pipeline(transaction=False)
    for i, row in enumerate(x):
        pipe.set(f"{peer_prefix}{i}", row.astype("float64").tobytes())
    pipe.execute()
    port = free_port()
    env = {
        **os.environ,
        "BENCH_MODEL": str(model),
        "BENCH_REDIS": REDIS_URL,
        "BENCH_PREFIX": peer_prefix,
        "BENTOML_HOME": str(work / "bentoml-home"),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    argv = [
        str(BENTO_VENV / "bin" / "bentoml"), "serve", "_serving_bento:Eta",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    proc = Proc("bentoml serve", argv, env=env, cwd=HERE, log=work / "bentoml.log")
    try:
        ready = wait_ready(proc, f"http://127.0.0.1:{port}/readyz", 120)
        say(f"bentoml ready in {ready:.1f} s")
        figures = _measure(
            "BentoML (batchable), inputs in the request",
            port,
            "/predict",
            lambda ids: {"rows": [x[i].tolist() for i in ids]},
            sizes,
        )
        figures += _measure(
            "BentoML (batchable), features from Redis by hand",
            port,
            "/predict_entities",
            lambda ids: {"ids": ids},
            sizes,
        )
        return figures
    finally:
        proc.stop()


def run_mlflow(work: Path, x: Any, sizes: Sizes) -> list[Figure]:
    say("mlflow: fitting and saving the model in its venv")
    model = work / "mlflow-model"
    _peer_model(MLFLOW_VENV, "mlflow", model)
    port = free_port()
    argv = [
        str(MLFLOW_VENV / "bin" / "mlflow"), "models", "serve", "-m", str(model),
        "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    env = {**os.environ, "PATH": f"{MLFLOW_VENV / 'bin'}:{os.environ.get('PATH', '')}"}
    proc = Proc("mlflow models serve", argv, env=env, cwd=work, log=work / "mlflow.log")
    try:
        ready = wait_ready(proc, f"http://127.0.0.1:{port}/ping", 120)
        say(f"mlflow ready in {ready:.1f} s")
        return _measure(
            "MLflow models serve, inputs in the request",
            port,
            "/invocations",
            lambda ids: {
                "dataframe_split": {"columns": FEATURES, "data": [x[i].tolist() for i in ids]}
            },
            sizes,
        )
    finally:
        proc.stop()


# --- report ----------------------------------------------------------------------------------


def _find(figures: list[Figure], server: str, scenario: str) -> Figure | None:
    return next(
        (f for f in figures if f.server.startswith(server) and f.scenario == scenario), None
    )


def verdicts(figures: list[Figure]) -> list[str]:
    lines = []
    ours = _find(figures, "Griffin, features", "1 row, c=16")
    bento = _find(figures, "BentoML (batchable), inputs", "1 row, c=16")
    if ours and bento:
        ratio = ours.load.rate / bento.load.rate
        lines.append(
            f"throughput at c=16 with the feature fetch: {ours.load.rate:.0f} req/s vs BentoML "
            f"batched {bento.load.rate:.0f} req/s (no features) = {ratio:.2f}x "
            f"(target >= 2x: {'met' if ratio >= 2 else 'missed'})"
        )
    bento_f = _find(figures, "BentoML (batchable), features", "1 row, c=16")
    if ours and bento_f:
        lines.append(
            f"the same against BentoML with a hand-written Redis read: "
            f"{ours.load.rate / bento_f.load.rate:.2f}x"
        )
    one = _find(figures, "Griffin, features", "1 row, c=1")
    floor = _find(figures, "floor", "1 row, c=1")
    if one and floor:
        gap = one.load.p50_ms - floor.load.p50_ms
        lines.append(
            f"p50 at c=1: {one.load.p50_ms:.2f} ms vs floor {floor.load.p50_ms:.2f} ms = "
            f"+{gap:.2f} ms (target <= +1 ms: {'met' if gap <= 1.0 else 'missed'})"
        )
    return lines


def print_table(figures: list[Figure]) -> None:
    header = (
        f"{'server':<50} {'scenario':<14} {'req/s':>8} {'rows/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'refused':>8}"
    )
    print(header)
    print("-" * len(header))
    for f in figures:
        print(
            f"{f.server:<50} {f.scenario:<14} {f.load.rate:>8.0f} {f.load.rate * f.rows:>9.0f} "
            f"{f.load.p50_ms:>8.2f} {f.load.p99_ms:>8.2f} {f.load.errors:>8}"
        )


@contextlib.contextmanager
def _workdir(keep: bool) -> Iterator[Path]:
    work = BENCH_DIR / f"serving-{secrets.token_hex(3)}"
    work.mkdir(parents=True)
    try:
        yield work
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts and budgets")
    parser.add_argument("--no-peers", action="store_true", help="skip BentoML and MLflow")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep .bench/serving-*/ (logs)")
    parser.add_argument(
        "--serve-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="pass an option to griffin serve (repeatable), e.g. --serve-option=--no-log",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    prefix = f"bench-serving-{secrets.token_hex(3)}:"
    _, x = table()
    figures: list[Figure] = []
    notes: list[str] = []
    with _workdir(args.keep) as work:
        try:
            ours, storage = run_griffin(work, prefix, x, sizes, args.serve_option)
            figures += ours
            figures += run_floor(prefix, storage, x, sizes)
            peers: list[tuple[str, Path, Callable[[], list[Figure]]]] = [
                ("BentoML", BENTO_VENV, lambda: run_bentoml(work, prefix, x, sizes)),
                ("MLflow", MLFLOW_VENV, lambda: run_mlflow(work, x, sizes)),
            ]
            for name, venv, run in peers:
                if args.no_peers:
                    continue
                if not (venv / "bin" / "python").exists():
                    notes.append(f"{name} skipped: no venv at {venv}")
                    continue
                try:
                    figures += run()
                except (BenchError, RuntimeError, OSError) as exc:
                    notes.append(f"{name} failed: {exc}")
        finally:
            Proc.stop_all()
            _cleanup_redis(prefix)
    if args.json:
        print(
            json.dumps(
                {
                    "figures": [f.to_json() for f in figures],
                    "verdicts": verdicts(figures),
                    "notes": notes,
                },
                indent=2,
            )
        )
        return 0
    print_table(figures)
    print()
    for line in verdicts(figures) + notes:
        print(f"- {line}")
    return 0


def _cleanup_redis(prefix: str) -> None:
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    batch = []
    for key in r.scan_iter(match=f"{prefix}*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            r.unlink(*batch)
            batch.clear()
    if batch:
        r.unlink(*batch)


if __name__ == "__main__":
    sys.exit(main())
