"""Deterministic data for the feature-store benchmark, written once as parquet.

100k entities x 20 days: one feature row per entity and day at a random hour (2M rows, 10
float features); 1M entity rows, each at a random entity, day and an offset of up to 14 h
after that day's feature row. With a 12 h TTL about 1/7 (14%) of entity rows have no fresh
feature row and must come back null: the same shape as the Feast figures in
``research/feature-store.md`` (12 h TTL, ~15% nulls).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

START = datetime(2026, 1, 1, tzinfo=UTC)
TTL = timedelta(hours=12)
FEATURES = [f"f{i}" for i in range(10)]
KEY = "driver_id"


@dataclass(frozen=True)
class DataSizes:
    entities: int = 100_000
    days: int = 20
    entity_rows: int = 1_000_000


QUICK_DATA = DataSizes(entities=10_000, days=20, entity_rows=100_000)


@dataclass(frozen=True)
class Dataset:
    folder: Path
    features: Path  # parquet file of feature rows
    entity_rows: Path  # parquet file of entity rows
    sizes: DataSizes


def generate(folder: Path, sizes: DataSizes, seed: int = 7) -> Dataset:
    """Write (or reuse) the two parquet files for ``sizes`` under ``folder``."""
    name = f"e{sizes.entities}-d{sizes.days}-r{sizes.entity_rows}-s{seed}"
    target = folder / name
    data = Dataset(target, target / "features.parquet", target / "entity_rows.parquet", sizes)
    if data.features.exists() and data.entity_rows.exists():
        return data
    target.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = sizes.entities * sizes.days
    ids = np.repeat(np.arange(sizes.entities, dtype=np.int64), sizes.days)
    day = np.tile(np.arange(sizes.days, dtype=np.int64), sizes.entities)
    hour_us = rng.integers(0, 10 * 3600 * 1_000_000, n)  # each day's row before 10:00
    start_us = int(START.timestamp() * 1_000_000)
    ts_us = start_us + day * 86_400_000_000 + hour_us
    frame = pd.DataFrame({KEY: ids, "event_timestamp": pd.to_datetime(ts_us, unit="us", utc=True)})
    for feature in FEATURES:
        frame[feature] = rng.random(n)
    frame["created"] = frame["event_timestamp"]
    frame.to_parquet(data.features, index=False, row_group_size=256_000)
    pick = rng.integers(0, n, sizes.entity_rows)
    offset = rng.integers(0, 14 * 3600 * 1_000_000, sizes.entity_rows)  # 12 h TTL: 1/7 null
    entity_rows = pd.DataFrame(
        {
            KEY: ids[pick],
            "event_timestamp": pd.to_datetime(ts_us[pick] + offset, unit="us", utc=True),
            "label": rng.integers(0, 2, sizes.entity_rows),
        }
    )
    entity_rows.to_parquet(data.entity_rows, index=False)
    return data
