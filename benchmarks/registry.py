#!/usr/bin/env python3
"""Model registry and training-job benchmark: Griffin against MLflow, and against the fit itself.

    .venv/bin/python benchmarks/registry.py                      # everything (~6-8 min)
    .venv/bin/python benchmarks/registry.py --quick --no-mlflow  # smoke run (< 1 min)
    .venv/bin/python benchmarks/registry.py --install-mlflow     # create .bench/mlflow-venv first

It measures, in one run:

1. alias resolution over HTTP against a real Griffin server (SQLite, and PostgreSQL when it
   answers): plain ``GET .../aliases/champion``, the same with ``If-None-Match`` (304), and the
   SDK's ``client.resolve_model``, on 1 and 8 client threads; registering a version,
   ``log_model`` and ``load_model``. The same against a real ``mlflow server`` with MLflow's
   own client when ``.bench/mlflow-venv`` exists (else MLflow 3.17 reference figures);
2. the platform overhead of ``griffin train`` on a tiny scikit-learn model: on a fresh
   embedded store (the command runs the dispatcher itself) and against a running server,
   broken down from the job's own timestamps.

Every server and child runs in its own process group, bound to 127.0.0.1, and is killed on
exit, on Ctrl-C, on SIGTERM and when ``--timeout`` expires; every loop is bounded in count and
time. ``benchmarks/README.md`` explains each figure.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, MLFLOW_VENV, ROOT, T0, BenchError, BenchTimeout, say
from _registry_common import REG_QUICK, RegSizes, Results, SideResult
from _registry_griffin import run_griffin_registry
from _registry_jobs import TIMINGS_ENV, TrainSeries, reap_jobs, startup_costs, write_project
from _registry_mlflow import install_mlflow, run_mlflow_registry
from _registry_report import print_json, print_tables, registry_rows
from _servers import Proc, griffin_env, pg_available, scratch_pg_database

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")
PARTS = ("registry", "jobs")


def load_average() -> str:
    one = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    busy = "  (busy: other processes compete for the CPUs; figures are pessimistic)"
    return f"{one:.2f} on {cpus} CPUs" + (busy if one > cpus / 2 else "")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark Griffin's model registry and training-job overhead.",
        epilog="See benchmarks/README.md.",
    )
    parser.add_argument("--quick", action="store_true", help="small counts, SQLite only")
    parser.add_argument("--backend", choices=(*BACKENDS, "all"), default="all")
    parser.add_argument("--parts", default=",".join(PARTS), help="registry,jobs (default both)")
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow comparison")
    parser.add_argument(
        "--install-mlflow",
        action="store_true",
        help=f"create {MLFLOW_VENV.relative_to(ROOT)} with pip when it is missing",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the tables")
    parser.add_argument("--timeout", type=float, default=1200, help="global limit, seconds")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--workers", type=int, default=1, help="Griffin server workers")
    parser.add_argument("--mlflow-workers", type=int, help="mlflow server --workers (default 4)")
    parser.add_argument("--keep", action="store_true", help="keep .bench/registry-* (logs, data)")
    args = parser.parse_args(argv)
    args.parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if unknown := args.parts - set(PARTS):
        parser.error(f"unknown --parts {', '.join(sorted(unknown))}; use {', '.join(PARTS)}")
    return args


def failure(exc: Exception) -> str:
    """A one-line description of a failure; an unexpected one's traceback goes to stderr."""
    if isinstance(exc, BenchError):
        return str(exc)
    traceback.print_exception(exc, file=sys.stderr)
    return f"{type(exc).__name__}: {exc} (traceback on stderr)"


def _raise_timeout(signum: int, frame: FrameType | None) -> None:
    raise BenchTimeout


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


class Run:
    """One invocation: options, scratch folder, results, and the training series to reap."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sizes: RegSizes = REG_QUICK if args.quick else RegSizes()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.workdir = BENCH_DIR / f"registry-{stamp}-{secrets.token_hex(2)}"
        self.workdir.mkdir(parents=True)
        self.timings = self.workdir / "timings"
        self.timings.mkdir()
        self.project = write_project(self.workdir / "train-project")
        self.results = Results()
        self.series: list[TrainSeries] = []
        self.sdk: Any = None
        self.mlflow: bool = False
        self.pg_driver: str | None = None

    @property
    def job_timeout(self) -> float:
        return 300.0

    def train_env(self, home: Path, extra: dict[str, str]) -> dict[str, str]:
        env = griffin_env(home, "") | {TIMINGS_ENV: str(self.timings)}
        # The scratch project sits inside this repository's git work tree, in an ignored
        # folder: git would package nothing. Stop git's search above the project folder.
        env["GIT_CEILING_DIRECTORIES"] = str(self.project.parent)
        return env | extra

    # ------------------------------------------------------------------ training jobs

    def embedded_jobs(self) -> None:
        from griffin.config import load_settings

        runs = self.sizes.train_runs
        plans: list[tuple[str, dict[str, str], int]] = [("embedded", {}, runs)]
        if self.sizes.fast_poll_runs:
            fast = {"GRIFFIN_JOB_POLL_INTERVAL_S": "0.1"}
            plans.append(("embedded, poll 0.1 s", fast, self.sizes.fast_poll_runs))
        for name, extra, count in plans:
            home = self.workdir / f"train-{len(self.series)}"
            home.mkdir()
            settings = load_settings(cwd=home, environ={}, home=str(home))
            series = TrainSeries(
                name,
                self.project,
                home,
                self.train_env(home, extra),
                lambda s=settings: self.sdk.Client(settings=s),
                self.timings,
                self.job_timeout,
            )
            self.series.append(series)
            say(f"training job ({name}): griffin train --json, 1 warm-up + {count} runs")
            try:
                self.results.jobs[name] = series.measure(count)
            finally:
                self.results.notes += sorted(set(series.notes))
            if name == "embedded":
                say("process start-up costs")
                self.results.startup = startup_costs(home, self.sizes.start_reps, self.job_timeout)

    def server_jobs(self, backend: str, url: str) -> None:
        from griffin.config import load_settings

        name = f"server, {backend}"
        home = self.workdir / f"train-{len(self.series)}"
        home.mkdir()
        settings = load_settings(cwd=home, environ={}, home=str(home))
        series = TrainSeries(
            name,
            self.project,
            home,
            self.train_env(home, {"GRIFFIN_URL": url}),
            lambda: self.sdk.Client(url=url, settings=settings),
            self.timings,
            self.job_timeout,
        )
        self.series.append(series)
        count = self.sizes.server_train_runs
        say(f"training job ({name}): griffin train --json with GRIFFIN_URL, 1 + {count} runs")
        try:
            self.results.jobs[name] = series.measure(count)
        finally:
            self.results.notes += sorted(set(series.notes))

    # ------------------------------------------------------------------ registry

    def backend(self, backend: str) -> None:
        args = self.args
        res = self.results.griffin[backend] = SideResult()

        def jobs(url: str, home: Path) -> None:
            try:
                self.server_jobs(backend, url)
            except BenchTimeout:
                raise
            except Exception as exc:
                note = f"training job on the {backend} server: FAILED: {failure(exc)}"
                self.results.notes.append(note)

        after = jobs if "jobs" in args.parts else None
        extra = {TIMINGS_ENV: str(self.timings)}
        try:
            if backend == "sqlite":
                run_griffin_registry(
                    backend, "", self.workdir, self.sizes, self.sdk, args.workers, extra, res, after
                )
            else:
                with scratch_pg_database(args.pg_url, "griffin_bench") as url:
                    run_griffin_registry(
                        backend,
                        url,
                        self.workdir,
                        self.sizes,
                        self.sdk,
                        args.workers,
                        extra,
                        res,
                        after,
                    )
        except BenchTimeout:
            raise
        except Exception as exc:
            res.notes.append(f"griffin/{backend}: FAILED: {failure(exc)}")
        if self.mlflow:
            self.mlflow_backend(backend)

    def mlflow_backend(self, backend: str) -> None:
        res = self.results.mlflow[backend] = SideResult()
        try:
            if backend == "sqlite":
                folder = self.workdir / "mlflow-registry-sqlite"
                folder.mkdir(exist_ok=True)
                uri = f"sqlite:///{folder / 'mlflow.db'}"
                run_mlflow_registry(
                    backend, uri, self.workdir, self.sizes, self.args.mlflow_workers, res
                )
                return
            if not self.pg_driver:
                del self.results.mlflow[backend]
                return
            from sqlalchemy.engine import make_url

            with scratch_pg_database(self.args.pg_url, "mlflow_bench") as url:
                pg = make_url(url).set(drivername=f"postgresql+{self.pg_driver}")
                run_mlflow_registry(
                    backend,
                    pg.render_as_string(False),
                    self.workdir,
                    self.sizes,
                    self.args.mlflow_workers,
                    res,
                )
        except BenchTimeout:
            raise
        except Exception as exc:
            res.notes.append(f"mlflow/{backend}: FAILED: {failure(exc)}")
            if not res.figures:
                del self.results.mlflow[backend]

    def prepare_mlflow(self) -> None:
        from _mlflow_side import MLFLOW_INSTALL, mlflow_info

        notes = self.results.notes
        if self.args.no_mlflow:
            notes.append("MLflow: skipped (--no-mlflow); its figures are references")
            return
        if not (MLFLOW_VENV / "bin" / "python").exists():
            if not self.args.install_mlflow:
                notes.append(
                    "MLflow: not installed, its figures are references (to measure it: "
                    f"--install-mlflow, or {MLFLOW_INSTALL})"
                )
                return
            notes.append(install_mlflow(self.workdir, self.args.timeout / 2))
        info, why = mlflow_info(self.workdir)
        if info is None:
            notes.append(why)
            return
        if self.args.backend != "sqlite" and not info.get("pg_driver"):
            notes.append("MLflow: no PostgreSQL driver in its venv; its PostgreSQL row is skipped")
        self.mlflow = True
        self.results.meta["MLflow"] = (
            f"{info['version']} in {MLFLOW_VENV.relative_to(ROOT)}, mlflow server "
            f"{self.args.mlflow_workers or 'default (4)'} workers, its own MlflowClient"
        )
        self.pg_driver = info.get("pg_driver")

    def reap(self) -> None:
        """Kill job processes still running: those of the series, and any a server or an
        embedded dispatcher launched under this run's folder (stopped by --timeout)."""
        for series in self.series:
            series.reap()
        for jobs_root in self.workdir.glob("*/jobs"):
            reap_jobs(jobs_root)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    backends = list(BACKENDS) if args.backend == "all" else [args.backend]
    if args.quick and args.backend == "all":
        backends = ["sqlite"]
    run = Run(args)
    results = run.results
    signal.signal(signal.SIGALRM, _raise_timeout)
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.setitimer(signal.ITIMER_REAL, args.timeout)
    status = 0
    results.meta = {
        "mode": "quick" if args.quick else "full",
        "machine": f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        "load average at start": load_average(),
        "Griffin": f"uvicorn --factory (what `griffin server` serves), {args.workers} worker(s)",
    }
    try:
        try:
            import griffin
        except ImportError as exc:
            raise BenchError(f"griffin is not importable: {failure(exc)}") from exc
        run.sdk = griffin
        results.meta["Griffin"] += f", griffin {getattr(griffin, '__version__', '?')}"
        if "registry" in args.parts:
            run.prepare_mlflow()
            for backend in backends:
                if backend == "postgresql" and (problem := pg_available(args.pg_url)):
                    results.notes.append(
                        f"postgresql: skipped, {args.pg_url} unreachable: {problem}"
                    )
                    continue
                run.backend(backend)
        if "jobs" in args.parts:
            try:
                run.embedded_jobs()
            except BenchTimeout:
                raise
            except Exception as exc:
                results.notes.append(f"training job (embedded): FAILED: {failure(exc)}")
                status = 1
    except BenchError as exc:
        results.notes.append(f"FAILED: {exc}")
        status = 1
    except BenchTimeout:
        results.notes.append(f"STOPPED: the global --timeout of {args.timeout:.0f} s expired")
        status = 2
    except KeyboardInterrupt:
        results.notes.append("STOPPED: interrupted")
        status = 130
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        Proc.stop_all()
        run.reap()
        if args.keep:
            results.notes.append(f"logs and data kept in {run.workdir}")
        else:
            shutil.rmtree(run.workdir, ignore_errors=True)
    for side in (results.griffin, results.mlflow):
        for res in side.values():
            results.notes += res.notes
            if any("FAILED" in n for n in res.notes):
                status = status or 1
    results.meta["load average at end"] = load_average()
    results.meta["wall time"] = f"{time.perf_counter() - T0:.0f} s"
    rows = registry_rows(results)
    if args.json:
        print_json(rows, results)
    else:
        print_tables(rows, results)
    return status


if __name__ == "__main__":
    sys.exit(main())
