"""What the registry benchmark's modules share: sizes, results, the MLflow reference figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

THREADS = 8


@dataclass(frozen=True)
class RegSizes:
    """How much each measurement does (counts) and may take (seconds)."""

    other_models: int = 200  # models besides the measured one, 2 versions and an alias each
    calls_1: int = 2000  # Griffin alias resolutions, one thread
    calls_8: int = 4000  # ... in all, over 8 threads
    cold: int = 300  # resolutions from a fresh client
    registers: int = 100  # versions registered one after another (REST, and the SDK)
    log_models: int = 10  # log_model of a tiny scikit-learn model
    loads: int = 10  # load_model, cold and cached
    mlflow_calls_1: int = 300
    mlflow_calls_8: int = 800
    mlflow_cold: int = 50
    mlflow_registers: int = 30
    mlflow_log_models: int = 3
    mlflow_loads: int = 5
    train_runs: int = 5  # timed `griffin train` runs after one warm-up
    fast_poll_runs: int = 3  # ... with job_poll_interval_s=0.1
    server_train_runs: int = 3  # against a running server
    start_reps: int = 5  # repetitions of each `python -c ...` start-up timing
    budget_s: float = 30.0  # cap on any one timed loop
    workers2: bool = True  # repeat the 8-thread rows on a 2-worker server


REG_QUICK = RegSizes(
    other_models=30,
    calls_1=300,
    calls_8=800,
    cold=50,
    registers=20,
    log_models=3,
    loads=3,
    mlflow_calls_1=40,
    mlflow_calls_8=80,
    mlflow_cold=10,
    mlflow_registers=5,
    mlflow_log_models=1,
    mlflow_loads=1,
    train_runs=2,
    fast_poll_runs=0,
    server_train_runs=1,
    start_reps=3,
    budget_s=8.0,
    workers2=False,
)

# MLflow 3.17 measured earlier on this machine type (2 cores, `mlflow server` defaults: 4
# workers, SQLite store). Printed, marked "ref", only when MLflow does not run here.
MLFLOW_REFERENCE: dict[str, dict[str, float]] = {
    "alias_1": {"p50_ms": 52.0, "rate": 18.0},
    "alias_8": {"rate": 126.0},
    "uri": {"p50_ms": 160.0},
    "register_model": {"p50_ms": 300.0},
}


@dataclass
class SideResult:
    """What one product produced on one backend (kept when a later step fails)."""

    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Results:
    griffin: dict[str, SideResult] = field(default_factory=dict)
    mlflow: dict[str, SideResult] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # series name -> figures
    startup: dict[str, float] = field(default_factory=dict)  # command -> median seconds
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
