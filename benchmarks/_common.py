"""What every part of the tracking benchmark shares: paths, sizes, errors, figures, progress.

``tracking.py`` and the modules beside it import this (``_mlflow_worker.py`` does not: it runs in
MLflow's venv and shares only ``_workload.py``).
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCH_DIR = ROOT / ".bench"
MLFLOW_VENV = BENCH_DIR / "mlflow-venv"
SEED = 7


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
    mlflow_alias_calls: int = 200  # get_model_version_by_alias, one after another
    mlflow_uri_calls: int = 30  # models:/name@alias resolved from scratch
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
    mlflow_alias_calls=30,
    mlflow_uri_calls=5,
    budget_s=20.0,
    workers2=False,
)


class BenchError(Exception):
    """A measurement could not be made (a failed request, a server that did not start)."""


class BenchTimeout(Exception):
    """The global --timeout expired."""


# --------------------------------------------------------------------------- output helpers

T0 = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - T0:6.1f}s] {message}", file=sys.stderr, flush=True)


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


@dataclass
class BackendResult:
    """What one backend produced so far (kept when a later step fails or times out)."""

    griffin: dict[str, Measure] = field(default_factory=dict)
    griffin_2_workers: dict[str, Measure] = field(default_factory=dict)
    mlflow: dict[str, Measure] | None = None
    # The same MLflow client workload (``_mlflow_worker.py bench``) pointed at Griffin's server.
    mlflow_client_griffin: dict[str, Measure] | None = None
    notes: list[str] = field(default_factory=list)
