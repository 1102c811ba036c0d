"""Check feature views against their real sources before anything is written.

``griffin features plan`` and ``apply`` read each view's source schema (no rows: DuckDB
describes a ``LIMIT 0`` query) and compare it with the definition, so a missing column or a
wrong type fails at ``plan`` with every problem listed, not hours later while building a
training set or materializing. Push sources with no history yet have nothing to check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import duckdb

from griffin.config import mask_url
from griffin.errors import BackendUnavailable, ConfigError, InvalidArgument, NotFound

from ..common import FeatureType
from ..definitions import FeatureView
from ..project import Definitions
from ..sources import PushSource, SqlSource
from .reader import source_clause, view_data

__all__ = [
    "SchemaProblem",
    "check_source_columns",
    "check_sources",
    "compatible",
    "describe",
    "raise_for_problems",
]

_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
_FLOAT = {"FLOAT", "DOUBLE", "REAL"}
# DuckDB type names each declared type accepts: values of these types are read without loss
# (an int32 column may hold TINYINT; a float64 feature may come from integers).
_ACCEPTS: dict[FeatureType, set[str]] = {
    FeatureType.BOOL: {"BOOLEAN"},
    FeatureType.INT32: {"TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT"},
    FeatureType.INT64: _INTEGER | {"UBIGINT", "HUGEINT"},
    FeatureType.FLOAT32: _FLOAT | {"TINYINT", "SMALLINT"},
    FeatureType.FLOAT64: _FLOAT | _INTEGER | {"DECIMAL"},
    FeatureType.STRING: {"VARCHAR"},
    FeatureType.BYTES: {"BLOB", "VARCHAR"},
    FeatureType.TIMESTAMP: {
        "TIMESTAMP",
        "TIMESTAMP WITH TIME ZONE",
        "TIMESTAMP_NS",
        "TIMESTAMP_MS",
        "TIMESTAMP_S",
        "DATE",
    },
}
_TIMESTAMPS = _ACCEPTS[FeatureType.TIMESTAMP]


@dataclass(frozen=True)
class SchemaProblem:
    """One mismatch between a view and its source."""

    view: str
    column: str
    problem: str

    def __str__(self) -> str:
        return f"feature view {self.view!r}: column {self.column!r} {self.problem}"


def compatible(declared: FeatureType, actual: str) -> bool:
    """Whether a source column of DuckDB type ``actual`` can hold ``declared`` values."""
    base = actual.split("(", 1)[0].strip().upper()
    return base in _ACCEPTS[declared]


def check_sources(
    definitions: Definitions,
    *,
    offline_root: str,
    project: str,
    environ: Mapping[str, str] | None = None,
) -> list[SchemaProblem]:
    """Every problem between the feature views of ``definitions`` and their sources.

    A source that cannot be read at all (no files, a database that is down, a failing query)
    is one problem for its view, so every view is still checked.
    """
    problems: list[SchemaProblem] = []
    con = duckdb.connect(":memory:")
    try:
        for index, view in enumerate(definitions.feature_views):
            problems.extend(_check_view(con, view, index, offline_root, project, environ))
    finally:
        con.close()
    return problems


def _check_view(
    con: duckdb.DuckDBPyConnection,
    view: FeatureView,
    index: int,
    offline_root: str,
    project: str,
    environ: Mapping[str, str] | None,
) -> list[SchemaProblem]:
    source = view.source
    if isinstance(source, PushSource) and source.batch_source is None:
        return []  # pushed rows are checked when they are pushed
    try:
        data = view_data(
            source, offline_root=offline_root, project=project, view=view.name, environ=environ
        )
        clause, _ = source_clause(con, data, f"schema_{index}", position=False)
        described = con.execute(f"DESCRIBE SELECT * FROM {clause} LIMIT 0").fetchall()
    except (duckdb.Error, BackendUnavailable, ConfigError, InvalidArgument, NotFound) as exc:
        message = getattr(exc, "message", None) or str(exc).splitlines()[0]
        return [SchemaProblem(view.name, "*", f"(the source) cannot be read: {message}")]
    columns = {str(row[0]): str(row[1]) for row in described}
    problems: list[SchemaProblem] = []

    def expect(column: str, dtype: FeatureType | None, role: str) -> None:
        if column not in columns:
            problems.append(SchemaProblem(view.name, column, f"({role}) is not in the source"))
        elif dtype is not None and not compatible(dtype, columns[column]):
            problems.append(
                SchemaProblem(
                    view.name,
                    column,
                    f"({role}) is declared {dtype.value} but the source has {columns[column]}",
                )
            )

    for entity in view.entities:
        for key in entity.join_keys:
            expect(key, entity.dtypes.get(key), f"join key of entity {entity.name!r}")
    for field in source.timestamp_fields:
        expect(field, FeatureType.TIMESTAMP, "timestamp")
    for feature in view.features:
        expect(feature.name, feature.dtype, "feature")
    return problems


def check_source_columns(source: SqlSource, environ: Mapping[str, str] | None = None) -> None:
    """Run ``source``'s query without reading rows and check its timestamp columns exist.

    Raises:
        InvalidArgument: the query fails, or a timestamp column is missing or not a timestamp.
        BackendUnavailable: its database cannot be reached.
    """
    columns = _query_columns(source, environ)
    for field in source.timestamp_fields:
        if field not in columns:
            known = ", ".join(sorted(columns)) or "none"
            raise InvalidArgument(
                f"sql source {source.name!r}: the query has no column {field!r} (it has {known})",
                details={"field": field},
            )
        actual = columns[field]
        if actual is not None and not compatible(FeatureType.TIMESTAMP, actual):
            raise InvalidArgument(
                f"sql source {source.name!r}: column {field!r} is {actual}, not a timestamp",
                details={"field": field},
            )


def _query_columns(source: SqlSource, environ: Mapping[str, str] | None) -> dict[str, str | None]:
    """Column name -> DuckDB type (``None`` when the database does not say) of the query."""
    if source.connection is None:
        con = duckdb.connect(":memory:")
        try:
            rows = con.execute(f"DESCRIBE SELECT * FROM ({source.query}) LIMIT 0").fetchall()
        except duckdb.Error as exc:
            raise InvalidArgument(
                f"sql source {source.name!r}: the query failed: {str(exc).splitlines()[0]}"
            ) from None
        finally:
            con.close()
        return {str(r[0]): str(r[1]) for r in rows}
    import sqlalchemy as sa

    from .reader import driver_url, expand_env

    url = expand_env(source.connection, environ)
    engine = sa.create_engine(driver_url(url))
    try:
        with engine.connect() as connection:
            result = connection.execute(sa.text(f"SELECT * FROM ({source.query}) AS q LIMIT 0"))
            return dict.fromkeys(result.keys())
    except sa.exc.OperationalError as exc:
        raise BackendUnavailable(
            f"sql source {source.name!r}: cannot reach {mask_url(url)}: {exc.orig}"
        ) from None
    except sa.exc.SQLAlchemyError as exc:
        raise InvalidArgument(
            f"sql source {source.name!r}: the query failed: {str(exc).splitlines()[0]}"
        ) from None
    finally:
        engine.dispose()


def describe(problems: list[SchemaProblem]) -> str:
    """One message listing every problem, for errors."""
    return f"{len(problems)} problem(s) between feature views and their sources:\n" + "\n".join(
        f"  - {p}" for p in problems
    )


def raise_for_problems(problems: list[SchemaProblem]) -> None:
    """Raise ``InvalidArgument`` listing ``problems``, if any."""
    if problems:
        raise InvalidArgument(
            describe(problems),
            details={
                "problems": [
                    {"view": p.view, "column": p.column, "problem": p.problem} for p in problems
                ]
            },
        )
