"""Point-in-time-correct training data: one DuckDB ``ASOF LEFT JOIN`` per feature view.

For every entity row and every view the join takes the latest feature row with the same join
keys and ``timestamp <= event_timestamp`` (and, with a TTL, ``event_timestamp - ttl <
timestamp``). Ties on the timestamp go to the greater created timestamp, then to the row that
comes later in the data (later file, later row), so the result is deterministic. Entity rows
without a match keep their place with null features: rows are never dropped, duplicated or
reordered.

Everything runs inside one in-memory DuckDB connection over Arrow tables or parquet files, with
a spill directory so joins larger than memory go out of core. Timezone-naive timestamps are read
as UTC; aware ones are converted to UTC; output timestamps are UTC (microsecond precision).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from griffin.errors import InvalidArgument

from .inputs import RANK, ROW, TS, SqlData, ViewInput, quote
from .reader import position_probe, source_clause

__all__ = ["SqlData", "ViewInput", "point_in_time_join"]


def point_in_time_join(
    entity_rows: Any,
    views: Sequence[ViewInput | tuple[ViewInput, Sequence[str]]],
    *,
    event_timestamp_column: str = "event_timestamp",
    created_before: datetime | None = None,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
    threads: int | None = None,
) -> pa.Table:
    """Join the features of ``views`` onto ``entity_rows`` as of each row's event timestamp.

    Args:
        entity_rows: a ``pyarrow.Table`` or pandas ``DataFrame`` with every view's join keys,
            the event timestamp column and any other columns (labels), which are kept as-is.
        views: the feature views to join, each a ``ViewInput`` or a ``(ViewInput,
            output_names)`` pair naming the output column of each of its ``features``.
        event_timestamp_column: the entity rows' timestamp column.
        created_before: when given, feature rows created at or after it are ignored (keeps
            backfilled rows out of earlier training rows); views without a created-timestamp
            column are not filtered.
        memory_limit: DuckDB's memory limit, e.g. ``"8GB"``; ``None`` keeps DuckDB's default
            (80% of RAM). Beyond it DuckDB spills to ``temp_directory``.
        temp_directory: where DuckDB spills; default a fresh temporary directory.
        threads: DuckDB worker threads; ``None`` uses every core.

    Returns:
        A ``pyarrow.Table`` with the entity rows in their input order: all their columns
        (event timestamp as UTC), then each requested feature (null when no row matched).

    Raises:
        InvalidArgument: a join key, timestamp or feature column is missing, or two output
            columns have the same name.
    """
    entities = _entity_table(entity_rows, event_timestamp_column)
    pairs = [v if isinstance(v, tuple) else (v, v.output_names_or_default()) for v in views]
    _check_outputs(entities, pairs)
    cutoff = None if created_before is None else _utc(created_before)
    with tempfile.TemporaryDirectory(prefix="griffin-pit-") as spill:
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"SET temp_directory = '{_literal(str(temp_directory or spill))}'")
            if memory_limit is not None:
                con.execute(f"SET memory_limit = '{_literal(memory_limit)}'")
            if threads is not None:
                con.execute(f"SET threads = {int(threads)}")
            con.register("griffin_entities", entities)
            joins, selects = [], []
            for index, (view, names) in enumerate(pairs):
                alias = f"f{index}"
                con.execute(f"CREATE TEMP VIEW {alias} AS {_feature_sql(con, view, cutoff, alias)}")
                joins.append(_asof_sql(view, alias, event_timestamp_column))
                mask = _ttl_mask(view, alias, event_timestamp_column)
                defaults = view.defaults or [None] * len(view.features)
                for feature, name, default in zip(view.features, names, defaults, strict=True):
                    column = f"{alias}.{quote(feature)}"
                    selects.append(f"{_value(column, alias, mask, default)} AS {quote(name)}")
            # Only the feature columns come back from DuckDB, sorted into input order there
            # (parallel, on one integer; cheaper than permuting in Arrow); the entity columns
            # are the input's own, already in order, and are not copied through the join.
            query = (
                f"SELECT {', '.join(selects) or 'NULL AS none'} "
                f"FROM griffin_entities e {' '.join(joins)} ORDER BY e.{quote(ROW)}"
            )
            features = _to_arrow(con.sql(query))
            result = entities.drop_columns([ROW])
            for name in features.column_names if selects else []:
                result = result.append_column(name, features.column(name))
        except duckdb.Error as exc:
            raise InvalidArgument(f"point-in-time join failed: {exc}") from None
        finally:
            con.close()
    return result


def _entity_table(rows: Any, ts_column: str) -> pa.Table:
    """The entity rows as Arrow with the event timestamp in UTC and a trailing row number."""
    if not isinstance(rows, pa.Table):
        import pandas as pd

        if not isinstance(rows, pd.DataFrame):
            raise InvalidArgument(
                f"entity_rows must be a pyarrow.Table or pandas.DataFrame, "
                f"got {type(rows).__name__}"
            )
        rows = pa.Table.from_pandas(rows, preserve_index=False)
    if ts_column not in rows.column_names:
        raise InvalidArgument(
            f"entity_rows has no event timestamp column {ts_column!r}",
            details={"field": ts_column},
        )
    if ROW in rows.column_names:
        raise InvalidArgument(f"entity_rows may not have a column named {ROW}")
    column = rows.column(ts_column)
    if not pa.types.is_timestamp(column.type):
        raise InvalidArgument(
            f"entity_rows column {ts_column!r} must hold timestamps, got {column.type}",
            details={"field": ts_column},
        )
    utc = column.cast(pa.timestamp("us", tz="UTC"), safe=False)
    rows = rows.set_column(rows.column_names.index(ts_column), ts_column, utc)
    return rows.append_column(ROW, pa.array(np.arange(rows.num_rows, dtype=np.int64)))


def _check_outputs(entities: pa.Table, pairs: Sequence[tuple[ViewInput, Sequence[str]]]) -> None:
    """Raise on a missing join key or on two output columns with the same name."""
    owners = dict.fromkeys(entities.column_names[:-1], "entity_rows")
    for view, names in pairs:
        for key in view.join_keys:
            if key not in owners or owners[key] != "entity_rows":
                raise InvalidArgument(
                    f"entity_rows has no join key column {key!r} needed by feature view "
                    f"{view.name!r}",
                    details={"field": key, "view": view.name},
                )
        if len(names) != len(view.features):
            raise InvalidArgument(
                f"feature view {view.name!r}: {len(names)} output names for "
                f"{len(view.features)} features"
            )
        for feature, name in zip(view.features, names, strict=True):
            where = f"feature view {view.name!r} ({feature!r})"
            if name in owners:
                other = owners[name]
                raise InvalidArgument(
                    f"output column {name!r} of {where} collides with {other}; "
                    "pass output names or a prefix",
                    details={"column": name, "views": [view.name, other]},
                )
            owners[name] = where


def _feature_sql(
    con: duckdb.DuckDBPyConnection, view: ViewInput, cutoff: datetime | None, alias: str
) -> str:
    """A relation with the view's keys, features, UTC timestamp: filtered, one row per key/ts."""
    source, order = source_clause(
        con, view.data, f"{alias}_data", position=view.tie_break_by_position
    )
    available = _columns(con, source)
    for column in (*view.join_keys, view.timestamp_field, *view.features):
        if column not in available:
            raise InvalidArgument(
                f"feature view {view.name!r}: its data has no column {column!r}",
                details={"view": view.name, "field": column},
            )
    created = view.created_timestamp_field
    if created is not None and created not in available:
        raise InvalidArgument(
            f"feature view {view.name!r}: its data has no created timestamp column {created!r}",
            details={"view": view.name, "field": created},
        )
    keys = [quote(k) for k in view.join_keys]
    wanted = dict.fromkeys([*keys, *(quote(f) for f in view.features)])
    ts = f"CAST({quote(view.timestamp_field)} AS TIMESTAMPTZ)"
    where = [f"{quote(view.timestamp_field)} IS NOT NULL"]
    ranks = [ts]
    if created is not None:
        created_ts = f"CAST({quote(created)} AS TIMESTAMPTZ)"
        ranks.append(f"coalesce({created_ts}, '-infinity'::TIMESTAMPTZ)")
        if cutoff is not None:
            where.append(f"({created_ts} IS NULL OR {created_ts} < '{cutoff.isoformat()}')")
    ranks.extend(order)
    # Ties are broken inside the ASOF join itself: it orders on the struct (timestamp, created,
    # position), so no window pass over the data is needed.
    rank = ranks[0] if len(ranks) == 1 else _struct(ranks)
    return (
        f"SELECT {', '.join(wanted)}, {ts} AS {TS}, {rank} AS {RANK} "
        f"FROM {source} WHERE {' AND '.join(where)}"
    )


def _struct(values: Sequence[str]) -> str:
    return "{" + ", ".join(f"'r{i}': {v}" for i, v in enumerate(values)) + "}"


def _probe(view: ViewInput, ts_column: str) -> str:
    """The entity-side value the ASOF join compares ``RANK`` against."""
    event = f"e.{quote(ts_column)}"
    ranks = [event]
    if view.created_timestamp_field is not None:
        ranks.append("'infinity'::TIMESTAMPTZ")
    ranks.extend(position_probe(view.data, view.tie_break_by_position))
    if len(ranks) == 1:
        return event
    # A struct with a null field still compares, so a null event time must null the probe.
    return f"CASE WHEN {event} IS NOT NULL THEN {_struct(ranks)} END"


def _columns(con: duckdb.DuckDBPyConnection, source: str) -> set[str]:
    return {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}


def _asof_sql(view: ViewInput, alias: str, ts_column: str) -> str:
    keys = " AND ".join(f"e.{quote(k)} = {alias}.{quote(k)}" for k in view.join_keys)
    return f"ASOF LEFT JOIN {alias} ON {keys} AND {_probe(view, ts_column)} >= {alias}.{RANK}"


def _ttl_mask(view: ViewInput, alias: str, ts_column: str) -> str | None:
    """The condition under which a joined row is fresh enough, or None without a TTL."""
    if view.ttl is None:
        return None
    micros = round(view.ttl.total_seconds() * 1_000_000)
    return f"{alias}.{TS} > e.{quote(ts_column)} - to_microseconds({micros})"


def _value(column: str, alias: str, mask: str | None, default: Any) -> str:
    """A feature's output: the joined value when a fresh row matched, else the default."""
    if default is None:
        return column if mask is None else f"CASE WHEN {mask} THEN {column} END"
    fresh = f"{alias}.{TS} IS NOT NULL" + ("" if mask is None else f" AND {mask}")
    return f"CASE WHEN {fresh} THEN {column} ELSE {_sql_literal(default)} END"


def _sql_literal(value: Any) -> str:
    """A default value (a JSON scalar, checked against the feature's type) as SQL."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)  # an untyped literal takes the column's type in the CASE
    if isinstance(value, float):
        # repr round-trips; nan and inf only parse quoted.
        return repr(value) if math.isfinite(value) else f"'{value!r}'::DOUBLE"
    if isinstance(value, str):
        return f"'{_literal(value)}'"
    raise InvalidArgument(f"a feature default must be a number, string or bool, not {value!r}")


def _to_arrow(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    table = fetch()
    return table.read_all() if isinstance(table, pa.RecordBatchReader) else table


def _utc(value: datetime) -> datetime:
    """Aware datetimes converted to UTC; naive ones read as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _literal(value: str) -> str:
    return value.replace("'", "''")
