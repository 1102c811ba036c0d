"""Point-in-time-correct training data: entity rows + a feature selection -> a training set.

The one place training data is built. For each entity row and each feature view it takes the
latest feature row with ``timestamp <= event_timestamp`` (and within the view's TTL), in
DuckDB (:func:`griffin.features.offline.point_in_time_join`: ASOF joins over Arrow and
parquet, spilling to disk beyond memory). Rows without a match keep their place with nulls.
On-demand views then run through :meth:`Selection.finish`, the same code serving runs.

Entity rows are a pandas DataFrame, a pyarrow Table, a parquet path (file, folder or glob) or
a SQL query run by DuckDB. Timezone-naive timestamps are read as UTC.

This module reads sources itself (as Feast's SDK does): it needs only the definitions, the
offline root (for push logs) and the project name, never the metadata store.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

from griffin.domain.datasets import LINEAGE_KEY, FeatureRef, Lineage
from griffin.errors import InvalidArgument, NotFound

from .offline import ViewInput, point_in_time_join
from .offline.reader import view_data
from .project import Definitions
from .selection import FeatureRefs, Selection, select

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TrainingSet", "describe_entity_rows", "get_training_data", "read_entity_rows"]

_MAX_SOURCE_TEXT = 10_000
Versions = Mapping[tuple[str, str], int]


@dataclass(frozen=True)
class TrainingSet:
    """A point-in-time-correct training set and how it was built.

    Attributes:
        table: the entity rows' columns (labels kept as-is, event time in UTC), then one
            column per requested feature.
        lineage: the views and their registry versions, the entity source, the cutoff.
    """

    table: pa.Table
    lineage: Lineage

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    @property
    def event_range(self) -> tuple[datetime | None, datetime | None]:
        """The earliest and latest event timestamp (None when there are no rows)."""
        import pyarrow.compute as pc

        column = self.table.column(self.lineage.event_timestamp_column)
        bounds = pc.min_max(column)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        return _aware(low), _aware(high)

    def to_arrow(self) -> pa.Table:
        """The training set as a ``pyarrow.Table``."""
        return self.table

    def to_pandas(self) -> pd.DataFrame:
        """The training set as a pandas DataFrame."""
        frame: pd.DataFrame = self.table.to_pandas()
        return frame

    def with_lineage_metadata(self) -> pa.Table:
        """The table with the lineage as JSON in its schema metadata (key ``griffin.dataset``)."""
        metadata = dict(self.table.schema.metadata or {})
        metadata[LINEAGE_KEY.encode()] = orjson.dumps(self.lineage.to_json())
        return self.table.replace_schema_metadata(metadata)

    def to_parquet(self, path: str | Path) -> Path:
        """Write the training set as one parquet file, lineage in its metadata; returns it."""
        import pyarrow.parquet as pq

        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(self.with_lineage_metadata(), target)
        return target

    def to_parquet_bytes(self) -> bytes:
        """The parquet file :meth:`to_parquet` writes, in memory."""
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(self.with_lineage_metadata(), buffer)
        return buffer.getvalue()


def get_training_data(
    definitions: Definitions,
    entity_rows: Any,
    features: FeatureRefs,
    *,
    offline_root: str,
    project: str,
    full_names: bool = False,
    created_before: datetime | None = None,
    event_timestamp_column: str = "event_timestamp",
    versions: Versions | None = None,
    environ: Mapping[str, str] | None = None,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
) -> TrainingSet:
    """Join ``features`` onto ``entity_rows`` as of each row's event timestamp.

    Args:
        definitions: where feature names are looked up; on-demand views need their functions
            (the project's own definitions, not ones rebuilt from the registry).
        entity_rows: a DataFrame, a pyarrow Table, a parquet path or a SQL query (text
            starting with SELECT or WITH) with the join keys and the event timestamp.
        features: a feature service (name or object) or a list of ``"view:feature"``,
            ``"view"``, view objects and on-demand views.
        offline_root: where push logs are kept.
        project: the project whose push logs are read.
        full_names: name feature columns ``view__feature``.
        created_before: ignore feature rows created at or after this time (naive: UTC).
        event_timestamp_column: the entity rows' event time column.
        versions: registry versions by ``(kind, name)``, recorded in the lineage.
        environ: where ``${VAR}`` placeholders of SQL source connections are read.
        memory_limit: DuckDB's memory limit (e.g. ``"8GB"``); beyond it the join spills.
        temp_directory: where DuckDB spills.

    Raises:
        InvalidArgument: an unknown feature, view or service (naming the closest names), a
            missing join key, event timestamp or request field, or a failing query.
        NotFound: a parquet path of entity rows does not exist.
    """
    selection = select(definitions, features, full_names=full_names)
    entities = read_entity_rows(entity_rows)
    inputs: list[tuple[ViewInput, list[str]]] = []
    for part in selection.views:
        view = part.view
        data = view_data(
            view.source,
            offline_root=offline_root,
            project=project,
            view=view.name,
            environ=environ,
        )
        spec = ViewInput(
            view.name,
            list(view.join_keys),
            list(part.features),
            view.source.timestamp_field,
            data,
            created_timestamp_field=view.source.created_timestamp_field,
            ttl=view.ttl,
            # Serving answers a missing entity with the declared default: so must training.
            defaults=[view.feature(f).default for f in part.features],
        )
        inputs.append((spec, list(part.columns)))
    cutoff = None if created_before is None else _aware(created_before)
    joined = point_in_time_join(
        entities,
        inputs,
        event_timestamp_column=event_timestamp_column,
        created_before=cutoff,
        memory_limit=memory_limit,
        temp_directory=temp_directory,
    )
    table = _finish(selection, joined, list(entities.column_names))
    lineage = _lineage(selection, versions or {}, entity_rows, event_timestamp_column, cutoff)
    return TrainingSet(table, lineage)


def _finish(selection: Selection, joined: pa.Table, entity_columns: list[str]) -> pa.Table:
    """Run the on-demand views (via ``Selection.finish``) and order the output columns."""
    if selection.on_demand:
        needed = dict.fromkeys(c for p in selection.on_demand for c in p.inputs.values())
        # Only the inputs go through pandas: the other columns keep their Arrow types. A
        # missing request field is left out here, and finish() names it.
        frame = joined.select([c for c in needed if c in joined.column_names]).to_pandas()
        frame = selection.finish(frame)
        for part in selection.on_demand:
            for feature, column in zip(part.features, part.columns, strict=True):
                if column in joined.column_names:
                    raise InvalidArgument(
                        f"output column {column!r} of on-demand feature view {part.name!r} "
                        "collides with a column of the entity rows; rename that column or "
                        "pass full_names=True",
                        details={"column": column, "view": part.name},
                    )
                dtype = part.view.features[part.view.feature_names.index(feature)].dtype
                values = pa.Array.from_pandas(frame[column])
                try:
                    values = values.cast(dtype.arrow_type())
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise InvalidArgument(
                        f"on-demand feature view {part.name!r}: feature {feature!r} is declared "
                        f"{dtype} but the function returned {values.type}: {exc}",
                        details={"view": part.name, "feature": feature},
                    ) from None
                joined = joined.append_column(column, values)
    return joined.select([*entity_columns, *selection.columns])


def _lineage(
    selection: Selection,
    versions: Versions,
    entity_rows: Any,
    event_timestamp_column: str,
    cutoff: datetime | None,
) -> Lineage:
    refs = tuple(
        FeatureRef(
            kind=str(ref["kind"]),
            view=str(ref["view"]),
            features=tuple(ref["features"]),
            version=versions.get((str(ref["kind"]), str(ref["view"]))),
        )
        for ref in selection.refs()
    )
    service = selection.service
    return Lineage(
        features=refs,
        feature_service=service,
        feature_service_version=None
        if service is None
        else versions.get(("feature_service", service)),
        entity_source=describe_entity_rows(entity_rows),
        event_timestamp_column=event_timestamp_column,
        join_keys=selection.join_keys,
        feature_columns=selection.columns,
        created_before=cutoff,
    )


def _is_sql(value: str) -> bool:
    head = value.lstrip().split(None, 1)
    return bool(head) and head[0].upper() in ("SELECT", "WITH")


def describe_entity_rows(rows: Any) -> str:
    """A short description of entity rows for lineage: size, path or the SQL text."""
    if isinstance(rows, pa.Table):
        return f"arrow table ({rows.num_rows} rows)"
    if isinstance(rows, Path) or (isinstance(rows, str) and not _is_sql(rows)):
        return str(rows)
    if isinstance(rows, str):
        text = rows.strip()
        return text if len(text) <= _MAX_SOURCE_TEXT else text[: _MAX_SOURCE_TEXT - 3] + "..."
    return f"dataframe ({len(rows)} rows)"


def read_entity_rows(rows: Any) -> pa.Table:
    """Entity rows as an Arrow table: from a DataFrame, a Table, a parquet path or SQL.

    Raises:
        InvalidArgument: an unsupported type, or a query that fails.
        NotFound: no parquet file at the path.
    """
    if isinstance(rows, pa.Table):
        return rows
    if isinstance(rows, str | Path):
        text = str(rows)
        if isinstance(rows, str) and _is_sql(text):
            return _duckdb_table(text, "the entity rows query")
        return _parquet_rows(text)
    import pandas as pd

    if isinstance(rows, pd.DataFrame):
        return pa.Table.from_pandas(rows, preserve_index=False)
    raise InvalidArgument(
        "entity_rows must be a pandas DataFrame, a pyarrow Table, a parquet path or a SQL "
        f"query (SELECT ... or WITH ...), got {type(rows).__name__}",
        details={"field": "entity_rows"},
    )


def _parquet_rows(path: str) -> pa.Table:
    local = Path(path).expanduser()
    if local.is_dir():
        pattern = str(local / "**" / "*.parquet")
    elif local.is_file() or any(ch in path for ch in "*?["):
        pattern = str(local)
    else:
        raise NotFound(
            f"entity_rows: no parquet file or folder at {path!r}",
            details={"field": "entity_rows", "path": path},
        )
    quoted = pattern.replace("'", "''")
    return _duckdb_table(
        f"SELECT * FROM read_parquet('{quoted}', union_by_name = true)",
        f"reading entity rows from {path!r}",
    )


def _duckdb_table(query: str, what: str) -> pa.Table:
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        result = con.sql(query)
        if result is None:
            raise InvalidArgument(f"{what} returned no rows: it must be a SELECT")
        fetch = getattr(result, "to_arrow_table", None) or result.arrow  # DuckDB 1.x: arrow
        table = fetch()
        if isinstance(table, pa.RecordBatchReader):
            table = table.read_all()
    except duckdb.Error as exc:
        raise InvalidArgument(f"{what} failed: {exc}", details={"field": "entity_rows"}) from None
    finally:
        con.close()
    return table


def _aware(value: datetime | None) -> datetime | None:
    """Naive datetimes are UTC; aware ones are converted to UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
