"""Data checks and type checks of a batch of feature rows, before anything is written.

:func:`run_checks` evaluates a view's checks (:mod:`griffin.features.checks`) with DuckDB over
an Arrow table: one aggregate query per check, never a Python loop over rows. Each failure
names the check, its columns, how many rows fail and up to five examples (the failing rows'
join keys and values). :func:`conform` checks and casts incoming columns (pushed rows) to the
view's declared types.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pyarrow as pa

from griffin.domain.feature_states import MAX_EXAMPLES, CheckFailure, CheckReport
from griffin.errors import InvalidArgument

from .checks import Allowed, Check, Freshness, InRange, MaxNullFraction, NotNull, Unique
from .common import FeatureType
from .definitions import FeatureView
from .offline.inputs import quote

__all__ = ["check_window", "column_types", "conform", "run_checks"]

_TABLE = "griffin_batch"


def run_checks(view: FeatureView, table: pa.Table, *, now: datetime) -> CheckReport:
    """Evaluate ``view.checks`` on ``table`` (one row per record to be written).

    Args:
        view: the view whose checks run; the timestamp column is its source's
            ``timestamp_field``.
        table: the rows, with the columns the checks read.
        now: the time the ``freshness`` check measures age from.

    Raises:
        InvalidArgument: a check reads a column the table does not have, or cannot run on
            the column's type (e.g. ``allowed`` strings on a numeric column).
    """
    names = tuple(c.name for c in view.checks)
    if not view.checks or table.num_rows == 0:
        return CheckReport(view.name, table.num_rows, names)
    missing = sorted({c for check in view.checks for c in check.columns} - set(table.column_names))
    if missing:
        raise InvalidArgument(
            f"feature view {view.name!r}: its checks read {', '.join(map(repr, missing))}, "
            "which the rows do not have",
            details={"view": view.name, "missing": missing},
        )
    keys = [k for k in view.join_keys if k in table.column_names]
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register(_TABLE, table)
        failures = []
        for check in view.checks:
            try:
                found = _evaluate(con, view, check, table, keys, now)
            except duckdb.Error as exc:
                raise InvalidArgument(
                    f"feature view {view.name!r}: check {check.name} could not run: {exc}",
                    details={"view": view.name, "check": check.spec()},
                ) from None
            if found is not None:
                failures.append(found)
    finally:
        con.close()
    return CheckReport(view.name, table.num_rows, names, tuple(failures))


def _evaluate(
    con: duckdb.DuckDBPyConnection,
    view: FeatureView,
    check: Check,
    table: pa.Table,
    keys: list[str],
    now: datetime,
) -> CheckFailure | None:
    rows = table.num_rows
    if isinstance(check, NotNull):
        return _failing(con, check, rows, keys, f"{quote(check.column)} IS NULL", "are null")
    if isinstance(check, InRange):
        column = quote(check.column)
        bad = []
        if check.min is not None:
            bad.append(f"{column} < {check.min!r}")
        if check.max is not None:
            bad.append(f"{column} > {check.max!r}")
        if pa.types.is_floating(table.schema.field(check.column).type):
            bad.append(f"isnan({column})")
        bounds = f"[{_bound(check.min)}, {_bound(check.max)}]"
        return _failing(con, check, rows, keys, " OR ".join(bad), f"are outside {bounds}")
    if isinstance(check, Allowed):
        values = ", ".join(_literal(v) for v in check.values)
        condition = f"{quote(check.column)} IS NOT NULL AND {quote(check.column)} NOT IN ({values})"
        shown = ", ".join(map(repr, check.values[:10])) + (
            ", ..." if len(check.values) > 10 else ""
        )
        return _failing(con, check, rows, keys, condition, f"are not one of {shown}")
    if isinstance(check, Unique):
        return _unique(con, check, rows)
    if isinstance(check, MaxNullFraction):
        nulls = _count(con, f"{quote(check.column)} IS NULL")
        if nulls / rows <= check.fraction:
            return None
        return CheckFailure(
            check.name,
            check.columns,
            nulls,
            rows,
            f"{nulls} of {rows} rows ({nulls / rows:.1%}) are null; at most "
            f"{check.fraction:.1%} may be",
            _examples(con, keys, [check.column], f"{quote(check.column)} IS NULL"),
        )
    if isinstance(check, Freshness):
        return _freshness(con, view, check, rows, now)
    raise InvalidArgument(f"unknown check {check.name!r}")  # pragma: no cover


def _failing(
    con: duckdb.DuckDBPyConnection,
    check: NotNull | InRange | Allowed,
    rows: int,
    keys: list[str],
    condition: str,
    problem: str,
) -> CheckFailure | None:
    count = _count(con, condition)
    if count == 0:
        return None
    return CheckFailure(
        check.name,
        check.columns,
        count,
        rows,
        f"{count} of {rows} rows {problem}",
        _examples(con, keys, [check.column], condition),
    )


def _unique(con: duckdb.DuckDBPyConnection, check: Unique, rows: int) -> CheckFailure | None:
    columns = ", ".join(quote(c) for c in check.keys)
    duplicated = f"SELECT {columns}, count(*) AS n FROM {_TABLE} GROUP BY ALL HAVING count(*) > 1"
    [found] = _all(con, f"SELECT count(*), coalesce(sum(n), 0) FROM ({duplicated})")
    groups, count = int(found[0]), int(found[1])
    if groups == 0:
        return None
    found_rows = _all(con, f"{duplicated} ORDER BY n DESC, {columns} LIMIT {MAX_EXAMPLES}")
    examples = tuple(
        {**_row(check.keys, values[:-1]), "count": int(values[-1])} for values in found_rows
    )
    return CheckFailure(
        check.name,
        check.columns,
        count,
        rows,
        f"{count} of {rows} rows share their ({', '.join(check.keys)}) with another row "
        f"({groups} duplicated values)",
        examples,
    )


def _freshness(
    con: duckdb.DuckDBPyConnection, view: FeatureView, check: Freshness, rows: int, now: datetime
) -> CheckFailure | None:
    ts = quote(view.source.timestamp_field)
    [(newest,)] = _all(con, f"SELECT max(CAST({ts} AS TIMESTAMPTZ)) FROM {_TABLE}")
    if newest is None:
        return None
    newest = _utc(newest)
    cutoff = _utc(now) - check.max_age
    if newest >= cutoff:
        return None
    return CheckFailure(
        check.name,
        (view.source.timestamp_field,),
        rows,
        rows,
        f"the newest event ({newest.isoformat()}) is {_utc(now) - newest} old; at most "
        f"{check.max_age} is allowed",
        ({"newest_event": newest.isoformat(), "max_age_seconds": check.max_age.total_seconds()},),
    )


def _count(con: duckdb.DuckDBPyConnection, condition: str) -> int:
    [(count,)] = _all(con, f"SELECT count(*) FROM {_TABLE} WHERE {condition}")
    return int(count)


def _all(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[Any, ...]]:
    # Through Arrow: DuckDB's own fetch of time zone-aware values needs pytz, and fetching
    # everything leaves no result open (DuckDB refuses a new query while one is).
    relation = con.sql(query)
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    table = fetch()
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    return list(zip(*(c.to_pylist() for c in table.columns), strict=True))


def _examples(
    con: duckdb.DuckDBPyConnection, keys: list[str], columns: Sequence[str], condition: str
) -> tuple[dict[str, Any], ...]:
    wanted = list(dict.fromkeys([*keys, *columns]))
    found = _all(
        con,
        f"SELECT {', '.join(quote(c) for c in wanted)} FROM {_TABLE} WHERE {condition} "
        f"LIMIT {MAX_EXAMPLES}",
    )
    return tuple(_row(wanted, values) for values in found)


def _row(columns: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    return {c: _jsonable(v) for c, v in zip(columns, values, strict=True)}


def _jsonable(value: Any) -> Any:
    """An example value that survives JSON (error details travel over REST)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _bound(value: float | None) -> str:
    return "-inf" if value is None else repr(value)


def _literal(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def column_types(view: FeatureView, timestamp_field: str) -> dict[str, FeatureType]:
    """Every column a batch of ``view``'s rows must have, with its declared type, in order."""
    types = {k: t for e in view.entities for k, t in e.dtypes.items()}
    types[timestamp_field] = FeatureType.TIMESTAMP
    types.update({f.name: f.dtype for f in view.features})
    return types


def conform(view: FeatureView, table: pa.Table, *, timestamp_field: str) -> pa.Table:
    """``table`` with exactly the view's columns, each cast to its declared type.

    Join keys, the timestamp column and every feature must be present; other columns are
    refused (a typo would otherwise silently drop a feature). Timestamps may be Arrow
    timestamps (naive ones are UTC), ISO 8601 strings, or integers of epoch microseconds.
    ``bytes`` features may arrive as base64 strings.

    Raises:
        InvalidArgument: a column is missing, unexpected, or not castable to its type.
    """
    where = f"rows for feature view {view.name!r}"
    types = column_types(view, timestamp_field)
    missing = [c for c in types if c not in table.column_names]
    extra = [c for c in table.column_names if c not in types]
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"missing column(s) {', '.join(map(repr, missing))}")
        if extra:
            problems.append(f"unexpected column(s) {', '.join(map(repr, extra))}")
        raise InvalidArgument(
            f"{where}: {' and '.join(problems)}; expected exactly {', '.join(types)}",
            details={"view": view.name, "missing": missing, "unexpected": extra},
        )
    columns = [_cast(where, name, table.column(name), dtype) for name, dtype in types.items()]
    return pa.table(columns, names=list(types))


def _cast(where: str, name: str, column: Any, dtype: FeatureType) -> Any:
    target = dtype.arrow_type()
    found = column.type
    try:
        if dtype is FeatureType.TIMESTAMP:
            return _timestamps(column)
        if dtype is FeatureType.BYTES and pa.types.is_string(found):
            return pa.array(
                [
                    None if v is None else base64.b64decode(v, validate=True)
                    for v in column.to_pylist()
                ],
                pa.binary(),
            )
        if pa.types.is_null(found):
            return pa.nulls(len(column), target)
        if dtype.is_numeric and pa.types.is_string(found):
            raise pa.ArrowInvalid(f"strings are not {dtype} values")
        return column.cast(target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, TypeError) as exc:
        raise InvalidArgument(
            f"{where}: column {name!r} ({found}) cannot be read as {dtype}: {exc}",
            details={"column": name, "expected": str(dtype), "found": str(found)},
        ) from None


def _timestamps(column: Any) -> Any:
    target = pa.timestamp("us", tz="UTC")
    found = column.type
    if pa.types.is_null(found):
        return pa.nulls(len(column), target)
    if pa.types.is_timestamp(found) or pa.types.is_date(found):
        if pa.types.is_date(found):
            column = column.cast(pa.timestamp("us"))
        # A naive timestamp cast to a zone is read as UTC, as everywhere in Griffin.
        return column.cast(target, safe=False)
    if pa.types.is_integer(found):
        return column.cast(pa.int64()).cast(target)
    if pa.types.is_string(found) or pa.types.is_large_string(found):
        try:
            return column.cast(target)
        except pa.ArrowInvalid:
            pass
        try:
            return column.cast(pa.timestamp("us")).cast(target)
        except pa.ArrowInvalid:
            parsed = [None if v is None else _parse_time(v) for v in column.to_pylist()]
            return pa.array(parsed, target)
    raise pa.ArrowInvalid(f"{found} values are not timestamps")


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return _utc(parsed)


def check_window(start: datetime | None, end: datetime) -> None:
    """Raise unless ``start`` (if any) is before ``end``."""
    if start is not None and _utc(start) >= _utc(end):
        raise InvalidArgument(
            f"the window start {start.isoformat()} is not before its end {end.isoformat()}",
            details={"start": start.isoformat(), "end": end.isoformat()},
        )
