"""Wire format of saved training datasets."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from griffin.server.schemas.tracking import Wire

__all__ = ["ColumnStatsOut", "DatasetOut", "DatasetsOut", "FeatureRefOut"]


class ColumnStatsOut(Wire):
    name: str
    type: str
    role: Literal["entity_key", "timestamp", "label", "feature"]
    count: int
    nulls: int
    distinct: int | None
    # Numbers for numeric columns, ISO 8601 strings for timestamps and dates.
    min: int | float | str | None
    max: int | float | str | None
    mean: float | None
    stddev: float | None


class FeatureRefOut(Wire):
    kind: str
    view: str
    version: int | None
    features: list[str]


class DatasetOut(Wire):
    id: str
    project: str
    name: str
    version: int
    format: str
    row_count: int
    size_bytes: int
    sha256: str
    columns: list[ColumnStatsOut]
    features: list[FeatureRefOut]
    feature_service: str | None
    feature_service_version: int | None
    entity_source: str
    event_timestamp_column: str
    event_start: datetime | None
    event_end: datetime | None
    created_before: datetime | None
    description: str
    created_by: str
    created_at: datetime


class DatasetsOut(Wire):
    items: list[DatasetOut]
