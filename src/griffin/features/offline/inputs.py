"""What the point-in-time join needs to know about one feature view's data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from griffin.errors import InvalidArgument

__all__ = ["POS", "RANK", "ROW", "SEQ", "TS", "SqlData", "ViewInput", "quote"]

# Internal column names; entity rows and feature data may not use them.
ROW = "__griffin_row"
SEQ = "__griffin_seq"
TS = "__griffin_ts"
RANK = "__griffin_rank"
POS = "__griffin_pos"


def quote(identifier: str) -> str:
    """``identifier`` as a quoted SQL identifier (names are validated upstream; still quoted)."""
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class SqlData:
    """A query DuckDB runs to produce a view's rows, and the Arrow objects it reads by name."""

    sql: str
    tables: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class ViewInput:
    """One feature view's data as the point-in-time join reads it.

    Args:
        name: the view's name (used in error messages).
        join_keys: the key columns, present under the same names in the entity rows.
        features: the feature columns to join (the requested subset).
        timestamp_field: the data's event-time column.
        data: a ``pyarrow.Table``, a local parquet path or glob, or a :class:`SqlData`.
        created_timestamp_field: the data's write-time column (tie-breaker and the column
            ``created_before`` filters on), if any.
        ttl: how far back a row stays valid; ``None`` means no limit.
        prefix: prepended to every output column name (``"driver__"``).
        output_names: one output column name per feature, instead of the feature names.
        defaults: one value per feature served when an entity row has no fresh feature row
            (the features' declared ``default``, as online serving does); ``None`` entries,
            or no list, leave such rows null.
        tie_break_by_position: break ties left after the created timestamp by position in
            the data (later rows win). Set ``False`` only when ``(join keys, timestamp,
            created timestamp)`` is known to be unique: it saves one pass over the data.
            SQL data has no stable position and is never tie-broken by it.
    """

    name: str
    join_keys: Sequence[str]
    features: Sequence[str]
    timestamp_field: str
    data: Any
    created_timestamp_field: str | None = None
    ttl: timedelta | None = None
    prefix: str = ""
    output_names: Sequence[str] | None = None
    defaults: Sequence[Any] | None = None
    tie_break_by_position: bool = field(default=True)

    def __post_init__(self) -> None:
        where = f"feature view {self.name!r}"
        if isinstance(self.join_keys, str) or not self.join_keys:
            raise InvalidArgument(f"{where}: join_keys must be a non-empty list of column names")
        if isinstance(self.features, str):
            raise InvalidArgument(f"{where}: features must be a list of column names")
        if len(set(self.features)) != len(self.features):
            raise InvalidArgument(f"{where}: features lists a column twice")
        if self.ttl is not None and self.ttl <= timedelta(0):
            raise InvalidArgument(f"{where}: ttl must be positive, got {self.ttl}")
        if self.defaults is not None and len(self.defaults) != len(self.features):
            raise InvalidArgument(
                f"{where}: {len(self.defaults)} defaults for {len(self.features)} features"
            )
        if self.output_names is not None and len(self.output_names) != len(self.features):
            raise InvalidArgument(
                f"{where}: {len(self.output_names)} output names for {len(self.features)} features"
            )
        import pyarrow as pa

        if not isinstance(self.data, pa.Table | str | Path | SqlData):
            raise InvalidArgument(
                f"{where}: data must be a pyarrow.Table, a parquet path or SqlData, "
                f"got {type(self.data).__name__}"
            )
        internal = {POS, RANK, ROW, SEQ, TS}
        for column in (*self.join_keys, *self.features, self.timestamp_field):
            if column in internal:
                raise InvalidArgument(f"{where}: column name {column!r} is reserved")

    def output_names_or_default(self) -> list[str]:
        """The output column of each feature: ``prefix`` + its output name or feature name."""
        names = self.features if self.output_names is None else self.output_names
        return [self.prefix + n for n in names]
