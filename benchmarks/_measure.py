"""The Griffin measurements: REST (raw httpx), SDK and concurrency suites against a server.

Each suite fills a ``dict[str, Measure]`` keyed as ``_report.specs`` expects; every timed loop
also stops after ``Sizes.budget_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
from _common import SEED, BenchError, Measure, Sizes, latency, rate, say
from _workload import (
    SEARCH_EXPERIMENT,
    SEARCH_FILTER,
    SEARCH_ORDER,
    batch_points,
    expected_top,
    seed_runs,
)

API = "/api/v1"
JSON_HEADERS = {"content-type": "application/json"}


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
