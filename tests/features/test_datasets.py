"""The saved-datasets service: statistics, versions, lineage, errors, on both backends."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.domain.datasets import LINEAGE_KEY, FeatureRef, Lineage
from griffin.errors import (
    GriffinError,
    InvalidArgument,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from griffin.features import datasets
from griffin.features.training import TrainingSet
from griffin.platform import Platform
from griffin.store import datasets as store
from griffin.store.orm.feature_data import FeatureDatasetRow

ADMIN = Principal("alice", ALL_PROJECTS, Role.ADMIN)
VIEWER = Principal("bob", "default", Role.VIEWER)
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def training_set() -> TrainingSet:
    table = pa.table(
        {
            "driver_id": pa.array([1, 2, 2, 3, 4], pa.int64()),
            "event_timestamp": pa.array(
                [T0 + timedelta(hours=i) for i in (5, 1, 3, 2, 9)], pa.timestamp("us", tz="UTC")
            ),
            "label": ["a", "b", None, "a", "c"],
            "trips": pa.array([10, None, 30, 40, None], pa.int64()),
            "rate": pa.array([0.5, 1.5, None, 2.25, -1.0], pa.float64()),
            "naive_ts": pa.array(
                [datetime(2024, 1, 1), None, None, None, None], pa.timestamp("ms")
            ),
        }
    )
    lineage = Lineage(
        features=(FeatureRef("feature_view", "driver_stats", ("trips", "rate"), 3),),
        feature_service="eta",
        feature_service_version=2,
        entity_source="dataframe (5 rows)",
        join_keys=("driver_id",),
        feature_columns=("trips", "rate"),
        created_before=T0,
    )
    return TrainingSet(table, lineage)


def write(tmp_path: Path, data: bytes, name: str = "body.parquet") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def save(platform: Platform, tmp_path: Path, name: str = "eta_train", **kwargs: Any) -> Any:
    path = write(tmp_path, training_set().to_parquet_bytes())
    return datasets.save_dataset(platform, ADMIN, "default", name, path, **kwargs)


def rows(platform: Platform) -> int:
    with platform.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(FeatureDatasetRow)) or 0)


def test_statistics_match_pandas(platform: Platform, tmp_path: Path) -> None:
    saved = save(platform, tmp_path, description="first")
    frame = training_set().to_pandas()
    assert saved.row_count == 5
    assert [c.name for c in saved.columns] == list(frame.columns)
    for column in ("trips", "rate", "driver_id"):
        stats, values = saved.column(column), frame[column]
        assert stats.count == values.count()
        assert stats.nulls == values.isna().sum()
        assert stats.distinct == values.nunique()
        assert stats.min == values.min()
        assert stats.max == values.max()
        assert stats.mean is not None
        assert math.isclose(stats.mean, values.mean())
        assert stats.stddev is not None
        assert math.isclose(stats.stddev, values.std())
    assert isinstance(saved.column("trips").min, int)
    label = saved.column("label")
    assert (label.count, label.nulls, label.distinct) == (4, 1, 3)
    assert label.mean is None
    assert label.min is None
    ts = saved.column("event_timestamp")
    assert ts.min == frame["event_timestamp"].min().isoformat()
    assert ts.max == (T0 + timedelta(hours=9)).isoformat()
    assert saved.column("naive_ts").min == "2024-01-01T00:00:00+00:00"  # naive: read as UTC
    assert [c.role for c in saved.columns] == [
        "entity_key",
        "timestamp",
        "label",
        "feature",
        "feature",
        "label",
    ]
    assert (saved.event_start, saved.event_end) == (
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=9),
    )
    assert saved.features == (FeatureRef("feature_view", "driver_stats", ("trips", "rate"), 3),)
    assert (saved.feature_service, saved.feature_service_version) == ("eta", 2)
    assert saved.created_before == T0
    assert saved.entity_source == "dataframe (5 rows)"
    assert saved.description == "first"
    assert saved.created_by == "alice"
    with pytest.raises(NotFound, match="no column 'nope'"):
        saved.column("nope")


def test_versions_list_get_and_stored_file(platform: Platform, tmp_path: Path) -> None:
    first = save(platform, tmp_path)
    second = save(platform, tmp_path)
    save(platform, tmp_path, name="other")
    assert (first.version, second.version) == (1, 2)
    assert first.id != second.id
    latest = datasets.list_datasets(platform.db, VIEWER, "default")
    assert [(d.name, d.version) for d in latest] == [("eta_train", 2), ("other", 1)]
    history = datasets.list_datasets(platform.db, VIEWER, "default", "eta_train")
    assert [d.version for d in history] == [2, 1]
    assert datasets.get_dataset(platform.db, VIEWER, "default", "eta_train").version == 2
    assert datasets.get_dataset(platform.db, VIEWER, "default", "eta_train", 1).id == first.id
    found, chunks = datasets.open_dataset(platform, VIEWER, "default", "eta_train", 1)
    body = b"".join(chunks)
    assert len(body) == found.size_bytes
    table = pq.read_table(pa.BufferReader(body))
    assert table.column("trips").to_pylist() == [10, None, 30, 40, None]
    assert LINEAGE_KEY.encode() in (table.schema.metadata or {})


def test_unknown_names_and_versions(platform: Platform, tmp_path: Path) -> None:
    save(platform, tmp_path)
    with pytest.raises(NotFound, match="did you mean 'eta_train'") as caught:
        datasets.get_dataset(platform.db, VIEWER, "default", "eta_trian")
    assert caught.value.details["close_matches"] == ["eta_train"]
    with pytest.raises(NotFound, match=r"has no version 7 \(versions 1 to 1\)"):
        datasets.get_dataset(platform.db, VIEWER, "default", "eta_train", 7)
    with pytest.raises(NotFound, match="did you mean 'eta_train'"):
        datasets.list_datasets(platform.db, VIEWER, "default", "eta_trainn")
    with pytest.raises(NotFound, match="did you mean"):
        datasets.open_dataset(platform, VIEWER, "default", "eta-train")


def test_bad_input_leaves_nothing_behind(platform: Platform, tmp_path: Path) -> None:
    not_parquet = write(tmp_path, b"name,value\n1,2\n", "body.csv")
    with pytest.raises(InvalidArgument, match="not a parquet file"):
        datasets.save_dataset(platform, ADMIN, "default", "eta", not_parquet)
    table = training_set().table.replace_schema_metadata({LINEAGE_KEY: b"{not json"})
    broken = tmp_path / "broken.parquet"
    pq.write_table(table, broken)
    with pytest.raises(InvalidArgument, match="is not JSON"):
        datasets.save_dataset(platform, ADMIN, "default", "eta", broken)
    pq.write_table(table.replace_schema_metadata({LINEAGE_KEY: b'{"features": 3}'}), broken)
    with pytest.raises(InvalidArgument, match="malformed"):
        datasets.save_dataset(platform, ADMIN, "default", "eta", broken)
    with pytest.raises(InvalidArgument, match="invalid dataset name"):
        save(platform, tmp_path, name="../escape")
    with pytest.raises(PermissionDenied):
        datasets.save_dataset(
            platform, VIEWER, "default", "eta", write(tmp_path, training_set().to_parquet_bytes())
        )
    assert rows(platform) == 0
    assert platform.artifacts.list("") == []


def test_a_failed_insert_deletes_the_file(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(session: Any, row: Any) -> None:
        raise GriffinError("the database went away")

    monkeypatch.setattr(store, "add", refuse)
    with pytest.raises(GriffinError, match="went away"):
        save(platform, tmp_path)
    assert platform.artifacts.list("") == []
    assert rows(platform) == 0


def test_a_file_without_lineage_is_accepted(platform: Platform, tmp_path: Path) -> None:
    path = tmp_path / "plain.parquet"
    pd.DataFrame(
        {"x": [1.0, 2.0], "event_timestamp": pd.to_datetime(["2024-01-01"] * 2)}
    ).to_parquet(path)
    saved = datasets.save_dataset(platform, ADMIN, "default", "plain", path)
    assert saved.features == ()
    assert saved.column("x").role == "label"
    assert saved.event_start == datetime(2024, 1, 1, tzinfo=UTC)


def test_spool_enforces_the_size_limit(tmp_path: Path) -> None:
    async def chunks() -> Any:
        for _ in range(3):
            yield b"x" * 10

    async def main() -> None:
        path = await datasets.spool(chunks(), 30)
        assert path.read_bytes() == b"x" * 30
        path.unlink()
        with pytest.raises(PayloadTooLarge, match="limit of 29 bytes"):
            await datasets.spool(chunks(), 29)

    anyio.run(main)
