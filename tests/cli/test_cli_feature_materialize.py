"""`griffin features materialize`, `status` and `push` on the embedded store."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from cli_helpers import Invoke, assert_one_line_error

T0 = datetime(2025, 1, 1, tzinfo=UTC)

FEATURES_PY = """
from datetime import timedelta

from griffin.features.checks import freshness, in_range
from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.sources import ParquetSource, PushSource

driver = Entity("driver", ["driver_id"], dtype="int64")
stats = FeatureView(
    "driver_stats",
    [driver],
    [Feature("trips", "int64")],
    ParquetSource("data/*.parquet", "ts"),
    checks=[in_range("trips", max={max_trips}), freshness(timedelta(days=1))],
)
live = FeatureView(
    "driver_live",
    [driver],
    [Feature("speed", "float64")],
    PushSource("driver_push", timestamp_field="event_timestamp"),
)
"""


def setup(cli: Invoke, max_trips: int = 100) -> None:
    Path("data").mkdir(exist_ok=True)
    pq.write_table(
        pa.table(
            {"driver_id": [1, 1, 2], "ts": [T0, T0 + timedelta(hours=1), T0], "trips": [1, 2, 30]}
        ),
        "data/part-1.parquet",
    )
    Path("features.py").write_text(textwrap.dedent(FEATURES_PY.format(max_trips=max_trips)))
    applied = cli("features", "apply", "--yes")
    assert applied.exit_code == 0, applied.output


def test_materialize_status_and_push(cli: Invoke) -> None:
    setup(cli)
    before = cli("features", "show", "feature_view", "driver_stats")
    assert "never materialized" in before.stdout
    assert "nothing online" in before.stdout
    # From the beginning (no --start), so the watermark moves to --end.
    done = cli("features", "materialize", "driver_stats", "--end", "2025-01-02")
    assert done.exit_code == 0, done.output
    assert "entities" in done.stdout
    assert "driver_stats: 2/2 rows written" in done.stderr  # plain progress lines off a TTY
    again = cli(
        "features", "materialize", "--incremental", "--end", "2025-01-03T00:00:00Z", "--json"
    )
    assert again.exit_code == 0, again.output
    results = json.loads(again.stdout)
    assert [(r["view"], r["rows"]) for r in results] == [("driver_live", 0), ("driver_stats", 0)]
    assert results[1]["watermark"] == "2025-01-03T00:00:00+00:00"

    table = cli("features", "status")
    assert table.exit_code == 0, table.output
    assert "BREACHED" in table.stdout  # its newest event is from 2025
    assert "freshness check breached: driver_stats" in table.stderr
    one = json.loads(cli("features", "status", "driver_stats", "--json").stdout)
    assert one["watermark"] == "2025-01-03T00:00:00+00:00"
    assert one["last_run_status"] == "succeeded"
    assert one["freshest_event"] == "2025-01-01T01:00:00+00:00"
    assert one["max_age_s"] == 86400.0
    assert one["breached"] is True
    shown = cli("features", "status", "driver_stats")
    assert "succeeded" in shown.stdout
    # `show` carries the same state beside the definition.
    view = cli("features", "show", "feature_view", "driver_stats")
    assert "succeeded at" in view.stdout
    assert "BREACHED" in view.stdout
    as_json = json.loads(cli("features", "show", "feature_view", "driver_stats", "--json").stdout)
    assert as_json["state"]["watermark"] == "2025-01-03T00:00:00+00:00"

    Path("rows.jsonl").write_text(
        '{"driver_id": 7, "event_timestamp": "2025-01-05T00:00:00Z", "speed": 3.5}\n'
    )
    pushed = cli("features", "push", "driver_live", "rows.jsonl", "--json")
    assert pushed.exit_code == 0, pushed.output
    result = json.loads(pushed.stdout)
    assert (result["rows"], result["written"]) == (1, 1)
    assert Path(result["offline_path"]).is_file()
    Path("rows.csv").write_text("driver_id,event_timestamp,speed\n8,2025-01-06T00:00:00Z,1.0\n")
    assert "written online" in cli("features", "push", "driver_live", "rows.csv").stdout
    live = json.loads(cli("features", "status", "driver_live", "--json").stdout)
    assert live["pushed_rows"] == 2


def test_failing_checks_exit_1_with_the_report(cli: Invoke) -> None:
    setup(cli, max_trips=10)
    failed = cli("features", "materialize", "--start", "2025-01-01", "--end", "2025-01-02")
    assert failed.exit_code == 1
    assert "error: feature view 'driver_stats': data checks failed" in failed.stderr
    assert "in_range(trips): 1 of 2 rows are outside [-inf, 10]" in failed.stderr
    assert "e.g. {'driver_id': 2, 'trips': 30}" in failed.stderr
    state = json.loads(cli("features", "status", "driver_stats", "--json").stdout)
    assert (state["last_run_status"], state["watermark"]) == ("failed", None)


def test_usage_errors(cli: Invoke) -> None:
    setup(cli)
    both = cli("features", "materialize", "--incremental", "--start", "2025-01-01")
    assert both.exit_code == 2
    bad_time = cli("features", "materialize", "--start", "yesterday")
    assert bad_time.exit_code == 2
    assert_one_line_error(
        cli("features", "materialize", "driver_stat"), "did you mean 'driver_stats'"
    )
    assert_one_line_error(cli("features", "status", "driver_stat"), "did you mean 'driver_stats'")
    Path("rows.txt").write_text("x")
    assert_one_line_error(
        cli("features", "push", "driver_live", "rows.txt"), ".parquet, .csv or .jsonl"
    )
