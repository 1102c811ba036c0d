#!/usr/bin/env python3
"""Tracking benchmark: a real Griffin server against a real MLflow server, SQLite and PostgreSQL.

    .venv/bin/python benchmarks/tracking.py                   # everything (~10 min)
    .venv/bin/python benchmarks/tracking.py --quick --no-mlflow  # smoke run (< 1 min)

Griffin is served by uvicorn in a subprocess (``_griffin_server.create``); MLflow, when its venv
``.bench/mlflow-venv`` exists, by ``mlflow server`` with the same workload run by
``_mlflow_worker.py`` in that venv. Every server runs in its own process group and is killed on
exit, on Ctrl-C and when the global ``--timeout`` expires. ``benchmarks/README.md`` explains
each figure and how to read the ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import IO, Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workload import (
    SEARCH_EXPERIMENT,
    SEARCH_FILTER,
    SEARCH_ORDER,
    batch_points,
    expected_top,
    seed_runs,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCH_DIR = ROOT / ".bench"
MLFLOW_VENV = BENCH_DIR / "mlflow-venv"
MLFLOW_INSTALL = (
    "python3 -m venv .bench/mlflow-venv && "
    ".bench/mlflow-venv/bin/pip install mlflow psycopg2-binary"
)
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
API = "/api/v1"
JSON_HEADERS = {"content-type": "application/json"}
SEED = 7
BACKENDS = ("sqlite", "postgresql")

# MLflow 3.17.2 (default server, 4 workers) measured earlier on this machine
# (shared/research/tracking.md); shown, marked, only when MLflow is not run here.
MLFLOW_REFERENCE: dict[tuple[str, str], float] = {
    ("log_metric", "sqlite"): 17.5,
    ("log_metric", "postgresql"): 17.4,
    ("log_batch", "sqlite"): 4526.0,
    ("log_batch", "postgresql"): 3882.0,
}


@dataclass(frozen=True)
class Sizes:
    """How much each measurement does (counts) and may take (seconds)."""

    sdk_points: int = 20_000
    rest_single: int = 500
    batches: int = 50
    batch_size: int = 1000
    creates: int = 300
    search_runs: int = 10_000
    search_reps: int = 30
    all_reps: int = 5
    mlflow_single: int = 200
    mlflow_batches: int = 20
    mlflow_creates: int = 100
    mlflow_search_reps: int = 30
    mlflow_all_reps: int = 3
    budget_s: float = 60.0  # cap on any one timed loop
    workers2: bool = True


QUICK = Sizes(
    sdk_points=2_000,
    rest_single=100,
    batches=5,
    creates=30,
    search_runs=1_000,
    search_reps=10,
    all_reps=2,
    mlflow_single=30,
    mlflow_batches=3,
    mlflow_creates=10,
    mlflow_search_reps=5,
    mlflow_all_reps=1,
    budget_s=20.0,
    workers2=False,
)


class BenchError(Exception):
    """A measurement could not be made (a failed request, a server that did not start)."""


class BenchTimeout(Exception):
    """The global --timeout expired."""


# --------------------------------------------------------------------------- output helpers

_T0 = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class Measure:
    """One Griffin or MLflow figure: a rate (per second) or a latency (milliseconds)."""

    value: float
    unit: str  # "/s" or "ms"
    n: int
    seconds: float = 0.0
    p95: float | None = None
    detail: str = ""


def rate(n: int, seconds: float, detail: str = "") -> Measure:
    return Measure(n / seconds if seconds > 0 else math.inf, "/s", n, seconds, detail=detail)


def latency(samples: list[float], detail: str = "") -> Measure:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return Measure(
        statistics.median(ordered) * 1000,
        "ms",
        len(samples),
        sum(samples),
        p95=p95 * 1000,
        detail=detail,
    )


# --------------------------------------------------------------------------- processes


class Proc:
    """A child in its own process group; ``stop()`` ends the whole group (uvicorn's workers too)."""

    live: list[Proc] = []

    def __init__(
        self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path, log: Path
    ) -> None:
        self.name = name
        self.log_path = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = log.open("wb")
        self.popen = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        Proc.live.append(self)

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise BenchError(f"{self.name} did not finish within {timeout:.0f} s") from None

    def stop(self) -> None:
        pgid = self.popen.pid  # start_new_session: the child leads its own group
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
            try:
                self.popen.wait(grace)
                break
            except subprocess.TimeoutExpired:
                continue
        # Workers may outlive their leader for a moment; make sure none is left.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        self._log.close()
        if self in Proc.live:
            Proc.live.remove(self)

    @classmethod
    def stop_all(cls) -> None:
        for proc in list(cls.live):
            proc.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(proc: Proc, url: str, timeout: float) -> float:
    """Poll ``url`` until it answers 200; returns the seconds it took."""
    started = time.perf_counter()
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if proc.popen.poll() is not None:
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return time.perf_counter() - started
        time.sleep(0.2)
    raise BenchError(f"{proc.name} was not ready after {timeout:.0f} s:\n{proc.tail()}")


@contextlib.contextmanager
def scratch_pg_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one run of the benchmark, dropped afterwards."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    name = f"{prefix}_{secrets.token_hex(4)}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(drivername="postgresql", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def pg_available(admin_url: str) -> str | None:
    """``None`` when PostgreSQL answers, else why not."""
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(admin_url).set(drivername="postgresql").render_as_string(False)
    try:
        with psycopg.connect(conninfo, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


# --------------------------------------------------------------------------- Griffin: REST


class Rest:
    """Griffin's REST API over one keep-alive httpx client (no SDK involved)."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=120)

    def close(self) -> None:
        self.http.close()

    def post(self, path: str, body: object) -> Any:
        response = self.http.post(path, content=orjson.dumps(body), headers=JSON_HEADERS)
        if response.status_code >= 400:
            raise BenchError(f"POST {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def get(self, path: str, **params: str) -> Any:
        response = self.http.get(path, params=params)
        if response.status_code >= 400:
            raise BenchError(f"GET {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def create_run(self, experiment: str) -> str:
        run_id: str = self.post(f"{API}/projects/default/runs", {"experiment": experiment})["id"]
        return run_id

    def end_run(self, run_id: str) -> None:
        response = self.http.patch(f"{API}/runs/{run_id}", json={"status": "FINISHED"})
        if response.status_code >= 400:
            raise BenchError(f"PATCH run: {response.status_code} {response.text[:300]}")

    def history_len(self, run_id: str, key: str) -> int:
        return len(self.get(f"{API}/runs/{run_id}/metric-history", key=key)["points"])

    def search(self, limit: int, *, filtered: bool = True) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"experiments": [SEARCH_EXPERIMENT], "limit": limit}
        if filtered:
            body |= {"filter": SEARCH_FILTER, "order_by": SEARCH_ORDER}
        items: list[dict[str, Any]] = self.post(f"{API}/projects/default/runs/search", body)[
            "items"
        ]
        return items


def now_ms() -> int:
    return int(time.time() * 1000)


def batch_body(batch: int, size: int) -> dict[str, Any]:
    ts = now_ms()
    return {
        "metrics": [
            {"key": k, "value": v, "step": s, "timestamp_ms": ts}
            for k, v, s in batch_points(batch, size)
        ]
    }


def rest_single(url: str, n: int, budget_s: float) -> tuple[int, float, str]:
    """``n`` requests of one metric each to a fresh run; returns (points, seconds, run id)."""
    rest = Rest(url)
    try:
        run_id = rest.create_run("throughput")
        path = f"{API}/runs/{run_id}/batch"
        deadline = time.perf_counter() + budget_s
        t0 = time.perf_counter()
        done = 0
        for i in range(n):
            point = {"key": "loss", "value": 1 / (i + 1), "step": i, "timestamp_ms": now_ms()}
            rest.post(path, {"metrics": [point]})
            done += 1
            if time.perf_counter() > deadline:
                break
        elapsed = time.perf_counter() - t0
        got = rest.history_len(run_id, "loss")
        if got != done:
            raise BenchError(f"REST single-call: {done} points sent, {got} stored")
        return done, elapsed, run_id
    finally:
        rest.close()


def rest_batches(url: str, batches: int, size: int, budget_s: float) -> tuple[int, float]:
    """``batches`` requests of ``size`` metrics each to a fresh run; returns (points, seconds)."""
    rest = Rest(url)
    try:
        run_id = rest.create_run("throughput")
        path = f"{API}/runs/{run_id}/batch"
        deadline = time.perf_counter() + budget_s
        t0 = time.perf_counter()
        points = 0
        for b in range(batches):
            rest.post(path, batch_body(b, size))
            points += size
            if time.perf_counter() > deadline:
                break
        elapsed = time.perf_counter() - t0
        got = rest.history_len(run_id, "m0")
        if got * 10 != points:
            raise BenchError(f"REST batch: {points} points sent, {got * 10} stored")
        return points, elapsed
    finally:
        rest.close()


def concurrent(work: Callable[[], tuple[int, float]], threads: int) -> Measure:
    """Run ``work`` in ``threads`` threads at once; the rate is all points over the wall time."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = [f.result() for f in [pool.submit(work) for _ in range(threads)]]
    elapsed = time.perf_counter() - t0
    return rate(sum(n for n, _ in results), elapsed)


def time_calls(call: Callable[[], object], reps: int, budget_s: float) -> list[float]:
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    for _ in range(reps):
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
        if time.perf_counter() > deadline:
            break
    return samples


def griffin_rest_suite(url: str, sizes: Sizes, n_seeded: int, out: dict[str, Measure]) -> None:
    say(f"  REST: {sizes.rest_single} requests of 1 metric")
    n, secs, _ = rest_single(url, sizes.rest_single, sizes.budget_s)
    out["rest_single"] = rate(n, secs)

    say(f"  REST: {sizes.batches} requests of {sizes.batch_size} metrics")
    n, secs = rest_batches(url, sizes.batches, sizes.batch_size, sizes.budget_s)
    out["rest_batch"] = rate(n, secs)

    say(f"  REST: create {sizes.creates} runs")
    rest = Rest(url)
    try:
        deadline = time.perf_counter() + sizes.budget_s
        t0 = time.perf_counter()
        made = 0
        for _ in range(sizes.creates):
            rest.create_run("create-bench")
            made += 1
            if time.perf_counter() > deadline:
                break
        out["rest_create_run"] = rate(made, time.perf_counter() - t0)

        say(f"  REST: search top 100 of {n_seeded:,} runs x{sizes.search_reps}")
        check_search([r["name"] for r in rest.search(100)], n_seeded, "REST search")
        samples = time_calls(lambda: rest.search(100), sizes.search_reps, sizes.budget_s)
        out["rest_search"] = latency(samples)
        say(f"  REST: return all {n_seeded:,} runs x{sizes.all_reps}")
        got = len(rest.search(n_seeded, filtered=False))
        if got != n_seeded:
            raise BenchError(f"REST search returned {got} runs, {n_seeded} were seeded")
        samples = time_calls(
            lambda: rest.search(n_seeded, filtered=False), sizes.all_reps, sizes.budget_s
        )
        out["rest_search_all"] = latency(samples)
    finally:
        rest.close()


def check_search(names: list[str], n_seeded: int, what: str) -> None:
    """Raise unless a top-100 search returned the locally computed answer, in order."""
    want = [f"seed-{i}" for i in expected_top(seed_runs(n_seeded, SEED), 100)]
    if names != want:
        raise BenchError(f"{what}: got {len(names)} runs, expected {len(want)} (or another order)")


def griffin_concurrency_suite(url: str, sizes: Sizes, out: dict[str, Measure]) -> None:
    threads = 2
    say(f"  REST: 1 metric per request and 1,000 per request, {threads} client threads")
    out["rest_single_2c"] = concurrent(
        lambda: rest_single(url, sizes.rest_single // threads, sizes.budget_s)[:2], threads
    )
    out["rest_batch_2c"] = concurrent(
        lambda: rest_batches(url, sizes.batches // threads, sizes.batch_size, sizes.budget_s),
        threads,
    )


# --------------------------------------------------------------------------- Griffin: SDK


def load_sdk() -> tuple[Any, str]:
    """Griffin's SDK module, or ``None`` and why not (it may not have landed yet)."""
    try:
        import griffin
    except ImportError as exc:  # pragma: no cover - the venv always has it
        return None, f"griffin not importable: {exc}"
    missing = [name for name in ("Client", "start_run") if not hasattr(griffin, name)]
    if missing:
        return None, "Griffin SDK not available yet (griffin." + "/".join(missing) + " missing)"
    return griffin, ""


def griffin_sdk_suite(
    sdk: Any, url: str, sizes: Sizes, n_seeded: int, settings: Any, out: dict[str, Measure]
) -> None:
    from griffin.domain.tracking import Metric

    # Explicit settings: nothing from the caller's GRIFFIN_* or griffin.toml changes the run.
    client = sdk.Client(url=url, settings=settings)
    rest = Rest(url)
    try:
        say(f"  SDK: start_run + log_metric x{sizes.sdk_points:,} (buffered)")
        t0 = time.perf_counter()
        with sdk.start_run(experiment="sdk-fluent", client=client) as run:
            t_loop = time.perf_counter()
            for i in range(sizes.sdk_points):
                run.log_metric("loss", 1 / (i + 1), step=i)
            loop_s = time.perf_counter() - t_loop
            run_id = str(run.id)
        total_s = time.perf_counter() - t0
        stored = rest.history_len(run_id, "loss")
        if stored != sizes.sdk_points:
            raise BenchError(f"SDK log_metric: {sizes.sdk_points} logged, {stored} stored")
        out["sdk_log_metric"] = rate(
            sizes.sdk_points,
            total_s,
            f"start..end incl. flush {total_s:.2f} s; the calls alone "
            f"{sizes.sdk_points / loop_s:,.0f}/s",
        )

        say(f"  SDK: log_batch {sizes.batches} x {sizes.batch_size}")
        run_id = str(client.create_run("throughput").id)
        deadline = time.perf_counter() + sizes.budget_s
        t0 = time.perf_counter()
        points = 0
        for b in range(sizes.batches):
            ts = now_ms()
            metrics = [Metric(k, v, s, ts) for k, v, s in batch_points(b, sizes.batch_size)]
            client.log_batch(run_id, metrics=metrics)
            points += len(metrics)
            if time.perf_counter() > deadline:
                break
        elapsed = time.perf_counter() - t0
        client.end_run(run_id)
        if rest.history_len(run_id, "m0") * 10 != points:
            raise BenchError("SDK log_batch: stored point count differs from the logged one")
        out["sdk_log_batch"] = rate(points, elapsed)

        say(f"  SDK: create_run x{sizes.creates}")
        deadline = time.perf_counter() + sizes.budget_s
        t0 = time.perf_counter()
        made = 0
        for _ in range(sizes.creates):
            client.create_run("create-bench-sdk")
            made += 1
            if time.perf_counter() > deadline:
                break
        out["sdk_create_run"] = rate(made, time.perf_counter() - t0)

        def search(limit: int, *, filtered: bool = True) -> list[Any]:
            if filtered:
                found = client.search_runs(
                    experiments=SEARCH_EXPERIMENT,
                    filter=SEARCH_FILTER,
                    order_by=SEARCH_ORDER,
                    max_results=limit,
                )
            else:
                found = client.search_runs(experiments=SEARCH_EXPERIMENT, max_results=limit)
            return list(found)

        say(f"  SDK: search_runs top 100 of {n_seeded:,} x{sizes.search_reps}")
        check_search([r.name for r in search(100)], n_seeded, "SDK search_runs")
        samples = time_calls(lambda: search(100), sizes.search_reps, sizes.budget_s)
        out["sdk_search"] = latency(samples)
        say(f"  SDK: search_runs all {n_seeded:,} x{sizes.all_reps}")
        got = len(search(n_seeded, filtered=False))
        if got != n_seeded:
            raise BenchError(f"SDK search_runs returned {got} runs, {n_seeded} were seeded")
        samples = time_calls(
            lambda: search(n_seeded, filtered=False), sizes.all_reps, sizes.budget_s
        )
        out["sdk_search_all"] = latency(samples)
    finally:
        rest.close()
        client.close()


# --------------------------------------------------------------------------- Griffin: setup


def seed_griffin(settings: Any, n: int, method: str) -> str:
    """Create the search corpus in the database the server will use; returns how."""
    from griffin.platform import open_platform

    platform = open_platform(settings)  # migrates SQLite, creates the default project
    try:
        if method == "service":
            _seed_service(platform, n)
            return "one create_run + log_batch per run through griffin.tracking.runs"
        _seed_bulk(platform, n)
        return "bulk INSERTs through Griffin's ORM models (griffin.store.orm.tracking)"
    finally:
        platform.close()


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


def griffin_env(home: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIFFIN_")}
    env |= {"GRIFFIN_HOME": str(home.resolve()), "GRIFFIN_LOG_LEVEL": "warning"}
    if database_url:
        env["GRIFFIN_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)
    return env


@contextlib.contextmanager
def griffin_server(env: dict[str, str], home: Path, workers: int, tag: str) -> Iterator[str]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "_griffin_server:create",
        "--app-dir",
        str(HERE),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = Proc(f"griffin server ({tag})", argv, env=env, cwd=home, log=home / f"{tag}.log")
    try:
        url = f"http://127.0.0.1:{port}"
        took = wait_ready(proc, f"{url}/readyz", 60)
        say(f"  griffin server ({workers} worker(s)) ready in {took:.1f} s on {url}")
        yield url
    finally:
        proc.stop()


@dataclass
class BackendResult:
    """What one backend produced so far (kept when a later step fails or times out)."""

    griffin: dict[str, Measure] = field(default_factory=dict)
    griffin_2_workers: dict[str, Measure] = field(default_factory=dict)
    mlflow: dict[str, Measure] | None = None
    notes: list[str] = field(default_factory=list)


def run_griffin(
    backend: str,
    database_url: str,
    workdir: Path,
    sizes: Sizes,
    sdk: Any,
    seed_method: str,
    res: BackendResult,
) -> None:
    """Seed, then measure with 1 worker (and 2), filling ``res`` as figures come in."""
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


# --------------------------------------------------------------------------- MLflow


def mlflow_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GRIFFIN_"))}
    env |= {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    return env


def mlflow_worker(args: list[str], workdir: Path, log: Path, timeout: float) -> dict[str, Any]:
    python = MLFLOW_VENV / "bin" / "python"
    argv = [str(python), str(HERE / "_mlflow_worker.py"), *args]
    proc = Proc(f"mlflow worker {args[0]}", argv, env=mlflow_env(), cwd=workdir, log=log)
    try:
        code = proc.wait(timeout)
    finally:
        proc.stop()
    lines = log.read_text(errors="replace").strip().splitlines()
    if code != 0 or not lines:
        raise BenchError(f"MLflow worker {args[0]} failed ({code}):\n" + "\n".join(lines[-15:]))
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def mlflow_info(workdir: Path) -> tuple[dict[str, Any] | None, str]:
    if not (MLFLOW_VENV / "bin" / "python").exists():
        return None, f"MLflow: not installed (for the comparison run: {MLFLOW_INSTALL})"
    try:
        info = mlflow_worker(["info"], workdir, workdir / "mlflow-info.log", 120)
    except BenchError as exc:
        return None, f"MLflow: not usable in {MLFLOW_VENV} ({exc}); reinstall: {MLFLOW_INSTALL}"
    return info, ""


def run_mlflow(
    backend: str,
    store_uri: str,
    workdir: Path,
    sizes: Sizes,
    workers: int | None,
    res: BackendResult,
) -> None:
    home = workdir / f"mlflow-{backend}"
    home.mkdir(parents=True, exist_ok=True)
    artifacts = str(home / "artifacts")
    say(f"mlflow/{backend}: seeding {sizes.search_runs:,} runs")
    seeded = mlflow_worker(
        [
            "seed",
            "--store-uri",
            store_uri,
            "--artifact-root",
            artifacts,
            "--runs",
            str(sizes.search_runs),
            "--seed",
            str(SEED),
        ],
        home,
        home / "seed.log",
        300,
    )
    res.notes.append(
        f"mlflow/{backend}: search corpus seeded with {seeded['method']} "
        f"in {seeded['seed_s']:.1f} s"
    )
    port = free_port()
    argv = [
        str(MLFLOW_VENV / "bin" / "mlflow"),
        "server",
        "--backend-store-uri",
        store_uri,
        "--default-artifact-root",
        artifacts,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if workers:
        argv += ["--workers", str(workers)]
    server = Proc("mlflow server", argv, env=mlflow_env(), cwd=home, log=home / "server.log")
    try:
        url = f"http://127.0.0.1:{port}"
        took = wait_ready(server, f"{url}/health", 120)
        say(f"  mlflow server ({workers or 'default 4'} workers) ready in {took:.1f} s")
        say(
            f"  MLflow workload: log_metric x{sizes.mlflow_single}, log_batch "
            f"{sizes.mlflow_batches} x {sizes.batch_size}, create_run x{sizes.mlflow_creates}, "
            "search"
        )
        raw = mlflow_worker(
            [
                "bench",
                "--tracking-uri",
                url,
                "--single",
                str(sizes.mlflow_single),
                "--batches",
                str(sizes.mlflow_batches),
                "--batch-size",
                str(sizes.batch_size),
                "--creates",
                str(sizes.mlflow_creates),
                "--search-experiment-id",
                str(seeded["experiment_id"]),
                "--search-reps",
                str(sizes.mlflow_search_reps),
                "--all-reps",
                str(sizes.mlflow_all_reps),
                "--seed-runs",
                str(sizes.search_runs),
                "--seed",
                str(SEED),
                "--budget-s",
                str(sizes.budget_s),
            ],
            home,
            home / "bench.log",
            sizes.budget_s * 8 + 120,
        )
    finally:
        server.stop()
    out: dict[str, Measure] = {}
    for key in ("log_metric", "log_batch", "create_run"):
        out[key] = rate(raw[key]["n"], raw[key]["seconds"])
    for key in ("search", "search_all"):
        if key in raw:
            s = raw[key]
            out[key] = Measure(s["p50_ms"], "ms", s["n"], p95=s["p95_ms"])
    if raw.get("search_check", "ok") != "ok":
        res.notes.append(f"mlflow/{backend}: search result check: {raw['search_check']}")
    res.mlflow = out


# --------------------------------------------------------------------------- the report


@dataclass
class Row:
    key: str
    measurement: str
    backend: str
    griffin: Measure | None
    mlflow: Measure | None = None
    mlflow_source: str = ""  # "measured", "reference" or ""
    target: str = ""
    target_met: bool | None = None
    ratio: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Spec:
    key: str  # Griffin measure
    label: str
    mlflow_key: str = ""
    target_ratio: float | None = None
    target_max_ms: float | None = None
    p95: bool = False


def specs(n_seeded: int, batch: int) -> list[Spec]:
    top = f"top 100 of {n_seeded:,}"
    return [
        Spec("sdk_log_metric", "log_metric, 1 point/call (SDK, buffered)", "log_metric", 10),
        Spec("rest_single", "1 metric per request (REST, unbuffered floor)", "log_metric"),
        Spec("rest_single_2c", "1 metric per request, 2 client threads (REST)"),
        Spec("sdk_log_batch", f"log_batch, {batch:,} metrics/call (SDK)", "log_batch", 20),
        Spec("rest_batch", f"{batch:,} metrics per request (raw httpx)", "log_batch", 20),
        Spec("rest_batch_2c", f"{batch:,} metrics/request, 2 client threads (REST)"),
        Spec("sdk_create_run", "create_run (SDK)", "create_run"),
        Spec("rest_create_run", "create run (REST)", "create_run"),
        Spec("sdk_search", f"search_runs filter+order, {top}, p50 (SDK)", "search", None, 50),
        Spec("sdk_search", f"search_runs filter+order, {top}, p95 (SDK)", "search", p95=True),
        Spec("rest_search", f"search filter+order, {top}, p50 (REST)", "search", None, 50),
        Spec("rest_search", f"search filter+order, {top}, p95 (REST)", "search", p95=True),
        Spec("sdk_search_all", f"search_runs returning all {n_seeded:,} runs, p50 (SDK)"),
        Spec("rest_search_all", f"search returning all {n_seeded:,} runs, p50 (REST)"),
    ]


def value_of(m: Measure, p95: bool) -> float:
    return m.p95 if p95 and m.p95 is not None else m.value


def build_rows(
    backend: str,
    tag: str,
    griffin: dict[str, Measure],
    mlflow: dict[str, Measure] | None,
    sizes: Sizes,
    *,
    compare: bool = True,
) -> list[Row]:
    rows: list[Row] = []
    for spec in specs(sizes.search_runs, sizes.batch_size):
        g = griffin.get(spec.key)
        if g is None:
            continue
        row = Row(spec.key + ("_p95" if spec.p95 else ""), spec.label, tag, g, note=g.detail)
        mkey = spec.mlflow_key
        if spec.key.endswith("_all"):
            mkey = "search_all"
        if not compare:
            mkey = ""
        if mkey and mlflow is not None and mkey in mlflow:
            row.mlflow, row.mlflow_source = mlflow[mkey], "measured"
        elif mkey and mlflow is None and (mkey, backend) in MLFLOW_REFERENCE:
            row.mlflow = Measure(MLFLOW_REFERENCE[(mkey, backend)], "/s", 0)
            row.mlflow_source = "reference"
        gv = value_of(g, spec.p95)
        if row.mlflow is not None:
            mv = value_of(row.mlflow, spec.p95)
            row.ratio = gv / mv if g.unit == "/s" else mv / gv
        if spec.target_ratio is not None:
            row.target = f">= {spec.target_ratio:g}x MLflow"
            if row.ratio is not None:
                row.target_met = row.ratio >= spec.target_ratio
        if spec.target_max_ms is not None:
            row.target = f"< {spec.target_max_ms:g} ms"
            row.target_met = gv < spec.target_max_ms
        rows.append(row)
    return rows


def row_json(row: Row) -> dict[str, Any]:
    """A row with plain numbers: the value shown (p95 rows carry the p95), and its unit."""
    p95 = row.key.endswith("_p95")
    return {
        "key": row.key,
        "measurement": row.measurement,
        "backend": row.backend,
        "unit": row.griffin.unit if row.griffin else "",
        "griffin": value_of(row.griffin, p95) if row.griffin else None,
        "mlflow": value_of(row.mlflow, p95) if row.mlflow else None,
        "mlflow_source": row.mlflow_source or None,
        "ratio": row.ratio,
        "target": row.target or None,
        "target_met": row.target_met,
        "note": row.note,
    }


def fmt(m: Measure | None, p95: bool = False) -> str:
    if m is None:
        return "-"
    v = value_of(m, p95)
    if m.unit == "/s":
        return f"{v:,.0f} /s" if v >= 100 else f"{v:,.1f} /s"
    if v >= 1000:
        return f"{v / 1000:,.2f} s"
    return f"{v:,.1f} ms" if v >= 10 else f"{v:,.2f} ms"


def print_table(rows: list[Row], notes: list[str], meta: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(150, shutil.get_terminal_size().columns))
    table = Table(title="Griffin tracking benchmark", title_justify="left")
    for name, justify in (
        ("measurement", "left"),
        ("backend", "left"),
        ("Griffin", "right"),
        ("MLflow", "right"),
        ("ratio", "right"),
        ("target", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    last = ""
    for row in rows:
        p95 = row.key.endswith("_p95")
        mlflow = fmt(row.mlflow, p95)
        if row.mlflow_source == "reference":
            mlflow += " ref"
        ratio = f"{row.ratio:,.1f}x" if row.ratio is not None else "-"
        target = row.target
        if row.target_met is not None:
            target += "  [green]PASS[/]" if row.target_met else "  [red]MISS[/]"
        if last and row.backend != last:
            table.add_section()
        last = row.backend
        table.add_row(row.measurement, row.backend, fmt(row.griffin, p95), mlflow, ratio, target)
    console.print(table)
    console.print(
        "ratio: how many times better Griffin is (throughput: Griffin/MLflow; "
        "latency: MLflow/Griffin). 'ref' = not measured in this run: MLflow 3.17.2 "
        "figure measured earlier on this machine (default server, 4 workers)."
    )
    for key, value in meta.items():
        console.print(f"{key}: {value}", highlight=False)
    for note in notes:
        console.print(f"- {note}", highlight=False)
    for row in rows:
        if row.note and not row.key.endswith("_p95"):
            console.print(f"- {row.backend} / {row.measurement}: {row.note}", highlight=False)


# --------------------------------------------------------------------------- main


def load_average() -> str:
    """The 1-minute load average, with a warning when other work shares the CPUs."""
    one = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    busy = "  (busy: other processes compete for the CPUs; figures are pessimistic)"
    return f"{one:.2f} on {cpus} CPUs" + (busy if one > cpus / 2 else "")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark Griffin's tracking server against MLflow's.",
        epilog="See benchmarks/README.md.",
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--backend", choices=(*BACKENDS, "all"), default="all")
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow comparison")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--timeout", type=float, default=900, help="global limit, seconds")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--seed-method", choices=("bulk", "service"), default="bulk")
    parser.add_argument("--runs", type=int, help="size of the search corpus (default 10,000)")
    parser.add_argument("--mlflow-workers", type=int, help="mlflow server --workers (default 4)")
    parser.add_argument("--keep", action="store_true", help="keep .bench/run-* (logs, SQLite)")
    return parser.parse_args(argv)


def _raise_timeout(signum: int, frame: FrameType | None) -> None:
    raise BenchTimeout


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    if args.runs:
        sizes = Sizes(**(asdict(sizes) | {"search_runs": args.runs}))
    backends = list(BACKENDS) if args.backend == "all" else [args.backend]
    workdir = BENCH_DIR / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    workdir.mkdir(parents=True)

    signal.signal(signal.SIGALRM, _raise_timeout)
    signal.signal(signal.SIGTERM, _raise_exit)
    # Ctrl-C must reach the cleanup even when started with SIGINT ignored (a shell's `cmd &`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.setitimer(signal.ITIMER_REAL, args.timeout)

    results: dict[str, BackendResult] = {}
    notes: list[str] = []
    meta: dict[str, Any] = {"mode": "quick" if args.quick else "full"}
    status = 0
    try:
        sdk, why = load_sdk()
        if sdk is None:
            notes.append(why + ": SDK rows skipped, REST rows measured")
        info: dict[str, Any] | None = None
        if args.no_mlflow:
            notes.append("MLflow: skipped (--no-mlflow)")
        else:
            info, why = mlflow_info(workdir)
            if info is None:
                notes.append(why)
            else:
                meta["MLflow"] = (
                    f"{info['version']} in {MLFLOW_VENV.relative_to(ROOT)}, mlflow server "
                    f"{args.mlflow_workers or 'default (4)'} workers, its own MlflowClient"
                )
        meta["Griffin"] = "uvicorn --factory, 1 worker (and 2 where marked), no access log"
        meta["machine"] = f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
        meta["load average at start"] = load_average()
        for backend in backends:
            if backend == "postgresql" and (problem := pg_available(args.pg_url)):
                notes.append(f"postgresql: skipped, {args.pg_url} unreachable: {problem}")
                continue
            res = results[backend] = BackendResult()
            try:
                _griffin_backend(backend, args, workdir, sizes, sdk, res)
            except BenchError as exc:
                res.notes.append(f"griffin/{backend}: FAILED: {exc}")
                status = 1
                continue
            if info is not None:
                try:
                    _mlflow_backend(backend, args, workdir, sizes, info, res)
                except BenchError as exc:
                    res.notes.append(f"mlflow/{backend}: FAILED: {exc}")
                    status = 1
    except BenchTimeout:
        notes.append(f"STOPPED: the global --timeout of {args.timeout:.0f} s expired")
        status = 2
    except KeyboardInterrupt:
        notes.append("STOPPED: interrupted")
        status = 130
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        Proc.stop_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            notes.append(f"logs and data kept in {workdir}")
    rows: list[Row] = []
    for backend, res in results.items():
        notes += res.notes
        rows += build_rows(backend, backend, res.griffin, res.mlflow, sizes)
        rows += build_rows(
            backend, f"{backend}, 2 workers", res.griffin_2_workers, None, sizes, compare=False
        )
    meta["load average at end"] = load_average()
    meta["wall time"] = f"{time.perf_counter() - _T0:.0f} s"
    if args.json:
        doc = {
            "meta": meta,
            "rows": [row_json(r) for r in rows],
            "notes": notes,
            "raw": {
                b: {
                    side: {k: asdict(v) for k, v in (getattr(r, side) or {}).items()}
                    for side in ("griffin", "griffin_2_workers", "mlflow")
                }
                for b, r in results.items()
            },
        }
        print(json.dumps(doc, indent=2, default=str))
    else:
        print_table(rows, notes, meta)
    return status


def _griffin_backend(
    backend: str,
    args: argparse.Namespace,
    workdir: Path,
    sizes: Sizes,
    sdk: Any,
    res: BackendResult,
) -> None:
    if backend == "sqlite":
        run_griffin(backend, "", workdir, sizes, sdk, args.seed_method, res)
        return
    with scratch_pg_database(args.pg_url, "griffin_bench") as url:
        run_griffin(backend, url, workdir, sizes, sdk, args.seed_method, res)


def _mlflow_backend(
    backend: str,
    args: argparse.Namespace,
    workdir: Path,
    sizes: Sizes,
    info: dict[str, Any],
    res: BackendResult,
) -> None:
    if backend == "sqlite":
        uri = f"sqlite:///{workdir / 'mlflow-sqlite' / 'mlflow.db'}"
        (workdir / "mlflow-sqlite").mkdir(exist_ok=True)
        run_mlflow(backend, uri, workdir, sizes, args.mlflow_workers, res)
        return
    driver = info.get("pg_driver")
    if not driver:
        res.notes.append(
            "mlflow/postgresql: skipped, no PostgreSQL driver in its venv: "
            f"{MLFLOW_VENV.relative_to(ROOT)}/bin/pip install psycopg2-binary"
        )
        return
    from sqlalchemy.engine import make_url

    with scratch_pg_database(args.pg_url, "mlflow_bench") as url:
        uri = make_url(url).set(drivername=f"postgresql+{driver}").render_as_string(False)
        run_mlflow(backend, uri, workdir, sizes, args.mlflow_workers, res)


if __name__ == "__main__":
    sys.exit(main())
