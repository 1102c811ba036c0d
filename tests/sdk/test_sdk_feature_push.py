"""``client.materialize``, ``client.push`` and the view states, over both transports.

Materialization runs in the test process and writes the settings' online store (SQLite in the
test's home); its outcome goes through REST. Pushes go through REST to the push service.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sdk_helpers import Connect

from griffin.client import Client
from griffin.errors import BackendUnavailable, InvalidArgument, NotFound
from griffin.features.checks import in_range
from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.online import Record, ViewRead, encode_entity_key, open_online_store
from griffin.features.project import Definitions
from griffin.features.selection import storage_name
from griffin.features.sources import ParquetSource, PushSource

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def us(value: datetime) -> int:
    return int(value.timestamp() * 1_000_000)


def setup_views(client: Client, folder: Path) -> tuple[FeatureView, FeatureView]:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table({"driver_id": [1, 2], "ts": [T0, T0 + DAY], "trips": [1, 2]}),
        folder / "part-1.parquet",
    )
    driver = Entity("driver", ["driver_id"], dtype="int64")
    stats = FeatureView(
        "driver_stats",
        [driver],
        [Feature("trips", "int64")],
        ParquetSource(str(folder), "ts"),
        checks=[in_range("trips", max=100)],
    )
    live = FeatureView(
        "driver_live",
        [driver],
        [Feature("speed", "float64"), Feature("seen", "timestamp")],
        PushSource("driver_push", timestamp_field="event_timestamp"),
        checks=[in_range("speed", min=0)],
    )
    client.apply_features(Definitions([stats, live]))
    return stats, live


def read(client: Client, view: FeatureView, *ids: int) -> list[Record | None]:
    with open_online_store(client.settings.resolved_online_store) as store:
        keys = [encode_entity_key([i]) for i in ids]
        return store.read([ViewRead(storage_name(view), keys)])[0]


def test_incremental_materialization_and_states(client: Client, tmp_path: Path) -> None:
    stats, _ = setup_views(client, tmp_path / "data")
    before = client.feature_state("driver_stats")
    assert (before.last_run_status, before.watermark) == ("", None)

    seen: list[tuple[str, int, int]] = []
    [first] = client.materialize(
        ["driver_stats"], incremental=True, end=T0 + 10 * DAY, progress=lambda *a: seen.append(a)
    )
    assert (first.start, first.rows, first.watermark) == (None, 2, T0 + 10 * DAY)
    assert seen[-1] == ("driver_stats", 2, 2)
    assert read(client, stats, 1, 2) == [Record(us(T0), (1,)), Record(us(T0 + DAY), (2,))]

    # New rows: one inside the old window (late, skipped by incremental runs), one after it.
    pq.write_table(
        pa.table({"driver_id": [1, 2], "ts": [T0 + 11 * DAY, T0 + 2 * DAY], "trips": [5, 50]}),
        tmp_path / "data" / "part-2.parquet",
    )
    [second] = client.materialize(["driver_stats"], incremental=True, end=T0 + 20 * DAY)
    assert (second.start, second.end, second.rows) == (T0 + 10 * DAY, T0 + 20 * DAY, 1)
    assert read(client, stats, 1, 2) == [
        Record(us(T0 + 11 * DAY), (5,)),
        Record(us(T0 + DAY), (2,)),
    ]
    [noop] = client.materialize(["driver_stats"], incremental=True, end=T0 + 20 * DAY)
    assert (noop.rows, noop.watermark) == (0, T0 + 20 * DAY)

    state = client.feature_state("driver_stats")
    assert state.watermark == T0 + 20 * DAY
    assert state.last_run_status == "succeeded"
    assert state.freshest_event == T0 + 11 * DAY
    assert state.view_version == 1
    assert state.age_s is not None
    assert state.age_s > 0
    names = [s.view for s in client.feature_states()]
    assert names == ["driver_live", "driver_stats"]

    # A backfill window that starts after the watermark leaves a gap: the watermark stays.
    client.materialize(["driver_stats"], start=T0 + 30 * DAY, end=T0 + 40 * DAY)
    assert client.feature_state("driver_stats").watermark == T0 + 20 * DAY

    with pytest.raises(InvalidArgument, match="did you mean 'driver_stats'"):
        client.materialize(["driver_stat"])
    with pytest.raises(NotFound, match="driver_stat"):
        client.feature_state("driver_stat")
    with pytest.raises(InvalidArgument, match="not both"):
        client.materialize(start=T0, incremental=True)


def test_failed_runs_keep_the_watermark(client: Client, connect: Connect, tmp_path: Path) -> None:
    stats, _ = setup_views(client, tmp_path / "data")
    client.materialize(incremental=True, end=T0 + 10 * DAY)
    pq.write_table(
        pa.table({"driver_id": [3], "ts": [T0 + 11 * DAY], "trips": [500]}),
        tmp_path / "data" / "part-2.parquet",
    )
    with pytest.raises(InvalidArgument) as info:
        client.materialize(incremental=True, end=T0 + 20 * DAY)
    [failure] = info.value.details["failures"]
    assert (failure["check"], failure["failing_rows"]) == ("in_range", 1)
    state = client.feature_state("driver_stats")
    assert state.last_run_status == "failed"
    assert "in_range(trips)" in state.last_run_error
    assert state.watermark == T0 + 10 * DAY
    assert read(client, stats, 3) == [None]

    down = connect(online_store="redis://127.0.0.1:1/0")
    with pytest.raises(BackendUnavailable):
        down.materialize(["driver_stats"], start=T0, end=T0 + DAY)
    state = down.feature_state("driver_stats")
    assert state.last_run_status == "failed"
    assert state.watermark == T0 + 10 * DAY
    with pytest.raises(BackendUnavailable):
        down.push(
            "driver_live", [{"driver_id": 1, "event_timestamp": T0, "speed": 1.0, "seen": T0}]
        )
    assert down.feature_state("driver_live").pushed_rows == 0


def test_push_frames_and_dicts(client: Client, tmp_path: Path) -> None:
    _, live = setup_views(client, tmp_path / "data")
    frame = pd.DataFrame(
        {
            "driver_id": [1, 2],
            "event_timestamp": pd.to_datetime(["2025-01-01 00:00", "2025-01-01 01:00"]),  # naive
            "speed": [1.5, math.nan],
            "seen": pd.to_datetime(["2024-12-31T00:00Z", "2024-12-31T01:00Z"]),
        }
    )
    result = client.push("driver_live", frame)
    assert (result.rows, result.written) == (2, 2)
    assert result.freshest_event == T0 + timedelta(hours=1)
    one, two = read(client, live, 1, 2)
    assert one == Record(us(T0), (1.5, T0 - DAY))
    assert two is not None
    assert two.values[0] is None  # pandas NaN is a missing value
    result = client.push(
        "driver_live",
        [{"driver_id": 1, "event_timestamp": T0 + DAY, "speed": 3.0, "seen": None}],
    )
    assert result.written == 1
    assert read(client, live, 1) == [Record(us(T0 + DAY), (3.0, None))]
    state = client.feature_state("driver_live")
    assert (state.pushed_rows, state.freshest_event) == (3, T0 + DAY)

    bad = [{"driver_id": 1, "event_timestamp": T0, "speed": -1.0, "seen": None}]
    with pytest.raises(InvalidArgument) as info:
        client.push("driver_live", bad)
    assert info.value.details["failures"][0]["examples"] == [{"driver_id": 1, "speed": -1.0}]
    with pytest.raises(NotFound, match="did you mean 'driver_live'"):
        client.push("driver_lve", bad)
    with pytest.raises(InvalidArgument, match="PushSource"):
        client.push("driver_stats", [{"driver_id": 1, "ts": T0, "trips": 1}])
