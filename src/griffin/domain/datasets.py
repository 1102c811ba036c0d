"""Saved training datasets: the snapshots a training run names, and how they were built.

A :class:`Dataset` is one version of a named training set in the "offline feature store"
part of the metadata: its row count, per-column statistics, the feature views (and their
registry versions) that built it, the entity rows it started from and its event time range.
:class:`Lineage` is what the SDK knows when it builds a training set; it travels inside the
parquet file (schema metadata under :data:`LINEAGE_KEY`), so one upload carries both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from griffin.errors import InvalidArgument, NotFound

__all__ = ["LINEAGE_KEY", "ColumnStats", "Dataset", "FeatureRef", "Lineage"]

LINEAGE_KEY = "griffin.dataset"
Role = Literal["entity_key", "timestamp", "label", "feature"]
_ROLES = ("entity_key", "timestamp", "label", "feature")


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _number(value: Any) -> float | None:
    # Non-finite statistics travel as the strings "NaN", "Infinity", "-Infinity".
    return None if value is None else float(value)


def json_number(value: float | None) -> float | str | None:
    """``value`` for a JSON document: NaN and infinities as strings (JSON has none)."""
    if value is None or math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


@dataclass(frozen=True, slots=True)
class FeatureRef:
    """Features read from one view: its kind, name, registry version (None if unknown)."""

    kind: str
    view: str
    features: tuple[str, ...]
    version: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "view": self.view,
            "version": self.version,
            "features": list(self.features),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureRef:
        version = data.get("version")
        return cls(
            kind=str(data["kind"]),
            view=str(data["view"]),
            features=tuple(str(f) for f in data["features"]),
            version=None if version is None else int(version),
        )


@dataclass(frozen=True, slots=True)
class Lineage:
    """How a training set was built, as the SDK knows it.

    Attributes:
        features: the views read, in request order, with their registry versions.
        feature_service: the feature service asked for, if one was.
        feature_service_version: its registry version, when known.
        entity_source: the entity rows: ``"dataframe (N rows)"``, a parquet path or SQL text.
        event_timestamp_column: the entity rows' event time column.
        join_keys: the entity key columns the views were joined on.
        feature_columns: the output feature columns, in order.
        created_before: the ``created_before`` cutoff, if one was given.
    """

    features: tuple[FeatureRef, ...] = ()
    feature_service: str | None = None
    feature_service_version: int | None = None
    entity_source: str = ""
    event_timestamp_column: str = "event_timestamp"
    join_keys: tuple[str, ...] = ()
    feature_columns: tuple[str, ...] = ()
    created_before: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "features": [f.to_json() for f in self.features],
            "feature_service": self.feature_service,
            "feature_service_version": self.feature_service_version,
            "entity_source": self.entity_source,
            "event_timestamp_column": self.event_timestamp_column,
            "join_keys": list(self.join_keys),
            "feature_columns": list(self.feature_columns),
            "created_before": None
            if self.created_before is None
            else self.created_before.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Any) -> Lineage:
        """Parse lineage that arrived from elsewhere (a file's metadata).

        Raises:
            InvalidArgument: the document does not have the expected shape.
        """
        try:
            if not isinstance(data, dict):
                raise TypeError("not an object")
            version = data.get("feature_service_version")
            service = data.get("feature_service")
            return cls(
                features=tuple(FeatureRef.from_json(f) for f in data.get("features", [])),
                feature_service=None if service is None else str(service),
                feature_service_version=None if version is None else int(version),
                entity_source=str(data.get("entity_source", "")),
                event_timestamp_column=str(data.get("event_timestamp_column", "event_timestamp")),
                join_keys=tuple(str(k) for k in data.get("join_keys", [])),
                feature_columns=tuple(str(c) for c in data.get("feature_columns", [])),
                created_before=_time(data.get("created_before")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidArgument(
                f"the dataset's '{LINEAGE_KEY}' metadata is malformed: {exc}",
                details={"field": LINEAGE_KEY},
            ) from None

    def role(self, column: str) -> Role:
        """What ``column`` is in the training set: key, event time, feature or label."""
        if column == self.event_timestamp_column:
            return "timestamp"
        if column in self.join_keys:
            return "entity_key"
        if column in self.feature_columns:
            return "feature"
        return "label"


@dataclass(frozen=True, slots=True)
class ColumnStats:
    """One column of a saved dataset and its statistics.

    ``count`` is the non-null values, ``distinct`` an approximate distinct count. ``min`` and
    ``max`` are numbers for numeric columns and ISO 8601 strings (UTC) for timestamps and
    dates; ``mean`` and ``stddev`` (sample) are set for numeric columns only.
    """

    name: str
    type: str
    role: Role
    count: int
    nulls: int
    distinct: int | None = None
    min: float | int | str | None = None
    max: float | int | str | None = None
    mean: float | None = None
    stddev: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "role": self.role,
            "count": self.count,
            "nulls": self.nulls,
            "distinct": self.distinct,
            "min": json_number(self.min) if isinstance(self.min, float) else self.min,
            "max": json_number(self.max) if isinstance(self.max, float) else self.max,
            "mean": json_number(self.mean),
            "stddev": json_number(self.stddev),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ColumnStats:
        role = data.get("role", "label")
        numeric = data.get("mean") is not None or data.get("stddev") is not None

        def bound(value: Any) -> float | int | str | None:
            if numeric and isinstance(value, str):
                return float(value)
            return value  # type: ignore[no-any-return]

        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            role=role if role in _ROLES else "label",
            count=int(data["count"]),
            nulls=int(data["nulls"]),
            distinct=None if data.get("distinct") is None else int(data["distinct"]),
            min=bound(data.get("min")),
            max=bound(data.get("max")),
            mean=_number(data.get("mean")),
            stddev=_number(data.get("stddev")),
        )


@dataclass(frozen=True, slots=True)
class Dataset:
    """One saved version of a named training dataset.

    Attributes:
        id: opaque id of this version.
        version: 1 for the first save of ``name``, then one more per save.
        columns: every column, in file order, with its role and statistics.
        features: the views that built it, with their registry versions (None if unknown,
            e.g. built from local definitions that differ from the registry).
        entity_source: what the entity rows were (``"dataframe (N rows)"``, a path, SQL).
        event_start, event_end: the range of the event timestamp column.
        sha256: of the stored parquet file, checked on every download.
    """

    id: str
    project: str
    name: str
    version: int
    format: str
    row_count: int
    size_bytes: int
    sha256: str
    columns: tuple[ColumnStats, ...]
    features: tuple[FeatureRef, ...]
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

    def column(self, name: str) -> ColumnStats:
        """The statistics of one column.

        Raises:
            NotFound: the dataset has no such column.
        """
        for column in self.columns:
            if column.name == name:
                return column
        raise NotFound(
            f"dataset '{self.name}' v{self.version} has no column {name!r}; it has "
            f"{', '.join(repr(c.name) for c in self.columns)}",
            details={"name": self.name, "column": name},
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Dataset:
        service_version = data.get("feature_service_version")
        created_at = _time(data["created_at"])
        assert created_at is not None
        return cls(
            id=str(data["id"]),
            project=str(data["project"]),
            name=str(data["name"]),
            version=int(data["version"]),
            format=str(data.get("format", "parquet")),
            row_count=int(data["row_count"]),
            size_bytes=int(data["size_bytes"]),
            sha256=str(data.get("sha256", "")),
            columns=tuple(ColumnStats.from_json(c) for c in data.get("columns", [])),
            features=tuple(FeatureRef.from_json(f) for f in data.get("features", [])),
            feature_service=data.get("feature_service"),
            feature_service_version=None if service_version is None else int(service_version),
            entity_source=str(data.get("entity_source", "")),
            event_timestamp_column=str(data.get("event_timestamp_column", "")),
            event_start=_time(data.get("event_start")),
            event_end=_time(data.get("event_end")),
            created_before=_time(data.get("created_before")),
            description=str(data.get("description", "")),
            created_by=str(data.get("created_by", "")),
            created_at=created_at,
        )
