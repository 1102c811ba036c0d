"""The MLflow side of the registry benchmark: an optional venv, ``mlflow server``, the worker.

MLflow is never imported here. ``_mlflow_registry_worker.py`` runs in MLflow's venv against a
real ``mlflow server`` and prints its figures as JSON.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from _common import HERE, MLFLOW_VENV, ROOT, BenchError, say
from _registry_common import THREADS, RegSizes, SideResult
from _servers import Proc, mlflow_env, mlflow_server

PACKAGES = ("mlflow", "psycopg2-binary")


def install_mlflow(workdir: Path, timeout_s: float) -> str:
    """Create ``.bench/mlflow-venv`` and install MLflow into it; returns a note with the time."""
    python = shutil.which("python3") or sys.executable
    steps = [
        [python, "-m", "venv", str(MLFLOW_VENV)],
        [str(MLFLOW_VENV / "bin" / "pip"), "install", "--quiet", *PACKAGES],
    ]
    say(f"installing {' '.join(PACKAGES)} into {MLFLOW_VENV.relative_to(ROOT)}")
    t0 = time.perf_counter()
    for i, argv in enumerate(steps):
        log = workdir / f"mlflow-install-{i}.log"
        proc = Proc("mlflow install", argv, env=mlflow_env(), cwd=workdir, log=log)
        try:
            code = proc.wait(max(30.0, timeout_s - (time.perf_counter() - t0)))
        finally:
            proc.stop()
        if code != 0:
            shutil.rmtree(MLFLOW_VENV, ignore_errors=True)
            raise BenchError(f"installing MLflow failed ({code}):\n{proc.tail()}")
    took = time.perf_counter() - t0
    return f"MLflow installed by --install-mlflow in {took:.0f} s ({' '.join(PACKAGES)})"


def _worker(args: list[str], cwd: Path, log: Path, timeout_s: float) -> dict[str, Any]:
    python = MLFLOW_VENV / "bin" / "python"
    argv = [str(python), str(HERE / "_mlflow_registry_worker.py"), *args]
    proc = Proc("mlflow registry worker", argv, env=mlflow_env(), cwd=cwd, log=log)
    try:
        code = proc.wait(timeout_s)
    finally:
        proc.stop()
    lines = log.read_text(errors="replace").strip().splitlines()
    if code != 0 or not lines:
        raise BenchError(f"MLflow registry worker failed ({code}):\n" + "\n".join(lines[-20:]))
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def run_mlflow_registry(
    backend: str,
    store_uri: str,
    workdir: Path,
    sizes: RegSizes,
    workers: int | None,
    res: SideResult,
) -> None:
    home = workdir / f"mlflow-registry-{backend}"
    home.mkdir(parents=True, exist_ok=True)
    with mlflow_server(store_uri, str(home / "artifacts"), home, workers) as url:
        say(
            f"mlflow/{backend}: seeding 1 + {sizes.other_models} models, then alias lookups "
            f"({sizes.mlflow_calls_1} on 1 thread, {sizes.mlflow_calls_8} on {THREADS}), "
            "models:/ resolution, registration, log_model, load_model"
        )
        raw = _worker(
            [
                "bench",
                "--tracking-uri",
                url,
                "--others",
                str(sizes.other_models),
                "--threads",
                str(THREADS),
                "--calls-1",
                str(sizes.mlflow_calls_1),
                "--calls-8",
                str(sizes.mlflow_calls_8),
                "--cold",
                str(sizes.mlflow_cold),
                "--registers",
                str(sizes.mlflow_registers),
                "--log-models",
                str(sizes.mlflow_log_models),
                "--loads",
                str(sizes.mlflow_loads),
                "--budget-s",
                str(sizes.budget_s),
            ],
            home,
            home / "worker.log",
            sizes.budget_s * 10 + 300,
        )
    res.figures = {k: v for k, v in raw.items() if isinstance(v, dict) and k != "errors"}
    res.notes.append(
        f"mlflow/{backend}: seeded {raw.get('seeded_versions')} versions with MlflowClient "
        f"(8 threads for the other models) in {raw.get('seed_s', 0):.1f} s; models:/ URIs "
        f"resolve to {raw.get('uri_target', '?')}"
    )
    for key, error in (raw.get("errors") or {}).items():
        res.notes.append(f"mlflow/{backend}: {key} failed: {error}")
