"""Online/offline skew: every bucket, on the SQLite and the Redis online store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from griffin.errors import InvalidArgument
from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.online import OnlineStore, encode_entity_key, open_online_store
from griffin.features.project import Definitions
from griffin.features.selection import storage_name
from griffin.features.skew import check_skew
from griffin.features.sources import ParquetSource

# Online stores expire records by the wall clock, so the data is relative to it.
NOW = datetime.now(UTC).replace(microsecond=0)
T1 = NOW - timedelta(hours=3)
T2 = NOW - timedelta(hours=1)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'online.db'}"
    else:
        url = f"redis://127.0.0.1:6379/0?prefix=griffin-test-{uuid.uuid4().hex}:"
    opened = open_online_store(url)
    try:
        yield opened
    finally:
        opened.teardown()
        opened.close()


def _view(tmp_path: Path) -> FeatureView:
    # Drivers 1-5 have history; driver 1 has two rows, so offline's latest is T2.
    frame = pd.DataFrame(
        {
            "driver_id": [1, 1, 2, 3, 4, 5],
            "ts": [T1, T2, T2, T2, T2, NOW - timedelta(days=3)],
            "rate": [0.5, 0.75, 1.5, 2.5, 3.5, 4.5],
            "trips": [1, 2, 3, 4, 5, 6],
        }
    )
    frame.to_parquet(tmp_path / "stats.parquet")
    driver = Entity("driver", ["driver_id"], dtype="int64")
    return FeatureView(
        "driver_stats",
        [driver],
        [Feature("rate", "float64"), Feature("trips", "int64")],
        ParquetSource(str(tmp_path / "stats.parquet"), "ts"),
        ttl=timedelta(days=1),
    )


def _us(value: datetime) -> int:
    return int(value.timestamp() * 1_000_000)


def test_every_bucket_is_counted_with_examples(store: OnlineStore, tmp_path: Path) -> None:
    view = _view(tmp_path)
    name = storage_name(view)
    keys = [encode_entity_key([i]) for i in (1, 2, 3, 6)]
    store.write_batch(
        name,
        keys,
        [_us(T1), _us(T2), _us(T2), _us(T2)],
        [(0.5, 1), (1.5, 3), (2.5, 40), (9.0, 9)],
        expire_after_s=86_400,
    )
    report = check_skew(
        Definitions([view]),
        "driver_stats",
        store,
        project="default",
        offline_root=str(tmp_path / "offline"),
        sample=100,
        now=NOW,
    )
    # 1: online holds T1, offline's latest is T2 -> stale. 2: match. 3: trips differ.
    # 4: nothing online -> stale. 5: expired on both sides -> absent. 6 is not in the source.
    assert report.sampled == 5
    assert report.counts == {
        "match": 1,
        "value_mismatch": 1,
        "online_stale": 2,
        "online_only": 0,
        "absent": 1,
    }
    assert report.feature_mismatches == {"trips": 1}
    mismatch = next(e for e in report.examples if e.bucket == "value_mismatch")
    assert (mismatch.entity, mismatch.feature, mismatch.online, mismatch.offline) == (
        "[3]",
        "trips",
        40,
        4,
    )
    assert not report.ok
    assert report.to_json()["counts"]["match"] == 1


def test_online_rows_offline_cannot_produce(store: OnlineStore, tmp_path: Path) -> None:
    view = _view(tmp_path)
    later = NOW - timedelta(minutes=5)
    store.write_batch(storage_name(view), ["[2]"], [_us(later)], [(1.5, 3)])
    report = check_skew(
        Definitions([view]), "driver_stats", store, project="p", offline_root="x", now=NOW
    )
    assert report.counts["online_only"] == 1
    assert report.drift == 1


def test_a_fully_materialized_view_has_no_skew(store: OnlineStore, tmp_path: Path) -> None:
    view = _view(tmp_path)
    store.write_batch(
        storage_name(view),
        ["[1]", "[2]", "[3]", "[4]"],
        [_us(T2)] * 4,
        [(0.75, 2), (1.5, 3), (2.5, 4), (3.5, 5)],
    )
    report = check_skew(
        Definitions([view]), "driver_stats", store, project="p", offline_root="x", now=NOW
    )
    assert report.ok
    assert report.counts["match"] == 4


def test_sampling_is_deterministic_and_bounded(store: OnlineStore, tmp_path: Path) -> None:
    view = _view(tmp_path)
    definitions = Definitions([view])
    first = check_skew(
        definitions, "driver_stats", store, project="p", offline_root="x", sample=2, now=NOW
    )
    again = check_skew(
        definitions, "driver_stats", store, project="p", offline_root="x", sample=2, now=NOW
    )
    assert first.sampled == 2
    assert first.counts == again.counts
    assert [e.entity for e in first.examples] == [e.entity for e in again.examples]


def test_unknown_view_names_the_closest(store: OnlineStore, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="did you mean 'driver_stats'"):
        check_skew(
            Definitions([_view(tmp_path)]),
            "driver_stat",
            store,
            project="p",
            offline_root="x",
        )
