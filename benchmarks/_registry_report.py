"""The registry benchmark's report: rows with ratios and targets, as tables or as JSON."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass

from _registry_common import MLFLOW_REFERENCE, THREADS, Results
from _registry_jobs import STAGES

ALIAS_TARGET = 20.0  # Griffin's alias resolution vs MLflow's, latency and throughput
OVERHEAD_TARGET_S = 1.5  # a local training job's platform overhead


@dataclass
class Row:
    key: str
    measurement: str
    backend: str
    unit: str  # "ms" (lower is better) or "/s" (higher is better)
    griffin: float | None
    mlflow: float | None = None
    mlflow_source: str = ""  # "measured", "reference" or ""
    mlflow_what: str = ""
    ratio: float | None = None
    target: str = ""
    target_met: bool | None = None


# (griffin key, label); each is compared with MLflow's get_model_version_by_alias.
ALIAS_KINDS = (
    ("alias_rest", "GET .../aliases/champion (raw HTTP)"),
    ("alias_304", "the same with If-None-Match (304, no body)"),
    ("alias_sdk", "client.resolve_model('m@champion') (SDK, revalidating)"),
)
FLOOR_LABEL = "floor: GET /healthz on the same server (no database)"
# (griffin key, label, mlflow key, what MLflow did)
OTHER_ROWS = (
    (
        "uri",
        "resolve m@champion from a fresh client",
        "uri",
        "ModelsArtifactRepository('models:/m@champion'): a new client, the alias, the "
        "download URI, the artifact repository",
    ),
    (
        "register_rest",
        "register a version: POST .../versions",
        "register_client",
        "MlflowClient.create_model_version",
    ),
    (
        "register_sdk",
        "register a version: client.create_model_version",
        "register_model",
        "mlflow.register_model('models:/<logged model id>')",
    ),
    (
        "log_model",
        "log_model, tiny scikit-learn model (save, upload, register)",
        "log_model",
        "mlflow.sklearn.log_model(registered_model_name=...) in a new run",
    ),
    (
        "load_cold",
        "load_model('m@champion'), no local copy",
        "load",
        "mlflow.sklearn.load_model('models:/m@champion')",
    ),
    (
        "load_cached",
        "load_model('m@champion'), cached copy (revalidated)",
        "load",
        "mlflow.sklearn.load_model (MLflow keeps no copy)",
    ),
)


def _mlflow_value(results: Results, backend: str, key: str, field: str) -> tuple[float | None, str]:
    side = results.mlflow.get(backend)
    if side is not None and key in side.figures:
        value = side.figures[key].get(field)
        return (float(value) if value is not None else None), "measured"
    if side is None and field in MLFLOW_REFERENCE.get(key, {}):
        return MLFLOW_REFERENCE[key][field], "reference"
    return None, ""


def _row(
    results: Results,
    backend: str,
    key: str,
    label: str,
    field: str,
    mlflow_key: str,
    *,
    target: bool = False,
    mlflow_what: str = "",
) -> Row | None:
    figures = results.griffin[backend].figures
    if key not in figures:
        return None
    value = figures[key].get(field)
    unit = "/s" if field == "rate" else "ms"
    mlflow, source = _mlflow_value(results, backend, mlflow_key, field)
    row = Row(
        f"{key}.{field}",
        label,
        backend,
        unit,
        value,
        mlflow,
        source,
        mlflow_what,
    )
    if value and mlflow and not math.isnan(value) and not math.isnan(mlflow):
        row.ratio = value / mlflow if unit == "/s" else mlflow / value
    if target:
        row.target = f">= {ALIAS_TARGET:g}x MLflow"
        if row.ratio is not None:
            row.target_met = row.ratio >= ALIAS_TARGET
    return row


def registry_rows(results: Results) -> list[Row]:
    rows: list[Row | None] = []
    for backend in results.griffin:
        for key, label in ALIAS_KINDS:
            one, many = f"{key}_1", f"{key}_{THREADS}"
            rows.append(
                _row(results, backend, one, f"{label}, p50", "p50_ms", "alias_1", target=True)
            )
            rows.append(_row(results, backend, one, f"{label}, p95", "p95_ms", "alias_1"))
            rows.append(
                _row(results, backend, one, f"{label}, 1 thread", "rate", "alias_1", target=True)
            )
            rows.append(
                _row(
                    results,
                    backend,
                    many,
                    f"{label}, {THREADS} threads",
                    "rate",
                    f"alias_{THREADS}",
                    target=True,
                )
            )
        rows.append(
            _row(
                results,
                backend,
                f"alias_rest_{THREADS}_w2",
                f"{ALIAS_KINDS[0][1]}, {THREADS} threads, 2 server workers",
                "rate",
                f"alias_{THREADS}",
            )
        )
        rows.append(_row(results, backend, "floor_1", FLOOR_LABEL + ", p50", "p50_ms", ""))
        rows.append(_row(results, backend, "floor_1", FLOOR_LABEL + ", 1 thread", "rate", ""))
        rows.append(
            _row(
                results,
                backend,
                f"floor_{THREADS}",
                f"{FLOOR_LABEL}, {THREADS} threads",
                "rate",
                "",
            )
        )
        for key, label, mlflow_key, what in OTHER_ROWS:
            rows.append(
                _row(results, backend, key, f"{label}, p50", "p50_ms", mlflow_key, mlflow_what=what)
            )
    return [r for r in rows if r is not None]


def alias_verdicts(rows: list[Row]) -> list[str]:
    """Per backend: is plain alias resolution >= 20x MLflow in p50 latency and throughput?"""
    out = []
    for backend in dict.fromkeys(r.backend for r in rows):
        plain = [r for r in rows if r.backend == backend and r.key.startswith("alias_rest")]
        judged = [r for r in plain if r.target_met is not None]
        if not judged:
            out.append(f"{backend}: alias target not judged (no MLflow figure)")
            continue
        met = all(r.target_met for r in judged)
        source = "reference" if any(r.mlflow_source == "reference" for r in judged) else "measured"
        worst = min(r.ratio or 0.0 for r in judged)
        out.append(
            f"{backend}: alias resolution >= {ALIAS_TARGET:g}x MLflow (p50, 1-thread and "
            f"{THREADS}-thread throughput, plain GET, vs MLflow {source}): "
            f"{'MET' if met else 'MISSED'} (lowest ratio {worst:,.1f}x)"
        )
    return out


# --------------------------------------------------------------------------- training jobs

JOB_ROWS: tuple[tuple[str, str], ...] = (
    ("wall_s", "wall time of `griffin train --json`"),
    ("launch_to_submitted", "command start -> job submitted (CLI start, apply, submit)"),
    ("created_to_ended", "job created -> ended (SUCCEEDED recorded)"),
    ("created_to_registered", "job created -> version registered"),
    ("fit_s", "fit (LogisticRegression on 200 rows)"),
    ("overhead_s", "overhead = (created -> ended) - fit"),
    ("platform_s", "... less all of train(), the model's own imports too"),
    ("command_to_registered", "command start -> version registered"),
    ("command_to_registered_less_train", "... less all of train()"),
    *STAGES,
    ("ended_to_command_exit", "job ended -> command exited (log follow, print)"),
)


def _fmt_s(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if abs(value) < 1:
        return f"{value * 1000:,.0f} ms"
    return f"{value:,.2f} s"


def fmt(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    if unit == "/s":
        return f"{value:,.0f} /s" if value >= 100 else f"{value:,.1f} /s"
    if value >= 1000:
        return f"{value / 1000:,.2f} s"
    return f"{value:,.1f} ms" if value >= 10 else f"{value:,.2f} ms"


def overhead_verdicts(results: Results) -> list[str]:
    out = []
    for name, series in results.jobs.items():
        median = series.get("median", {})
        if "overhead_s" in median:
            value = median["overhead_s"]
            verdict = "MET" if value < OVERHEAD_TARGET_S else "MISSED"
            out.append(
                f"{name}: training-job overhead < {OVERHEAD_TARGET_S:g} s: {verdict} "
                f"({value:.2f} s, median of {len(series.get('runs', []))} runs)"
            )
    return out


def print_tables(rows: list[Row], results: Results) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(190, shutil.get_terminal_size().columns))
    table = Table(title="Griffin model registry benchmark", title_justify="left")
    for name, justify in (
        ("measurement", "left"),
        ("backend", "left"),
        ("Griffin", "right"),
        ("MLflow", "right"),
        ("ratio", "right"),
        ("target", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    last = ""
    for row in rows:
        mlflow = fmt(row.mlflow, row.unit) + (" ref" if row.mlflow_source == "reference" else "")
        ratio = f"{row.ratio:,.1f}x" if row.ratio is not None else "-"
        target = row.target
        if row.target_met is not None:
            target += "  [green]PASS[/]" if row.target_met else "  [red]MISS[/]"
        if last and row.backend != last:
            table.add_section()
        last = row.backend
        table.add_row(
            row.measurement, row.backend, fmt(row.griffin, row.unit), mlflow, ratio, target
        )
    if rows:
        console.print(table)
        console.print(
            "ratio: how many times better Griffin is (throughput: Griffin/MLflow; latency: "
            "MLflow/Griffin). MLflow's alias rows are MlflowClient.get_model_version_by_alias "
            f"(1 and {THREADS} threads); 'ref' = not measured in this run: MLflow 3.17 figure "
            "measured earlier on this machine type (default server, 4 workers).",
            highlight=False,
        )
        whats = {r.measurement: r.mlflow_what for r in rows if r.mlflow_what}
        for label, what in whats.items():
            console.print(f"  MLflow for '{label}': {what}", highlight=False)
    if results.jobs:
        jobs = Table(
            title="Training job overhead: `griffin train --json`, tiny model (medians)",
            title_justify="left",
        )
        jobs.add_column("figure", justify="left")
        names = list(results.jobs)
        for name in names:
            jobs.add_column(name, justify="right")
        jobs.add_column("target", justify="left")
        for key, label in JOB_ROWS:
            cells = [_fmt_s(results.jobs[n].get("median", {}).get(key)) for n in names]
            if all(c == "-" for c in cells):
                continue
            target = ""
            if key == "overhead_s":
                verdicts = [
                    results.jobs[n].get("median", {}).get(key, math.inf) < OVERHEAD_TARGET_S
                    for n in names
                ]
                target = f"< {OVERHEAD_TARGET_S:g} s  " + " ".join(
                    "[green]PASS[/]" if v else "[red]MISS[/]" for v in verdicts
                )
            jobs.add_row(("  " if (key, label) in STAGES else "") + label, *cells, target)
        jobs.add_row(
            "timed runs handed to a prestarted interpreter",
            *[
                f"{sum(1 for r in results.jobs[n].get('runs', []) if r.get('prestarted'))}"
                f"/{len(results.jobs[n].get('runs', []))}"
                for n in names
            ],
            "",
        )
        first = [results.jobs[n].get("first", {}) for n in names]
        if any(first):
            jobs.add_section()
            jobs.add_row(
                "warm-up run (new store or server): wall",
                *[_fmt_s(f.get("wall_s")) for f in first],
                "",
            )
            jobs.add_row(
                "warm-up run: job created -> ended",
                *[_fmt_s(f.get("created_to_ended")) for f in first],
                "",
            )
        console.print(jobs)
        runs = ", ".join(f"{n}: {len(results.jobs[n].get('runs', []))}" for n in names)
        console.print(
            f"timed runs per column ({runs}) after one warm-up run; the indented rows tile "
            "job created -> ended.",
            highlight=False,
        )
    if results.startup:
        console.print("process start-up (median wall time of a fresh interpreter):")
        for label, seconds in results.startup.items():
            console.print(f"  {label}: {_fmt_s(seconds)}", highlight=False)
    for verdict in alias_verdicts(rows) + overhead_verdicts(results):
        console.print(f"target: {verdict}", highlight=False)
    for key, value in results.meta.items():
        console.print(f"{key}: {value}", highlight=False)
    for note in results.notes:
        console.print(f"- {note}", highlight=False)


def print_json(rows: list[Row], results: Results) -> None:
    doc = {
        "meta": results.meta,
        "rows": [asdict(r) for r in rows],
        "targets": alias_verdicts(rows) + overhead_verdicts(results),
        "jobs": results.jobs,
        "startup_s": results.startup,
        "raw": {
            "griffin": {b: s.figures for b, s in results.griffin.items()},
            "mlflow": {b: s.figures for b, s in results.mlflow.items()},
        },
        "notes": results.notes,
    }
    print(json.dumps(doc, indent=2, default=str))
