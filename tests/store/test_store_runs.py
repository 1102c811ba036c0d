"""The run store's write path: batch inserts, and errors of the driver's bulk path."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import func, select

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.domain.tracking import Metric
from griffin.errors import Conflict, InvalidArgument
from griffin.platform import Platform
from griffin.store import runs as store
from griffin.store.orm.tracking import LatestMetricRow, MetricRow
from griffin.tracking import runs

ADMIN = Principal("tester", ALL_PROJECTS, Role.ADMIN)


def _metric_rows(platform: Platform) -> int:
    with platform.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(MetricRow)) or 0)


def _insert_for_missing_run(platform: Platform) -> None:
    with platform.db.session(write=True) as session:
        store.insert_batch(session, "no-such-run", [Metric("m", 1.0, 0, 1)], {}, {})


def test_bulk_path_errors_are_translated(platform: Platform) -> None:
    """The metrics bulk path talks to the driver directly; its errors still become ours."""
    with pytest.raises(Conflict, match="conflicts with existing data"):
        _insert_for_missing_run(platform)
    assert _metric_rows(platform) == 0


def test_bulk_path_stores_special_values(platform: Platform) -> None:
    run_id = runs.create_run(platform.db, ADMIN, "default", "exp", artifact_root="/a").id
    points = [
        Metric("m", math.nan, 0, 1),
        Metric("m", math.inf, 1, 1),
        Metric("m", -math.inf, 2, 1),
        Metric("m", -0.0, 3, 1),
        Metric("m", 5e-324, 4, 1),
        Metric("m", 1.0, 2**63 - 1, 2**63 - 1),
        Metric("m", 2.0, -(2**63), 0),
    ]
    runs.log_batch(platform.db, ADMIN, run_id, metrics=points)
    history = runs.get_metric_history(platform.db, ADMIN, run_id, "m")
    assert [(m.step, m.timestamp_ms) for m in history] == [
        (-(2**63), 0),
        (0, 1),
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
        (2**63 - 1, 2**63 - 1),
    ]
    values = [m.value for m in history]
    assert values[0] == 2.0
    assert math.isnan(values[1])
    assert values[2:6] == [math.inf, -math.inf, 0.0, 5e-324]
    latest = runs.get_run(platform.db, ADMIN, run_id).metrics["m"]
    assert (latest.value, latest.step) == (1.0, 2**63 - 1)


@pytest.mark.parametrize(
    ("metric", "field"),
    [
        (Metric("m", 1.0, 2**63, 1), "metric step"),
        (Metric("m", 1.0, -(2**63) - 1, 1), "metric step"),
        (Metric("m", 1.0, 0, 2**63), "metric timestamp_ms"),
        (Metric("m", 1.0, 0, -1), "metric timestamp_ms"),
    ],
)
def test_out_of_range_integers_are_refused_before_the_database(
    platform: Platform, metric: Metric, field: str
) -> None:
    run_id = runs.create_run(platform.db, ADMIN, "default", "exp", artifact_root="/a").id
    with pytest.raises(InvalidArgument) as info:
        runs.log_batch(platform.db, ADMIN, run_id, metrics=[Metric("ok", 1.0, 0, 1), metric])
    assert info.value.details == {"field": field}
    assert _metric_rows(platform) == 0
    with platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(LatestMetricRow)) == 0


def test_a_created_run_is_what_reading_it_back_gives(platform: Platform) -> None:
    """create_run builds its answer from what it wrote; it must equal the stored run."""
    parent = runs.create_run(platform.db, ADMIN, "default", "exp", artifact_root="/a")
    created = runs.create_run(
        platform.db,
        ADMIN,
        "default",
        "exp",
        name="child",
        tags={"team": "a"},
        params={"lr": "0.1"},
        parent_run_id=parent.id,
        artifact_root="/a",
    )
    assert created == runs.get_run(platform.db, ADMIN, created.id)
    by_id = runs.create_run(
        platform.db, ADMIN, "default", created.experiment_id, artifact_root="/a", by_id=True
    )
    assert by_id == runs.get_run(platform.db, ADMIN, by_id.id)
    assert by_id.experiment == "exp"
