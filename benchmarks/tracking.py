#!/usr/bin/env python3
"""Tracking benchmark: a real Griffin server against a real MLflow server, SQLite and PostgreSQL.

    .venv/bin/python benchmarks/tracking.py                   # everything (~8 min when idle)
    .venv/bin/python benchmarks/tracking.py --quick           # smoke run with MLflow (< 2 min)
    .venv/bin/python benchmarks/tracking.py --quick --no-mlflow --no-mlflow-client  # < 1 min

Griffin is served by uvicorn in a subprocess (``_griffin_server.create``); MLflow, when its venv
``.bench/mlflow-venv`` exists, by ``mlflow server`` with the same workload run by
``_mlflow_worker.py`` in that venv. That worker, MLflow's own client, is then also pointed at
the Griffin server, which serves MLflow's REST API: the second table sets the same client code
against both servers (``--no-mlflow-client`` skips it). Every server runs in its own process
group and is killed on exit, on Ctrl-C and when the global ``--timeout`` expires.
``benchmarks/README.md`` explains each figure and how to read the ratios.

This file is the entry point (options, signals, the loop over backends); the parts live beside it:
``_common.py`` (sizes, errors, figures), ``_servers.py`` (processes, ports, scratch databases),
``_measure.py`` (the Griffin measurements), ``_griffin_side.py`` / ``_mlflow_side.py`` (one
backend, each side), ``_mlflow_client.py`` (MLflow's client against Griffin) and ``_report.py``
(tables and JSON).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BENCH_DIR,
    MLFLOW_VENV,
    QUICK,
    ROOT,
    T0,
    BackendResult,
    BenchError,
    BenchTimeout,
    Sizes,
)
from _griffin_side import run_griffin
from _measure import load_sdk
from _mlflow_side import mlflow_info, run_mlflow
from _report import Row, build_client_rows, build_rows, print_json, print_table
from _servers import Proc, pg_available, scratch_pg_database

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")


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
    parser.add_argument(
        "--backend",
        choices=(*BACKENDS, "all"),
        help="metadata stores (default: all; sqlite with --quick)",
    )
    parser.add_argument("--no-mlflow", action="store_true", help="skip MLflow's server")
    parser.add_argument(
        "--no-mlflow-client",
        action="store_true",
        help="skip MLflow's client against Griffin's server (and the alias rows)",
    )
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
    # --quick keeps to SQLite unless told otherwise: each MLflow server takes 15-90 s to start.
    backend = args.backend or ("sqlite" if args.quick else "all")
    backends = list(BACKENDS) if backend == "all" else [backend]
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
            notes.append("MLflow server: skipped (--no-mlflow)")
        if args.no_mlflow_client:
            notes.append("MLflow client against Griffin: skipped (--no-mlflow-client)")
        if not (args.no_mlflow and args.no_mlflow_client):
            info, why = mlflow_info(workdir)
            if info is None:
                notes.append(why)
            else:
                server = (
                    "no mlflow server (--no-mlflow)"
                    if args.no_mlflow
                    else f"mlflow server {args.mlflow_workers or 'default (4)'} workers"
                )
                meta["MLflow"] = (
                    f"{info['version']} in {MLFLOW_VENV.relative_to(ROOT)}, {server}, "
                    "its own MlflowClient"
                )
        client_rows = info is not None and not args.no_mlflow_client
        server_rows = info is not None and not args.no_mlflow
        meta["Griffin"] = "uvicorn --factory, 1 worker (and 2 where marked), no access log"
        meta["machine"] = f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
        meta["load average at start"] = load_average()
        for backend in backends:
            if backend == "postgresql" and (problem := pg_available(args.pg_url)):
                notes.append(f"postgresql: skipped, {args.pg_url} unreachable: {problem}")
                continue
            res = results[backend] = BackendResult()
            try:
                _griffin_backend(backend, args, workdir, sizes, sdk, res, client_rows)
            except BenchError as exc:
                res.notes.append(f"griffin/{backend}: FAILED: {exc}")
                status = 1
                continue
            if server_rows and info is not None:
                try:
                    _mlflow_backend(backend, args, workdir, sizes, info, res, client_rows)
                except BenchError as exc:
                    res.notes.append(f"mlflow/{backend}: FAILED: {exc}")
                    status = 1
            if any("FAILED" in note for note in res.notes):
                status = status or 1
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
    for backend, res in results.items():
        rows += build_client_rows(backend, res.mlflow_client_griffin, res.mlflow, sizes)
    meta["load average at end"] = load_average()
    meta["wall time"] = f"{time.perf_counter() - T0:.0f} s"
    if args.json:
        print_json(rows, notes, meta, results)
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
    mlflow_client: bool,
) -> None:
    if backend == "sqlite":
        run_griffin(
            backend, "", workdir, sizes, sdk, args.seed_method, res, mlflow_client=mlflow_client
        )
        return
    with scratch_pg_database(args.pg_url, "griffin_bench") as url:
        run_griffin(
            backend, url, workdir, sizes, sdk, args.seed_method, res, mlflow_client=mlflow_client
        )


def _mlflow_backend(
    backend: str,
    args: argparse.Namespace,
    workdir: Path,
    sizes: Sizes,
    info: dict[str, Any],
    res: BackendResult,
    alias: bool,
) -> None:
    if backend == "sqlite":
        uri = f"sqlite:///{workdir / 'mlflow-sqlite' / 'mlflow.db'}"
        (workdir / "mlflow-sqlite").mkdir(exist_ok=True)
        run_mlflow(backend, uri, workdir, sizes, args.mlflow_workers, res, alias=alias)
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
        run_mlflow(backend, uri, workdir, sizes, args.mlflow_workers, res, alias=alias)


if __name__ == "__main__":
    sys.exit(main())
