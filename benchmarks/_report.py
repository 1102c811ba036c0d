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
    # "griffin": Griffin's own client and API against MLflow's; "mlflow-client": MLflow's client
    # against Griffin's server (the ``griffin`` field) and against MLflow's (``mlflow``).
    table: str = "griffin"


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


# The MLflow client on both servers (``_mlflow_worker.py bench``): the target is 5x on
# every figure, with the client unchanged. Diagnostic rows (no target) help explain a miss.
CLIENT_TARGET = 5.0


def client_specs(n_seeded: int, batch: int) -> list[Spec]:
    top = f"top 100 of {n_seeded:,}"
    t = CLIENT_TARGET
    return [
        Spec("log_metric", "log_metric, 1 point per call", "log_metric", t),
        Spec("log_batch", f"log_batch, {batch:,} metrics per call", "log_batch", t),
        Spec("create_run", "create_run", "create_run", t),
        Spec("search", f"search_runs filter+order, {top}, p50", "search", t),
        Spec("search", f"search_runs filter+order, {top}, p95", "search", p95=True),
        Spec("search_http", "  the same request, raw HTTP + JSON only, p50", "search_http"),
        Spec("search_all", f"search_runs returning all {n_seeded:,} runs, p50", "search_all", t),
        Spec("search_all_http", "  the same request, raw HTTP + JSON only, p50", "search_all_http"),
        Spec("alias", "get_model_version_by_alias, p50", "alias", t),
        Spec("alias", "get_model_version_by_alias, p95", "alias", p95=True),
        Spec("alias_http", "  the same GET, raw HTTP (requests), p50", "alias_http"),
        Spec("models_uri", "models:/name@alias resolved from scratch, p50", "models_uri", t),
    ]


def build_client_rows(
    backend: str,
    on_griffin: dict[str, Measure] | None,
    on_mlflow: dict[str, Measure] | None,
    sizes: Sizes,
) -> list[Row]:
    """MLflow's client against Griffin's server (``on_griffin``) and MLflow's (``on_mlflow``)."""
    if not on_griffin and not on_mlflow:
        return []
    rows: list[Row] = []
    for spec in client_specs(sizes.search_runs, sizes.batch_size):
        g = (on_griffin or {}).get(spec.key)
        m = (on_mlflow or {}).get(spec.key)
        if g is None and m is None:
            continue
        key = f"mlflow_client.{spec.key}" + ("_p95" if spec.p95 else "")
        detail = "; ".join(
            f"{side}: {x.detail}"
            for side, x in (("Griffin", g), ("MLflow", m))
            if x is not None and x.detail
        )
        row = Row(key, spec.label, backend, g, m, "measured" if m else "", note=detail)
        row.table = "mlflow-client"
        if g is not None and m is not None:
            gv, mv = value_of(g, spec.p95), value_of(m, spec.p95)
            row.ratio = gv / mv if g.unit == "/s" else mv / gv
        if spec.target_ratio is not None:
            row.target = f">= {spec.target_ratio:g}x"
            if row.ratio is not None:
                row.target_met = row.ratio >= spec.target_ratio
        rows.append(row)
    return rows


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
        "table": row.table,
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


def _table(title: str, columns: tuple[str, str], rows: list[Row], griffin_first: bool) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    first, second = columns
    for name, justify in (
        ("measurement", "left"),
        ("backend", "left"),
        (first, "right"),
        (second, "right"),
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
        griffin = fmt(row.griffin, p95)
        ratio = f"{row.ratio:,.1f}x" if row.ratio is not None else "-"
        target = row.target
        if row.target_met is not None:
            target += "  [green]PASS[/]" if row.target_met else "  [red]MISS[/]"
        if last and row.backend != last:
            table.add_section()
        last = row.backend
        pair = (griffin, mlflow) if griffin_first else (mlflow, griffin)
        table.add_row(row.measurement, row.backend, *pair, ratio, target)
    return table


def print_table(rows: list[Row], notes: list[str], meta: dict[str, Any]) -> None:
    from rich.console import Console

    console = Console(width=max(150, shutil.get_terminal_size().columns))
    own = [r for r in rows if r.table == "griffin"]
    client = [r for r in rows if r.table == "mlflow-client"]
    if own:
        console.print(
            _table("Griffin tracking benchmark", ("Griffin", "MLflow"), own, griffin_first=True)
        )
        console.print(
            "ratio: how many times better Griffin is (throughput: Griffin/MLflow; "
            "latency: MLflow/Griffin). 'ref' = not measured in this run: MLflow 3.17.2 "
            "figure measured earlier on this machine (default server, 4 workers)."
        )
    if client:
        console.print(
            _table(
                "The same MLflow client code (MlflowClient, in MLflow's venv) against each server",
                ("MLflow client -> MLflow server", "MLflow client -> Griffin server"),
                client,
                griffin_first=False,
            )
        )
        console.print(
            "ratio: how many times better the client does against Griffin's server than "
            "against MLflow's (throughput: Griffin/MLflow; latency: MLflow/Griffin); the client "
            "is the same code in the same venv, only MLFLOW_TRACKING_URI differs."
        )
    for key, value in meta.items():
        console.print(f"{key}: {value}", highlight=False)
    for note in notes:
        console.print(f"- {note}", highlight=False)
    for row in rows:
        if row.note and not row.key.endswith("_p95"):
            where = "MLflow client, " if row.table == "mlflow-client" else ""
            console.print(
                f"- {where}{row.backend} / {row.measurement.strip()}: {row.note}", highlight=False
            )


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
                for side in ("griffin", "griffin_2_workers", "mlflow", "mlflow_client_griffin")
            }
            for b, r in results.items()
        },
    }
    print(json.dumps(doc, indent=2, default=str))
