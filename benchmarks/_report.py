"""The report: rows with ratios and targets, printed as a rich table or as JSON."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from typing import Any

from _common import BackendResult, Measure, Sizes

# MLflow 3.17.2 (default server, 4 workers) measured earlier on this machine
# (shared/research/tracking.md); shown, marked, only when MLflow is not run here.
MLFLOW_REFERENCE: dict[tuple[str, str], float] = {
    ("log_metric", "sqlite"): 17.5,
    ("log_metric", "postgresql"): 17.4,
    ("log_batch", "sqlite"): 4526.0,
    ("log_batch", "postgresql"): 3882.0,
}


@dataclass
class Row:
    key: str
    measurement: str
    backend: str
    griffin: Measure | None
    mlflow: Measure | None = None
    mlflow_source: str = ""  # "measured", "reference" or ""
    target: str = ""
    target_met: bool | None = None
    ratio: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Spec:
    key: str  # Griffin measure
    label: str
    mlflow_key: str = ""
    target_ratio: float | None = None
    target_max_ms: float | None = None
    p95: bool = False


def specs(n_seeded: int, batch: int) -> list[Spec]:
    top = f"top 100 of {n_seeded:,}"
    return [
        Spec("sdk_log_metric", "log_metric, 1 point/call (SDK, buffered)", "log_metric", 10),
        Spec("rest_single", "1 metric per request (REST, unbuffered floor)", "log_metric"),
        Spec("rest_single_2c", "1 metric per request, 2 client threads (REST)"),
        Spec("sdk_log_batch", f"log_batch, {batch:,} metrics/call (SDK)", "log_batch", 20),
        Spec("rest_batch", f"{batch:,} metrics per request (raw httpx)", "log_batch", 20),
        Spec("rest_batch_2c", f"{batch:,} metrics/request, 2 client threads (REST)"),
        Spec("sdk_create_run", "create_run (SDK)", "create_run"),
        Spec("rest_create_run", "create run (REST)", "create_run"),
        Spec("sdk_search", f"search_runs filter+order, {top}, p50 (SDK)", "search", None, 50),
        Spec("sdk_search", f"search_runs filter+order, {top}, p95 (SDK)", "search", p95=True),
        Spec("rest_search", f"search filter+order, {top}, p50 (REST)", "search", None, 50),
        Spec("rest_search", f"search filter+order, {top}, p95 (REST)", "search", p95=True),
        Spec("sdk_search_all", f"search_runs returning all {n_seeded:,} runs, p50 (SDK)"),
        Spec("rest_search_all", f"search returning all {n_seeded:,} runs, p50 (REST)"),
    ]


def value_of(m: Measure, p95: bool) -> float:
    return m.p95 if p95 and m.p95 is not None else m.value


def build_rows(
    backend: str,
    tag: str,
    griffin: dict[str, Measure],
    mlflow: dict[str, Measure] | None,
    sizes: Sizes,
    *,
    compare: bool = True,
) -> list[Row]:
    rows: list[Row] = []
    for spec in specs(sizes.search_runs, sizes.batch_size):
        g = griffin.get(spec.key)
        if g is None:
            continue
        row = Row(spec.key + ("_p95" if spec.p95 else ""), spec.label, tag, g, note=g.detail)
        mkey = spec.mlflow_key
        if spec.key.endswith("_all"):
            mkey = "search_all"
        if not compare:
            mkey = ""
        if mkey and mlflow is not None and mkey in mlflow:
            row.mlflow, row.mlflow_source = mlflow[mkey], "measured"
        elif mkey and mlflow is None and (mkey, backend) in MLFLOW_REFERENCE:
            row.mlflow = Measure(MLFLOW_REFERENCE[(mkey, backend)], "/s", 0)
            row.mlflow_source = "reference"
        gv = value_of(g, spec.p95)
        if row.mlflow is not None:
            mv = value_of(row.mlflow, spec.p95)
            row.ratio = gv / mv if g.unit == "/s" else mv / gv
        if spec.target_ratio is not None:
            row.target = f">= {spec.target_ratio:g}x MLflow"
            if row.ratio is not None:
                row.target_met = row.ratio >= spec.target_ratio
        if spec.target_max_ms is not None:
            row.target = f"< {spec.target_max_ms:g} ms"
            row.target_met = gv < spec.target_max_ms
        rows.append(row)
    return rows


def row_json(row: Row) -> dict[str, Any]:
    """A row with plain numbers: the value shown (p95 rows carry the p95), and its unit."""
    p95 = row.key.endswith("_p95")
    return {
        "key": row.key,
        "measurement": row.measurement,
        "backend": row.backend,
        "unit": row.griffin.unit if row.griffin else "",
        "griffin": value_of(row.griffin, p95) if row.griffin else None,
        "mlflow": value_of(row.mlflow, p95) if row.mlflow else None,
        "mlflow_source": row.mlflow_source or None,
        "ratio": row.ratio,
        "target": row.target or None,
        "target_met": row.target_met,
        "note": row.note,
    }


def fmt(m: Measure | None, p95: bool = False) -> str:
    if m is None:
        return "-"
    v = value_of(m, p95)
    if m.unit == "/s":
        return f"{v:,.0f} /s" if v >= 100 else f"{v:,.1f} /s"
    if v >= 1000:
        return f"{v / 1000:,.2f} s"
    return f"{v:,.1f} ms" if v >= 10 else f"{v:,.2f} ms"


def print_table(rows: list[Row], notes: list[str], meta: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(150, shutil.get_terminal_size().columns))
    table = Table(title="Griffin tracking benchmark", title_justify="left")
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
        p95 = row.key.endswith("_p95")
        mlflow = fmt(row.mlflow, p95)
        if row.mlflow_source == "reference":
            mlflow += " ref"
        ratio = f"{row.ratio:,.1f}x" if row.ratio is not None else "-"
        target = row.target
        if row.target_met is not None:
            target += "  [green]PASS[/]" if row.target_met else "  [red]MISS[/]"
        if last and row.backend != last:
            table.add_section()
        last = row.backend
        table.add_row(row.measurement, row.backend, fmt(row.griffin, p95), mlflow, ratio, target)
    console.print(table)
    console.print(
        "ratio: how many times better Griffin is (throughput: Griffin/MLflow; "
        "latency: MLflow/Griffin). 'ref' = not measured in this run: MLflow 3.17.2 "
        "figure measured earlier on this machine (default server, 4 workers)."
    )
    for key, value in meta.items():
        console.print(f"{key}: {value}", highlight=False)
    for note in notes:
        console.print(f"- {note}", highlight=False)
    for row in rows:
        if row.note and not row.key.endswith("_p95"):
            console.print(f"- {row.backend} / {row.measurement}: {row.note}", highlight=False)


def print_json(
    rows: list[Row], notes: list[str], meta: dict[str, Any], results: dict[str, BackendResult]
) -> None:
    doc = {
        "meta": meta,
        "rows": [row_json(r) for r in rows],
        "notes": notes,
        "raw": {
            b: {
                side: {k: asdict(v) for k, v in (getattr(r, side) or {}).items()}
                for side in ("griffin", "griffin_2_workers", "mlflow")
            }
            for b, r in results.items()
        },
    }
    print(json.dumps(doc, indent=2, default=str))
