"""Feature-store benchmark: Griffin against the limit (raw DuckDB, raw redis-py) and Feast.

Prints, in one run on the same deterministic data (see ``_features_data.py``):

1. training data: ``client.get_training_data`` against a hand-written DuckDB ``ASOF JOIN``
   with a TTL mask on the same parquet files;
2. materialization into Redis: ``client.materialize`` against DuckDB latest-per-key plus a
   raw redis-py pipeline writing the same packed values;
3. online reads of 1, 10 and 100 entities (p50/p99): ``client.get_online_features`` against
   a raw redis-py ``MGET`` of the same keys;
4. the HTTP feature server (``griffin features serve``), one entity, p50/p99.

Feast is measured only when it is importable; otherwise its figures from
``research/feature-store.md`` (Feast 0.67, this machine type) are printed for reference and
marked as such. It is a script, not a timed test: compare ratios measured in one run.

    .venv/bin/python benchmarks/features.py            # full data: 2M feature rows, 1M rows
    .venv/bin/python benchmarks/features.py --quick    # 10x smaller, < 1 min
    .venv/bin/python benchmarks/features.py --json     # machine-readable
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _features_common import (  # noqa: E402
    FEAST_REFERENCE,
    ONLINE_VIEW,
    REDIS_URL,
    VIEW,
    Report,
    Row,
    best_of,
    say,
)
from _features_data import (  # noqa: E402
    FEATURES,
    KEY,
    QUICK_DATA,
    TTL,
    Dataset,
    DataSizes,
    generate,
)

# --------------------------------------------------------------------------- setup


FEATURES_PY = """
from datetime import timedelta

from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.sources import ParquetSource

driver = Entity("driver", [{key!r}], dtype="int64")
{view} = FeatureView(
    {view!r},
    [driver],
    [Feature(name, "float64") for name in {features!r}],
    ParquetSource({path!r}, "event_timestamp", created_timestamp_field="created"),
    ttl=timedelta(seconds={ttl}),
)
# The same rows without a TTL for the online steps: the generated events are months old, and
# online records expire by the wall clock (event time + TTL), so with the TTL nothing would
# be served and the reads would measure empty answers.
{online_view} = FeatureView(
    {online_view!r},
    [driver],
    [Feature(name, "float64") for name in {features!r}],
    ParquetSource({path!r}, "event_timestamp", created_timestamp_field="created"),
)
"""


def open_client(home: Path, online_url: str) -> Any:
    """A Griffin client on an embedded store in ``home`` with the benchmark view applied."""
    from griffin.client import Client
    from griffin.config import load_settings

    os.environ["GRIFFIN_HOME"] = str(home)
    os.environ["GRIFFIN_ONLINE_STORE"] = online_url
    client = Client(settings=load_settings())
    return client


def apply_view(client: Any, data: Dataset, home: Path) -> Path:
    path = home / "features.py"
    path.write_text(
        FEATURES_PY.format(
            key=KEY,
            view=VIEW,
            online_view=ONLINE_VIEW,
            features=FEATURES,
            path=str(data.features),
            ttl=int(TTL.total_seconds()),
        )
    )
    client.apply_features(path)
    return path


# --------------------------------------------------------------------------- 1. join


def raw_join(data: Dataset, *, keep_order: bool = False) -> Any:
    """The limit: one hand-written DuckDB ASOF JOIN with a TTL mask, to Arrow.

    With ``keep_order`` the rows come back in the entity rows' order (a row number and an
    ORDER BY), which the issue's "rows keep their place" asks of Griffin.
    """
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        ttl_us = int(TTL.total_seconds() * 1_000_000)
        masked = ", ".join(
            f"CASE WHEN f.event_timestamp > e.event_timestamp - to_microseconds({ttl_us}) "
            f"THEN f.{c} END AS {c}"
            for c in FEATURES
        )
        entities = f"read_parquet('{data.entity_rows}')"
        if keep_order:
            entities = f"(SELECT *, row_number() OVER () AS row_ FROM {entities})"
        query = (
            f"SELECT e.* {'EXCLUDE (row_)' if keep_order else ''}, {masked} FROM {entities} e "
            f"ASOF LEFT JOIN read_parquet('{data.features}') f "
            f"ON e.{KEY} = f.{KEY} AND e.event_timestamp >= f.event_timestamp"
            + (" ORDER BY e.row_" if keep_order else "")
        )
        result = con.sql(query).arrow()
        return result.read_all() if hasattr(result, "read_all") else result
    finally:
        con.close()


def bench_join(client: Any, data: Dataset, reps: int, report: Report) -> None:
    say("training data: raw DuckDB ASOF JOIN")
    raw_s, raw = best_of(lambda: raw_join(data), reps)
    say("training data: raw DuckDB ASOF JOIN keeping row order")
    ordered_s, _ = best_of(lambda: raw_join(data, keep_order=True), reps)
    say("training data: client.get_training_data")
    refs = [f"{VIEW}:{f}" for f in FEATURES]
    griffin_s, result = best_of(lambda: client.get_training_data(str(data.entity_rows), refs), reps)
    table = result.to_arrow()
    nulls = table.column(FEATURES[0]).null_count / max(1, table.num_rows)
    raw_nulls = raw.column(FEATURES[0]).null_count / max(1, raw.num_rows)
    if table.num_rows != raw.num_rows or abs(nulls - raw_nulls) > 1e-9:
        report.notes.append(
            f"join results differ: griffin {table.num_rows} rows {nulls:.3%} null, "
            f"raw {raw.num_rows} rows {raw_nulls:.3%} null"
        )
    report.rows.append(
        Row(
            "training data (point-in-time join)",
            griffin_s,
            raw_s,
            "s",
            1.2,
            FEAST_REFERENCE["join"],
            f"{table.num_rows:,} rows, {nulls:.1%} null",
        )
    )
    report.rows.append(
        Row(
            "  ... against a join keeping row order",
            griffin_s,
            ordered_s,
            "s",
            None,
            "",
            "the limit plus a row number and ORDER BY: what 'rows keep their place' costs",
        )
    )


# --------------------------------------------------------------------------- report


def print_report(report: Report, meta: dict[str, Any]) -> None:
    print(f"\nfeature store benchmark: {meta['data']}")
    header = f"{'step':38s} {'griffin':>10s} {'limit':>10s} {'ratio':>7s} {'target':>7s}  met"
    print(header)
    print("-" * len(header))
    for row in report.rows:
        scale = 1000.0 if row.unit == "ms" else 1.0
        unit = row.unit
        met = "-" if row.met is None else ("yes" if row.met else "NO")
        target = "-" if row.target is None else f"{row.target:.1f}x"
        print(
            f"{row.step:38s} {row.griffin * scale:8.2f}{unit:>2s} {row.limit * scale:8.2f}"
            f"{unit:>2s} {row.ratio:6.2f}x {target:>7s}  {met}"
        )
    print("\ndetails and Feast (reference figures unless Feast ran here):")
    for row in report.rows:
        extra = f"; Feast: {row.feast}" if row.feast else ""
        print(f"  {row.step}: {row.detail}{extra}")
    for note in report.notes:
        print(f"  note: {note}")


def report_json(report: Report, meta: dict[str, Any]) -> str:
    return json.dumps(
        {
            "meta": meta,
            "rows": [
                {
                    "step": r.step,
                    "griffin": r.griffin,
                    "limit": r.limit,
                    "unit": r.unit,
                    "ratio": r.ratio,
                    "target": r.target,
                    "met": r.met,
                    "feast": r.feast,
                    "detail": r.detail,
                }
                for r in report.rows
            ],
            "notes": report.notes,
        },
        indent=2,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10x smaller data, fewer reps")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each bulk step")
    parser.add_argument("--calls", type=int, default=2000, help="online calls per batch size")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=HERE.parent / ".bench" / "features-data",
        help="where the generated parquet files are cached",
    )
    parser.add_argument(
        "--steps",
        default="join,materialize,online,http",
        help="comma-separated steps to run (default: all four)",
    )
    args = parser.parse_args(argv)
    steps = {s.strip() for s in args.steps.split(",") if s.strip()}
    sizes: DataSizes = QUICK_DATA if args.quick else DataSizes()
    calls = min(args.calls, 300) if args.quick else args.calls
    say(f"data: {sizes}")
    data = generate(args.data_dir, sizes)
    report = Report()
    meta = {
        "data": f"{sizes.entities:,} entities x {sizes.days} days = "
        f"{sizes.entities * sizes.days:,} feature rows, {len(FEATURES)} float features, "
        f"{sizes.entity_rows:,} entity rows, TTL {TTL}",
        "reps": args.reps,
        "online_calls": calls,
    }
    prefix = f"griffin-bench-{uuid.uuid4().hex[:8]}:"
    with tempfile.TemporaryDirectory(prefix="griffin-bench-") as tmp:
        home = Path(tmp)
        client = open_client(home, f"{REDIS_URL}?prefix={prefix}")
        try:
            apply_view(client, data, home)
            if "join" in steps:
                bench_join(client, data, args.reps, report)
            run_online_sections(client, data, sizes, args.reps, calls, prefix, report, steps)
        finally:
            client.close()
    if args.json:
        print(report_json(report, meta))
    else:
        print_report(report, meta)
    return 0


def run_online_sections(
    client: Any,
    data: Dataset,
    sizes: DataSizes,
    reps: int,
    calls: int,
    prefix: str,
    report: Report,
    steps: set[str],
) -> None:
    """Materialization, online reads and the HTTP server (see _features_online.py)."""
    if not steps & {"materialize", "online", "http"}:
        return
    from _features_online import bench_http, bench_materialize, bench_online

    # Online reads need the values online: materialize even when it is not measured.
    bench_materialize(client, data, reps if "materialize" in steps else 0, prefix, report)
    if "online" in steps:
        bench_online(client, sizes, calls, prefix, report)
    if "http" in steps:
        bench_http(client, calls, report)


if __name__ == "__main__":
    sys.exit(main())
