"""What the feature-store benchmark's modules share: report rows, timing helpers, constants."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
VIEW = "driver_hourly"
ONLINE_VIEW = "driver_hourly_online"  # the same rows without a TTL (see features.py)

# Feast 0.67 on this data and machine type, from research/feature-store.md (not this run).
FEAST_REFERENCE = {
    "join": "4.1 s (duckdb store); 37.6 s (file store, 8.7% of rows dropped)",
    "materialize": "13-15 s to Redis",
    "online_1": "0.45 ms",
    "online_10": "1.1 ms",
    "online_100": "10.1 ms",
    "http_1": "2.9 ms",
}

T0 = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def best_of(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    """The median wall time of ``reps`` calls, and the last result."""
    times: list[float] = []
    result: Any = None
    for _ in range(reps):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 of ``samples``."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


@dataclass
class Row:
    """One line of the report: Griffin's figure, the limit's, their ratio, and the target."""

    step: str
    griffin: float
    limit: float
    unit: str
    target: float | None
    feast: str = ""
    detail: str = ""

    @property
    def ratio(self) -> float:
        return self.griffin / self.limit if self.limit else float("inf")

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
