"""Hand-written point-in-time join cases: TTL edges, ties, cutoffs, nulls, order, errors."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from griffin.errors import InvalidArgument
from griffin.features.offline import ViewInput, point_in_time_join

T0 = datetime(2024, 1, 1, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def entities(rows: Sequence[tuple[Any, datetime | None]], key: str = "driver") -> pa.Table:
    return pa.table(
        {
            key: [k for k, _ in rows],
            "event_timestamp": pa.array([t for _, t in rows], TS),
            "label": list(range(len(rows))),
        }
    )


def driver_view(
    rows: list[tuple[int, datetime, float]],
    created: list[datetime] | None = None,
    ttl: timedelta | None = None,
    **kwargs: Any,
) -> ViewInput:
    data = {
        "driver": [r[0] for r in rows],
        "ts": pa.array([r[1] for r in rows], TS),
        "rate": [r[2] for r in rows],
    }
    if created is not None:
        data["created"] = pa.array(created, TS)
    return ViewInput(
        "driver_stats",
        ["driver"],
        ["rate"],
        "ts",
        pa.table(data),
        created_timestamp_field="created" if created is not None else None,
        ttl=ttl,
        **kwargs,
    )


def rates(table: pa.Table, column: str = "rate") -> list[Any]:
    values: list[Any] = table.column(column).to_pylist()
    return values


def test_exact_timestamp_match_is_included() -> None:
    out = point_in_time_join(entities([(1, h(2))]), [driver_view([(1, h(2), 0.5)])])
    assert rates(out) == [0.5]


def test_ttl_boundary_is_exclusive() -> None:
    view = driver_view([(1, h(0), 0.5)], ttl=timedelta(hours=2))
    rows = [(1, h(2)), (1, h(1.999)), (1, h(0)), (1, h(-1))]
    assert rates(point_in_time_join(entities(rows), [view])) == [None, 0.5, 0.5, None]


def test_ties_go_to_the_greater_created_timestamp() -> None:
    view = driver_view([(1, h(1), 0.1), (1, h(1), 0.2), (1, h(1), 0.3)], created=[h(5), h(7), h(6)])
    assert rates(point_in_time_join(entities([(1, h(1))]), [view])) == [0.2]


def test_ties_without_created_go_to_the_later_row() -> None:
    view = driver_view([(1, h(1), 0.1), (1, h(1), 0.2)])
    assert rates(point_in_time_join(entities([(1, h(3))]), [view])) == [0.2]


def test_created_before_keeps_backfilled_rows_out() -> None:
    view = driver_view([(1, h(0), 0.1), (1, h(1), 0.2)], created=[h(0), h(10)])
    rows = entities([(1, h(2))])
    assert rates(point_in_time_join(rows, [view])) == [0.2]
    assert rates(point_in_time_join(rows, [view], created_before=h(10))) == [0.1]
    assert rates(point_in_time_join(rows, [view], created_before=h(0))) == [None]


def test_unmatched_rows_keep_their_place_with_nulls() -> None:
    view = driver_view([(1, h(1), 0.5)])
    rows = [(2, h(5)), (1, h(0)), (1, h(5)), (3, None), (1, None)]
    out = point_in_time_join(entities(rows), [view])
    assert rates(out) == [None, None, 0.5, None, None]
    assert out.column("label").to_pylist() == [0, 1, 2, 3, 4]


def test_defaults_fill_rows_without_a_fresh_match_only() -> None:
    # The row at h(1) holds a real null: it stays null; unmatched and expired rows get -1.0.
    view = driver_view([(1, h(0), 0.5), (1, h(1), None)], ttl=timedelta(hours=2), defaults=[-1.0])
    rows = [(1, h(0.5)), (1, h(1.5)), (1, h(9)), (2, h(1)), (1, h(-1))]
    assert rates(point_in_time_join(entities(rows), [view])) == [0.5, None, -1.0, -1.0, -1.0]


def test_defaults_of_each_type_and_count_check() -> None:
    data = pa.table({"driver": [1], "ts": pa.array([h(0)], TS), "n": [3], "s": ["x"], "b": [True]})
    view = ViewInput("v", ["driver"], ["n", "s", "b"], "ts", data, defaults=[0, "it's", False])
    out = point_in_time_join(entities([(1, h(1)), (2, h(1))]), [view])
    assert out.column("n").to_pylist() == [3, 0]
    assert out.column("n").type == pa.int64()
    assert out.column("s").to_pylist() == ["x", "it's"]
    assert out.column("b").to_pylist() == [True, False]
    with pytest.raises(InvalidArgument, match="1 defaults for 3 features"):
        ViewInput("v", ["driver"], ["n", "s", "b"], "ts", data, defaults=[0])


def test_repeated_identical_entity_rows_are_neither_dropped_nor_merged() -> None:
    view = driver_view([(1, h(1), 0.5), (2, h(1), 0.7)], ttl=timedelta(hours=1))
    rows = [(1, h(1.5))] * 3 + [(1, h(9))] * 2 + [(2, h(1))] * 2
    out = point_in_time_join(entities(rows), [view])
    assert out.num_rows == 7
    assert rates(out) == [0.5, 0.5, 0.5, None, None, 0.7, 0.7]
    assert out.column("label").to_pylist() == list(range(7))


def test_multiple_views_with_different_entities() -> None:
    driver = driver_view([(1, h(0), 0.5), (1, h(3), 0.6)])
    customer = ViewInput(
        "customer_stats",
        ["customer"],
        ["spend", "rate"],
        "event_time",
        pa.table(
            {
                "customer": ["a", "b"],
                "event_time": pa.array([h(1), h(1)], TS),
                "spend": [10.0, 20.0],
                "rate": [1.0, 2.0],
            }
        ),
        prefix="customer__",
    )
    rows = pa.table(
        {
            "driver": [1, 1, 2],
            "customer": ["b", "a", "a"],
            "event_timestamp": pa.array([h(2), h(4), h(0)], TS),
            "target": [True, False, True],
        }
    )
    out = point_in_time_join(rows, [driver, customer])
    assert out.column_names == [
        "driver",
        "customer",
        "event_timestamp",
        "target",
        "rate",
        "customer__spend",
        "customer__rate",
    ]
    assert out.column("target").to_pylist() == [True, False, True]
    assert rates(out) == [0.5, 0.6, None]
    assert rates(out, "customer__spend") == [20.0, 10.0, None]


def test_output_names_and_collisions() -> None:
    one = driver_view([(1, h(0), 0.5)])
    two = driver_view([(1, h(0), 0.7)])
    with pytest.raises(InvalidArgument, match=r"'rate'.*driver_stats.*collides") as info:
        point_in_time_join(entities([(1, h(1))]), [one, two])
    assert info.value.details["views"] == ["driver_stats", "feature view 'driver_stats' ('rate')"]
    out = point_in_time_join(entities([(1, h(1))]), [one, (two, ["rate_2"])])
    assert out.column_names[-2:] == ["rate", "rate_2"]
    with pytest.raises(InvalidArgument, match="collides with entity_rows"):
        point_in_time_join(entities([(1, h(1))]), [(one, ["label"])])


def test_naive_timestamps_are_utc_and_aware_ones_are_converted() -> None:
    paris = timezone(timedelta(hours=1))
    data = pa.table({"driver": [1], "ts": pa.array([datetime(2024, 1, 1, 12)]), "rate": [0.5]})
    view = ViewInput("driver_stats", ["driver"], ["rate"], "ts", data, ttl=timedelta(hours=1))
    rows = pd.DataFrame(
        {
            "driver": [1, 1, 1],
            "event_timestamp": pd.to_datetime(
                [
                    datetime(2024, 1, 1, 12, 30, tzinfo=paris),  # 11:30 UTC: before
                    datetime(2024, 1, 1, 13, 30, tzinfo=paris),  # 12:30 UTC: inside
                    datetime(2024, 1, 1, 14, 30, tzinfo=paris),  # 13:30 UTC: expired
                ],
                utc=True,
            ).tz_convert(paris),
        }
    )
    out = point_in_time_join(rows, [view])
    assert out.schema.field("event_timestamp").type == TS
    assert rates(out) == [None, 0.5, None]
    naive = pa.table({"driver": [1], "event_timestamp": pa.array([datetime(2024, 1, 1, 12)])})
    assert rates(point_in_time_join(naive, [view])) == [0.5]


def test_parquet_glob_and_position_tie_break(tmp_path: Path) -> None:
    for name, value in (("a.parquet", 0.1), ("b.parquet", 0.2)):
        pq.write_table(
            pa.table({"driver": [1], "ts": pa.array([h(0)], TS), "rate": [value]}),
            tmp_path / name,
        )
    view = ViewInput("driver_stats", ["driver"], ["rate"], "ts", str(tmp_path / "*.parquet"))
    assert rates(point_in_time_join(entities([(1, h(1)), (2, h(1))]), [view])) == [0.2, None]


def test_missing_columns_name_the_column_and_the_view() -> None:
    view = driver_view([(1, h(0), 0.5)])
    with pytest.raises(InvalidArgument, match=r"join key column 'driver'.*'driver_stats'"):
        point_in_time_join(entities([(1, h(1))], key="rider"), [view])
    bad = ViewInput("driver_stats", ["driver"], ["speed"], "ts", view.data)
    with pytest.raises(InvalidArgument, match=r"'driver_stats'.*no column 'speed'"):
        point_in_time_join(entities([(1, h(1))]), [bad])
    bad_ts = ViewInput("driver_stats", ["driver"], ["rate"], "when", view.data)
    with pytest.raises(InvalidArgument, match=r"'driver_stats'.*no column 'when'"):
        point_in_time_join(entities([(1, h(1))]), [bad_ts])
    with pytest.raises(InvalidArgument, match="event timestamp column 'at'"):
        point_in_time_join(entities([(1, h(1))]), [view], event_timestamp_column="at")


def test_scale_smoke_keeps_count_and_order() -> None:
    rng = np.random.default_rng(7)
    n_keys, per_key, n_rows = 10_000, 20, 100_000
    stamps = T0.timestamp() + rng.integers(0, 86_400, n_keys * per_key)
    data = pa.table(
        {
            "driver": np.repeat(np.arange(n_keys), per_key),
            "ts": pa.array((stamps * 1e6).astype("int64")).cast(TS),
            "rate": rng.random(n_keys * per_key),
        }
    )
    rows = pa.table(
        {
            "driver": rng.integers(0, n_keys + 100, n_rows),
            "event_timestamp": pa.array(
                ((T0.timestamp() + rng.integers(0, 86_400, n_rows)) * 1e6).astype("int64")
            ).cast(TS),
            "row": np.arange(n_rows),
        }
    )
    view = ViewInput("s", ["driver"], ["rate"], "ts", data, ttl=timedelta(hours=2))
    started = time.perf_counter()
    out = point_in_time_join(rows, [view], memory_limit="1GB", threads=2)
    assert time.perf_counter() - started < 10
    assert out.num_rows == n_rows
    assert out.column("row").to_pylist() == list(range(n_rows))
