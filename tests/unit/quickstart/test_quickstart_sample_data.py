"""The quickstart's sample project: deterministic values, timestamps relative to now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from griffin.features import load_definitions
from griffin.quickstart.sample_data import (
    DAYS,
    FEATURE_SERVICE,
    FEATURE_VIEW,
    FIRST_SHOPPER,
    JOIN_KEY,
    SHOPPERS,
    write_sample_project,
)


def test_same_seed_same_values_and_times_follow_now(tmp_path: Path) -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    first = write_sample_project(tmp_path / "a", now, seed=7)
    later = write_sample_project(tmp_path / "b", now + timedelta(days=40), seed=7)
    a = pd.read_parquet(first.source)
    b = pd.read_parquet(later.source)
    values = [c for c in a.columns if c != "event_timestamp"]
    pd.testing.assert_frame_equal(a[values], b[values])
    assert (b["event_timestamp"] - a["event_timestamp"] == pd.Timedelta(days=40)).all()
    pd.testing.assert_frame_equal(
        first.training_rows.drop(columns="event_timestamp"),
        later.training_rows.drop(columns="event_timestamp"),
    )
    assert first.examples == later.examples


def test_every_shopper_is_fresh_now_and_every_label_sees_one_snapshot(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    project = write_sample_project(tmp_path, now, seed=42)
    activity = pd.read_parquet(project.source)
    assert len(activity) == project.snapshot_rows == SHOPPERS * DAYS
    newest = activity.groupby(JOIN_KEY)["event_timestamp"].max()
    # Inside the view's two-day TTL, and before now (materialize reads up to now, exclusive).
    assert (newest < pd.Timestamp(now)).all()
    assert (newest > pd.Timestamp(now - timedelta(hours=1))).all()
    for rows, oldest, youngest in (
        (project.training_rows, DAYS, 7),
        (project.holdout_rows, 7, 0),
    ):
        age = pd.Timestamp(now) - rows["event_timestamp"]
        assert (age < pd.Timedelta(days=oldest)).all()
        assert (age > pd.Timedelta(days=youngest)).all()
        # 1 to 20 hours after a daily snapshot: the point-in-time join picks that one.
        since = (age.dt.total_seconds() / 3600) % 24
        assert ((since > 3) & (since < 23.5)).all()
    assert set(project.holdout_rows[JOIN_KEY]) == set(
        range(FIRST_SHOPPER, FIRST_SHOPPER + SHOPPERS)
    )
    assert len(set(project.examples)) == 5


def test_features_py_loads_with_its_absolute_source(tmp_path: Path) -> None:
    project = write_sample_project(tmp_path, datetime.now(UTC), seed=42)
    definitions = load_definitions(project.features_py)
    view = definitions.get("feature_view", FEATURE_VIEW)
    assert view.source.path == str(project.source)
    service = definitions.get("feature_service", FEATURE_SERVICE)
    assert service.name == FEATURE_SERVICE
