"""The MLflow side of a backend: ``_mlflow_worker.py`` in MLflow's venv, against ``mlflow server``.

MLflow is never imported here: the worker seeds MLflow's store and runs the workload, and prints
its figures as JSON, which ``run_mlflow`` turns into ``Measure`` objects. ``bench_argv`` and
``to_measures`` are shared with ``_mlflow_client.py``, which points the same worker at Griffin.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _common import HERE, MLFLOW_VENV, SEED, BackendResult, BenchError, Measure, Sizes, rate, say
from _registry_load import ALIAS, ALIAS_VERSION, MODEL, VERSIONS
from _servers import Proc, mlflow_env, mlflow_server

MLFLOW_INSTALL = (
    "python3 -m venv .bench/mlflow-venv && "
    ".bench/mlflow-venv/bin/pip install mlflow psycopg2-binary"
)


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
    *,
    alias: bool = False,
) -> None:
    """Seed MLflow's store, start ``mlflow server`` and run the worker's workload against it
    (with alias resolution when ``alias``)."""
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
    with mlflow_server(store_uri, artifacts, home, workers) as url:
        say(
            f"  MLflow workload: log_metric x{sizes.mlflow_single}, log_batch "
            f"{sizes.mlflow_batches} x {sizes.batch_size}, create_run x{sizes.mlflow_creates}, "
            "search" + (", alias resolution" if alias else "")
        )
        argv = bench_argv(url, sizes, ["--search-experiment-id", str(seeded["experiment_id"])])
        if alias:
            argv += alias_argv(sizes, seed_versions=VERSIONS)
        raw = mlflow_worker(argv, home, home / "bench.log", worker_timeout(sizes))
    res.mlflow = to_measures(raw, f"mlflow/{backend}", res.notes)


def bench_argv(url: str, sizes: Sizes, search: list[str]) -> list[str]:
    """``_mlflow_worker.py bench`` with the tracking workload, whatever server ``url`` is."""
    return [
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
        *search,
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
    ]


def alias_argv(sizes: Sizes, *, seed_versions: int = 0) -> list[str]:
    """The alias part: ``MODEL@ALIAS`` must be on ``ALIAS_VERSION`` (the worker seeds it with
    ``seed_versions`` versions through the client when that is not 0)."""
    argv = [
        "--alias-model",
        MODEL,
        "--alias",
        ALIAS,
        "--alias-version",
        str(ALIAS_VERSION),
        "--alias-calls",
        str(sizes.mlflow_alias_calls),
        "--uri-calls",
        str(sizes.mlflow_uri_calls),
        "--http-floor",
    ]
    if seed_versions:
        argv += ["--alias-seed-versions", str(seed_versions)]
    return argv


def worker_timeout(sizes: Sizes) -> float:
    """Every timed loop of the worker stops after ``budget_s``; its start and checks are quick."""
    return sizes.budget_s * 12 + 120


def to_measures(raw: dict[str, Any], tag: str, notes: list[str]) -> dict[str, Measure]:
    """The worker's JSON as ``Measure`` objects; failed checks and steps become notes."""
    out: dict[str, Measure] = {}
    for key in ("log_metric", "log_batch", "create_run"):
        if key in raw:
            out[key] = rate(raw[key]["n"], raw[key]["seconds"])
    timed = ("search", "search_http", "search_all", "search_all_http", "alias", "alias_http")
    for key in (*timed, "models_uri"):
        if key in raw:
            s = raw[key]
            out[key] = Measure(s["p50_ms"], "ms", s["n"], p95=s["p95_ms"])
    if "models_uri" in out and raw.get("uri_target"):
        out["models_uri"].detail = f"models:/ resolves to {raw['uri_target']}"
    for key, verdict in (raw.get("checks") or {}).items():
        if verdict != "ok":
            notes.append(f"{tag}: {key} check FAILED: {verdict}")
    for key, error in (raw.get("errors") or {}).items():
        notes.append(f"{tag}: {key} FAILED: {error}")
    return out
