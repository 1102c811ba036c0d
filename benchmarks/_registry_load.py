"""Bounded load loops shared by both sides of the registry benchmark (standard library only).

``registry.py`` imports this for Griffin, and ``_mlflow_registry_worker.py`` imports it in
MLflow's venv, so both products are driven by the same code: the same warm-up, the same start
barrier, the same stop rule (a count *and* a time budget), the same percentiles.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

# The shape both sides seed: one model with VERSIONS versions and ALIAS on ALIAS_VERSION (not
# the newest, so resolving it is a real alias lookup), plus N other models with OTHER_VERSIONS
# versions and the same alias each, so the registry tables are not trivially small.
MODEL = "bench-eta"
ALIAS = "champion"
VERSIONS = 10
ALIAS_VERSION = 7
OTHER_VERSIONS = 2
OTHER_PREFIX = "bench-other-"
WARMUP = 20


def latency_stats(samples: list[float]) -> dict[str, float]:
    """Median and 95th percentile (milliseconds) of ``samples`` (seconds), and their count."""
    if not samples:
        return {"n": 0, "p50_ms": float("nan"), "p95_ms": float("nan")}
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": p95 * 1000,
    }


def drive(
    factory: Callable[[], Callable[[], object]],
    *,
    threads: int,
    total: int,
    budget_s: float,
    warmup: int = WARMUP,
) -> dict[str, Any]:
    """Run ``total`` calls spread over ``threads`` threads, or fewer when ``budget_s`` runs out.

    Each thread gets its own call from ``factory()`` (its own client or connection), makes
    ``warmup`` untimed calls, waits at a barrier, then calls until its share is done or the
    deadline passes. Returns the count, the wall time from the barrier to the last thread's
    end, the rate, and the per-call latency percentiles. A failed call stops every thread and
    is raised here.
    """
    threads = max(1, threads)
    share = [total // threads + (1 if i < total % threads else 0) for i in range(threads)]
    samples: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    stop = threading.Event()
    ends = [0.0] * threads
    box: dict[str, float] = {}

    def started() -> None:  # run by the last thread to arrive, before any is released
        box["start"] = time.perf_counter()

    barrier = threading.Barrier(threads + 1, action=started)

    def worker(index: int) -> None:
        mine = samples[index]
        try:
            call = factory()
            for _ in range(warmup):
                call()
        except BaseException as exc:
            errors.append(exc)
            stop.set()
        try:
            barrier.wait(timeout=max(60.0, budget_s))
        except threading.BrokenBarrierError:
            return
        deadline = box["start"] + budget_s
        try:
            for _ in range(share[index]):
                if stop.is_set():
                    break
                t0 = time.perf_counter()
                call()
                t1 = time.perf_counter()
                mine.append(t1 - t0)
                if t1 > deadline:
                    break
        except BaseException as exc:
            errors.append(exc)
            stop.set()
        finally:
            ends[index] = time.perf_counter()

    pool = [
        threading.Thread(target=worker, args=(i,), name=f"bench-{i}", daemon=True)
        for i in range(threads)
    ]
    for thread in pool:
        thread.start()
    try:
        barrier.wait(timeout=max(60.0, budget_s))
    except threading.BrokenBarrierError:
        errors.append(RuntimeError("the load threads did not all get ready in time"))
    for thread in pool:
        thread.join(budget_s + 120)
    if errors:
        raise errors[0]
    if any(thread.is_alive() for thread in pool):
        raise RuntimeError(f"a load thread did not finish within {budget_s + 120:.0f} s")
    flat = [s for per in samples for s in per]
    wall = max(ends) - box.get("start", 0.0) if flat else 0.0
    return {
        **latency_stats(flat),
        "threads": threads,
        "seconds": wall,
        "rate": len(flat) / wall if wall > 0 else 0.0,
    }


def repeat(call: Callable[[], object], reps: int, budget_s: float) -> list[float]:
    """Seconds per call of ``reps`` sequential calls, fewer when ``budget_s`` runs out (>= 1)."""
    out: list[float] = []
    deadline = time.perf_counter() + budget_s
    for _ in range(max(1, reps)):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
        if time.perf_counter() > deadline:
            break
    return out
