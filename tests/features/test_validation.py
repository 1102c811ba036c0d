"""Data checks and type checks of feature rows (DuckDB over Arrow): reports and errors."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from griffin.domain.feature_states import CheckReport
from griffin.errors import InvalidArgument
from griffin.features.checks import (
    allowed,
    freshness,
    in_range,
    max_null_fraction,
    not_null,
    unique,
)
from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.sources import PushSource
from griffin.features.validation import conform, run_checks

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def view(*checks: object) -> FeatureView:
    driver = Entity("driver", ["driver_id"], dtype="int64")
    return FeatureView(
        "stats",
        [driver],
        [
            Feature("trips", "int64"),
            Feature("rating", "float64"),
            Feature("city", "string"),
            Feature("photo", "bytes"),
        ],
        PushSource("stats_push", timestamp_field="ts"),
        checks=list(checks),  # type: ignore[arg-type]
    )


def rows(**overrides: list[object]) -> pa.Table:
    data: dict[str, list[object]] = {
        "driver_id": [1, 2, 3, 4],
        "ts": [NOW - timedelta(minutes=m) for m in (1, 2, 3, 4)],
        "trips": [1, 2, 30, 4],
        "rating": [4.5, None, 3.0, math.nan],
        "city": ["paris", "lyon", "rome", None],
        "photo": [b"a", b"b", None, b"d"],
    }
    data.update(overrides)
    return pa.table(data)


def test_passing_checks_report_ok() -> None:
    checks = [
        not_null("trips"),
        in_range("trips", 0, 100),
        allowed("city", ["paris", "lyon", "rome"]),
        unique(["driver_id"]),
        max_null_fraction("rating", 0.5),
        freshness(timedelta(hours=1)),
    ]
    report = run_checks(view(*checks), rows(), now=NOW)
    assert report.ok
    assert report.checked == (
        "not_null",
        "in_range",
        "allowed",
        "unique",
        "max_null_fraction",
        "freshness",
    )
    report.raise_for_failures()  # nothing to raise


def test_every_failure_names_check_columns_count_and_examples() -> None:
    checks = [
        not_null("rating"),
        in_range("trips", max=10),
        in_range("rating", min=0, max=5),
        allowed("city", ["paris"]),
        unique(["trips"]),
        max_null_fraction("city", 0.1),
        freshness(timedelta(seconds=30)),
    ]
    table = rows(trips=[7, 7, 30, 7])
    report = run_checks(view(*checks), table, now=NOW)
    assert not report.ok
    by_check = {(f.check, f.columns): f for f in report.failures}
    assert set(by_check) == {
        ("not_null", ("rating",)),
        ("in_range", ("trips",)),
        ("in_range", ("rating",)),  # NaN is outside any range
        ("allowed", ("city",)),
        ("unique", ("trips",)),
        ("max_null_fraction", ("city",)),
        ("freshness", ("ts",)),
    }
    nulls = by_check[("not_null", ("rating",))]
    assert (nulls.failing_rows, nulls.total_rows) == (1, 4)
    assert nulls.examples == ({"driver_id": 2, "rating": None},)
    big = by_check[("in_range", ("trips",))]
    assert big.failing_rows == 1
    assert big.examples == ({"driver_id": 3, "trips": 30},)
    nan = by_check[("in_range", ("rating",))]
    assert nan.examples == ({"driver_id": 4, "rating": "NaN"},)  # JSON-safe
    city = by_check[("allowed", ("city",))]
    assert city.failing_rows == 2  # nulls pass
    assert [e["city"] for e in city.examples] == ["lyon", "rome"]
    dup = by_check[("unique", ("trips",))]
    assert dup.failing_rows == 3
    assert dup.examples == ({"trips": 7, "count": 3},)
    fraction = by_check[("max_null_fraction", ("city",))]
    assert fraction.failing_rows == 1
    assert "25.0%" in fraction.message
    stale = by_check[("freshness", ("ts",))]
    assert stale.examples[0]["newest_event"] == (NOW - timedelta(minutes=1)).isoformat()

    with pytest.raises(InvalidArgument) as info:
        report.raise_for_failures()
    message = info.value.message
    assert "7 data check(s) failed" in message
    assert "not_null(rating)" in message
    assert "unique(trips)" in message
    details = info.value.details
    assert details["view"] == "stats"
    assert len(details["failures"]) == 7
    rebuilt = CheckReport.from_error_details(details)
    assert rebuilt is not None
    assert {f.check for f in rebuilt.failures} == {c for c, _ in by_check}
    assert "e.g." in report.render()


def test_at_most_five_examples_and_empty_batches_pass() -> None:
    many = pa.table({"driver_id": list(range(20)), "trips": [None] * 20})
    checked = view(not_null("trips"))
    [failure] = run_checks(checked, many, now=NOW).failures
    assert failure.failing_rows == 20
    assert len(failure.examples) == 5
    assert run_checks(checked, many.slice(0, 0), now=NOW).ok


def test_a_check_on_a_missing_column_or_wrong_type_is_invalid() -> None:
    with pytest.raises(InvalidArgument, match="'rating'"):
        run_checks(view(not_null("rating")), pa.table({"driver_id": [1]}), now=NOW)
    with pytest.raises(InvalidArgument, match="check allowed could not run"):
        run_checks(view(allowed("trips", ["a"])), rows(), now=NOW)


def test_conform_casts_to_declared_types() -> None:
    table = pa.table(
        {
            "photo": ["YQ==", None, "Yw==", "ZA=="],  # base64
            "driver_id": pa.array([1, 2, 3, 4], pa.int32()),
            "ts": [
                "2025-03-01T12:00:00Z",
                "2025-03-01T13:00:00+01:00",
                "2025-03-01T12:00:00",
                None,
            ],
            "trips": [1, 2, 3, 4],
            "rating": [1, 2, 3, 4],  # ints read as float64
            "city": ["a", "b", None, "d"],
        }
    )
    out = conform(view(), table, timestamp_field="ts")
    assert out.column_names == ["driver_id", "ts", "trips", "rating", "city", "photo"]
    assert out.schema.field("driver_id").type == pa.int64()
    assert out.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert out.schema.field("rating").type == pa.float64()
    assert out.column("ts").to_pylist()[:3] == [datetime(2025, 3, 1, 12, tzinfo=UTC)] * 3
    assert out.column("photo").to_pylist() == [b"a", None, b"c", b"d"]
    micros = conform(
        view(), table.set_column(2, "ts", pa.array([0, 1, 2, 3])), timestamp_field="ts"
    )
    assert micros.column("ts")[1].as_py() == datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)


def test_conform_refuses_missing_extra_and_uncastable_columns() -> None:
    base = rows()
    with pytest.raises(InvalidArgument) as info:
        conform(
            view(),
            base.drop_columns(["trips"]).append_column("trip", [[1] * 4]),
            timestamp_field="ts",
        )
    assert "missing column(s) 'trips'" in info.value.message
    assert "unexpected column(s) 'trip'" in info.value.message
    assert info.value.details["missing"] == ["trips"]
    with pytest.raises(InvalidArgument, match=r"column 'trips' .* cannot be read as int64"):
        conform(view(), rows(trips=[1.5, 2.0, 3.0, 4.0]), timestamp_field="ts")
    with pytest.raises(InvalidArgument, match="column 'trips'"):
        conform(view(), rows(trips=["1", "x", "3", "4"]), timestamp_field="ts")
    with pytest.raises(InvalidArgument, match="column 'ts'"):
        conform(view(), rows(ts=["yesterday", None, None, None]), timestamp_field="ts")
