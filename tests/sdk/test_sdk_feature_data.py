"""Training data and saved datasets through the SDK, over both transports and both databases."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sdk_helpers import Connect

from griffin.client import Client
from griffin.errors import NotFound, PayloadTooLarge
from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.project import Definitions
from griffin.features.services import FeatureService
from griffin.features.sources import ParquetSource

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def definitions(folder: Path) -> Definitions:
    pd.DataFrame(
        {
            "driver_id": [1, 1, 2, 3],
            "trips": [1, 2, 5, 7],
            "rating": [4.0, 4.5, 3.0, 5.0],
            "ts": [T0, T0 + timedelta(hours=2), T0, T0 + timedelta(hours=5)],
        }
    ).to_parquet(folder / "stats.parquet")
    driver = Entity("driver", ["driver_id"], dtype="int64")
    stats = FeatureView(
        "driver_stats",
        [driver],
        [Feature("trips", "int64"), Feature("rating", "float64")],
        ParquetSource(str(folder / "stats.parquet"), "ts"),
        ttl=timedelta(hours=4),
    )
    return Definitions([stats, FeatureService("eta", [stats])])


def entity_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": [1, 1, 2, 3, 9],
            "event_timestamp": [T0 + timedelta(hours=h) for h in (1, 3, 6, 5, 1)],
            "label": [0.5, 1.5, 2.5, 3.5, 4.5],
        }
    )


def test_save_list_get_load_round_trip(client: Client, tmp_path: Path) -> None:
    client.apply_features(definitions(tmp_path))
    training = client.get_training_data(entity_rows(), "eta")
    assert training.to_arrow().column("trips").to_pylist() == [1, 2, None, 7, None]

    saved = client.save_dataset("eta_train", training, description="for the eta model")
    again = client.save_dataset("eta_train", training)
    assert (saved.version, again.version) == (1, 2)
    assert saved.row_count == 5
    assert saved.description == "for the eta model"
    assert [(f.view, f.version, f.features) for f in saved.features] == [
        ("driver_stats", 1, ("trips", "rating"))
    ]
    assert (saved.feature_service, saved.feature_service_version) == ("eta", 1)
    assert (saved.event_start, saved.event_end) == (
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=6),
    )
    frame = training.to_pandas()
    for name in ("trips", "rating", "label"):
        stats = saved.column(name)
        assert stats.count == frame[name].count()
        assert stats.nulls == frame[name].isna().sum()
        assert stats.min == frame[name].min()
        assert stats.max == frame[name].max()
        assert stats.mean is not None
        assert math.isclose(stats.mean, frame[name].mean())
        assert stats.stddev is not None
        assert math.isclose(stats.stddev, frame[name].std())

    assert [(d.name, d.version) for d in client.list_datasets()] == [("eta_train", 2)]
    assert [d.version for d in client.list_datasets("eta_train")] == [2, 1]
    assert client.get_dataset("eta_train", version=1) == saved
    loaded = client.load_dataset("eta_train", version=1)
    assert loaded.equals(training.to_arrow())
    assert loaded.to_pandas().equals(frame)

    with pytest.raises(NotFound, match="did you mean 'eta_train'"):
        client.get_dataset("eta_trian")
    with pytest.raises(NotFound, match="no version 3"):
        client.load_dataset("eta_train", version=3)


def test_size_limit(connect: Connect, tmp_path: Path) -> None:
    client = connect(max_artifact_bytes=256)
    client.apply_features(definitions(tmp_path))
    training = client.get_training_data(entity_rows(), ["driver_stats:trips"])
    with pytest.raises(PayloadTooLarge, match="limit of 256 bytes"):
        client.save_dataset("big", training)
    assert client.list_datasets() == []
