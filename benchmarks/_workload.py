"""The synthetic workload both sides of the tracking benchmark run (standard library only).

The benchmark (``_measure.py``, ``_griffin_side.py``, in Griffin's venv) and ``_mlflow_worker.py``
(MLflow's venv) both import this, so the seeded runs, the logged batches and the search are the
same on both sides.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = [
    "BATCH_KEYS",
    "MODELS",
    "SEARCH_EXPERIMENT",
    "SEARCH_FILTER",
    "SEARCH_ORDER",
    "SeedRun",
    "batch_points",
    "expected_top",
    "seed_runs",
]

SEARCH_EXPERIMENT = "bench"
SEARCH_FILTER = "params.model = 'b' and metrics.acc > 0.5"
SEARCH_ORDER = ["metrics.acc DESC"]
MODELS = ("a", "b", "c", "d")
# A batch of 1,000 points is 10 metrics x 100 steps, as a training loop logging
# several metrics per step would send.
BATCH_KEYS = tuple(f"m{i}" for i in range(10))


@dataclass(frozen=True, slots=True)
class SeedRun:
    """One run of the search corpus: params ``model`` and ``lr``, metrics ``acc`` and ``loss``."""

    index: int
    model: str
    lr: str
    acc: float
    loss: float


def seed_runs(n: int, seed: int = 7) -> list[SeedRun]:
    """``n`` runs, the same for a given seed on both sides."""
    rng = random.Random(seed)
    return [
        SeedRun(
            index=i,
            model=rng.choice(MODELS),
            lr=f"{10 ** rng.uniform(-4, -1):.6f}",
            acc=rng.random(),
            loss=rng.random() * 2,
        )
        for i in range(n)
    ]


def expected_top(runs: list[SeedRun], limit: int) -> list[int]:
    """Indexes of the runs ``SEARCH_FILTER`` matches, best ``acc`` first, at most ``limit``."""
    matching = [r for r in runs if r.model == "b" and r.acc > 0.5]
    matching.sort(key=lambda r: r.acc, reverse=True)
    return [r.index for r in matching[:limit]]


def batch_points(batch: int, size: int) -> list[tuple[str, float, int]]:
    """``(key, value, step)`` for batch number ``batch`` of ``size`` points (steps never repeat)."""
    per_step = len(BATCH_KEYS)
    steps = max(1, size // per_step)
    first = batch * steps
    points: list[tuple[str, float, int]] = []
    for i in range(size):
        step = first + i // per_step
        points.append((BATCH_KEYS[i % per_step], 1.0 / (1 + step + i % per_step), step))
    return points
