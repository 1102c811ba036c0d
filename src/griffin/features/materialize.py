"""Materialization: the latest row per entity of a view's source, copied to the online store.

For a window ``[start, end)`` of event times, DuckDB reads the view's source (parquet, SQL, or
a push log) and keeps one row per entity: the newest event, ties going to the newest created
timestamp, then to the later row in the data. The view's checks run on those rows; if any
fails, nothing is written. Then the rows go to :meth:`OnlineStore.write_batch` in chunks
(Arrow columns become Python lists once per chunk; integer entity keys are encoded by DuckDB),
so the write path is the store's bulk pipeline and nothing else.

Runs are safe to repeat and to interrupt: the store keeps the newest event per entity, so a
re-run rewrites nothing, and the caller moves the watermark only after every chunk is written.

The second half of this module is the state service (``feature_view_states``): what the REST
routes call to read and record each view's watermark, last run and freshness.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from griffin.domain.accounts import Principal, Role
from griffin.domain.feature_states import MaterializeResult, RunRecord, ViewState
from griffin.domain.features import FeatureObject
from griffin.errors import InvalidArgument
from griffin.store import feature_states as states
from griffin.store import projects
from griffin.store.orm.base import utcnow
from griffin.store.session import Database

from . import registry
from .common import FeatureType
from .definitions import FeatureView
from .offline.inputs import quote
from .offline.reader import source_clause, view_data
from .online import OnlineStore, encode_entity_key
from .selection import storage_name
from .sources import PushSource
from .validation import check_window, run_checks

__all__ = [
    "DUCKDB_TYPES",
    "Progress",
    "get_state",
    "latest_rows",
    "list_states",
    "materialize",
    "record_run",
    "write_online",
]

# progress(view name, rows written so far, rows in total)
Progress = Callable[[str, int, int], None]

DUCKDB_TYPES = {
    FeatureType.BOOL: "BOOLEAN",
    FeatureType.INT32: "INTEGER",
    FeatureType.INT64: "BIGINT",
    FeatureType.FLOAT32: "FLOAT",
    FeatureType.FLOAT64: "DOUBLE",
    FeatureType.STRING: "VARCHAR",
    FeatureType.BYTES: "BLOB",
    FeatureType.TIMESTAMP: "TIMESTAMPTZ",
}
_INTEGERS = {FeatureType.INT32, FeatureType.INT64}
TS_US = "__griffin_ts_us"
KEY = "__griffin_key"
_POS = "__griffin_pos"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _to_arrow(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    table = fetch()
    return table.read_all() if isinstance(table, pa.RecordBatchReader) else table


def latest_rows(
    con: duckdb.DuckDBPyConnection,
    view: FeatureView,
    data: Any,
    *,
    start: datetime | None,
    end: datetime | None,
) -> pa.Table:
    """One row per entity of ``data`` in ``[start, end)``: the newest event wins.

    Returns the join keys, the event timestamp column (UTC) and created timestamp column (if
    the source has one), the features cast to their declared types, the event time in int64
    microseconds (``__griffin_ts_us``) and, when every join key is an integer, the encoded
    entity key (``__griffin_key``). Rows with a null key or event time are skipped.
    """
    source, order = source_clause(con, data, "griffin_source", position=True)
    available = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    ts_field = view.source.timestamp_field
    created = view.source.created_timestamp_field
    needed = [*view.join_keys, ts_field, *view.feature_names]
    missing = [c for c in needed if c not in available]
    if missing and isinstance(view.source, PushSource) and _is_empty(con, source):
        return _empty(view)  # nothing pushed yet and no batch history
    if missing:
        raise InvalidArgument(
            f"feature view {view.name!r}: its source has no column(s) "
            f"{', '.join(map(repr, missing))}",
            details={"view": view.name, "missing": missing},
        )
    key_types = {k: t for e in view.entities for k, t in e.dtypes.items()}
    ts = f"CAST({quote(ts_field)} AS TIMESTAMPTZ)"
    columns = [
        f"CAST({quote(k)} AS {DUCKDB_TYPES[key_types[k]]}) AS {quote(k)}" for k in view.join_keys
    ]
    columns.append(f"{ts} AS {quote(ts_field)}")
    ranks = [f"{quote(ts_field)} DESC"]
    if created is not None and created in available:
        columns.append(f"CAST({quote(created)} AS TIMESTAMPTZ) AS {quote(created)}")
        ranks.append(f"{quote(created)} DESC NULLS LAST")
    columns.extend(
        f"CAST({quote(f.name)} AS {DUCKDB_TYPES[f.dtype]}) AS {quote(f.name)}"
        for f in view.features
    )
    columns.extend(f"{expr} AS {_POS}{i}" for i, expr in enumerate(order))
    ranks.extend(f"{_POS}{i} DESC" for i in range(len(order)))
    if not order:  # SQL data has no stable position: break ties on the values themselves
        ranks.extend(f"{quote(f)} DESC NULLS LAST" for f in view.feature_names)
    where = [f"{ts} IS NOT NULL", *(f"{quote(k)} IS NOT NULL" for k in view.join_keys)]
    if start is not None:
        where.append(f"{ts} >= '{_utc(start).isoformat()}'::TIMESTAMPTZ")
    if end is not None:
        where.append(f"{ts} < '{_utc(end).isoformat()}'::TIMESTAMPTZ")
    keys = ", ".join(quote(k) for k in view.join_keys)
    outputs = [quote(k) for k in view.join_keys] + [quote(ts_field)]
    if created is not None and created in available:
        outputs.append(quote(created))
    outputs.extend(quote(f) for f in view.feature_names)
    outputs.append(f"epoch_us({quote(ts_field)}) AS {TS_US}")
    if all(key_types[k] in _INTEGERS for k in view.join_keys):
        # The same text encode_entity_key makes ('[1,2]'), without a Python call per row.
        parts = " || ',' || ".join(f"CAST({quote(k)} AS VARCHAR)" for k in view.join_keys)
        outputs.append(f"'[' || {parts} || ']' AS {KEY}")
    query = (
        f"SELECT {', '.join(outputs)} FROM ("
        f"SELECT {', '.join(columns)} FROM {source} WHERE {' AND '.join(where)}"
        f") QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {', '.join(ranks)}) = 1"
    )
    try:
        return _to_arrow(con.sql(query))
    except duckdb.Error as exc:
        raise InvalidArgument(
            f"feature view {view.name!r}: reading its source failed: {exc}",
            details={"view": view.name},
        ) from None


def _is_empty(con: duckdb.DuckDBPyConnection, source: str) -> bool:
    return not con.execute(f"SELECT 1 FROM {source} LIMIT 1").fetchall()


def _empty(view: FeatureView) -> pa.Table:
    types = {k: t for e in view.entities for k, t in e.dtypes.items()}
    fields = [pa.field(k, types[k].arrow_type()) for k in view.join_keys]
    fields.append(pa.field(view.source.timestamp_field, pa.timestamp("us", tz="UTC")))
    fields.extend(pa.field(f.name, f.dtype.arrow_type()) for f in view.features)
    fields.append(pa.field(TS_US, pa.int64()))
    return pa.schema(fields).empty_table()


def _entity_keys(view: FeatureView, table: pa.Table) -> list[str]:
    if KEY in table.column_names:
        keys: list[str] = table.column(KEY).to_pylist()
        return keys
    columns = [table.column(k).to_pylist() for k in view.join_keys]
    return [encode_entity_key(values) for values in zip(*columns, strict=True)]


def write_online(
    store: OnlineStore,
    view: FeatureView,
    table: pa.Table,
    *,
    batch_size: int = 10_000,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Write :func:`latest_rows`' output in chunks; returns ``(records written, chunks)``.

    Records are kept under ``storage_name(view)``, keyed by the join keys in order, with
    every feature in ``view.feature_names`` order and the view's TTL.
    """
    if batch_size < 1:
        raise InvalidArgument(f"batch_size must be at least 1, got {batch_size}")
    name = storage_name(view)
    ttl = None if view.ttl is None else view.ttl.total_seconds()
    total = table.num_rows
    written = chunks = 0
    if progress is not None:
        progress(view.name, 0, total)
    for offset in range(0, total, batch_size):
        chunk = table.slice(offset, batch_size)
        keys = _entity_keys(view, chunk)
        event_us: list[int] = chunk.column(TS_US).to_pylist()
        values = [chunk.column(f).to_pylist() for f in view.feature_names]
        rows = list(zip(*values, strict=True))
        written += store.write_batch(name, keys, event_us, rows, expire_after_s=ttl)
        chunks += 1
        if progress is not None:
            progress(view.name, offset + chunk.num_rows, total)
    return written, chunks


def newest_event(table: pa.Table, column: str) -> datetime | None:
    """The largest value of a timestamp column, as an aware UTC datetime."""
    if table.num_rows == 0:
        return None
    found = pc.max(table.column(column)).as_py()
    return None if found is None else _utc(found)


def materialize(
    view: FeatureView,
    store: OnlineStore,
    *,
    project: str,
    offline_root: str,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Progress | None = None,
    batch_size: int = 10_000,
    now: datetime | None = None,
    environ: dict[str, str] | None = None,
) -> MaterializeResult:
    """Copy the latest row per entity of ``view`` in ``[start, end)`` to ``store``.

    Args:
        view: an online feature view.
        store: the online store to write to.
        project: the view's project (push logs are kept per project).
        offline_root: where push logs live (``Settings.resolved_offline_root``).
        start: the first event time included; None reads from the beginning.
        end: the first event time excluded; default ``now``.
        progress: called as ``progress(view, written, total)`` before the first chunk and
            after each one.
        batch_size: rows per ``write_batch`` call.
        now: the current time (freshness is measured at ``min(now, end)``).
        environ: the environment for ``${VAR}`` placeholders of SQL sources.

    Returns:
        What was written. The result's ``watermark`` is None: the caller records it.

    Raises:
        InvalidArgument: the view is not online, the window is empty, a source column is
            missing or uncastable, or a check fails (``details["failures"]``); nothing is
            written then.
        BackendUnavailable: the online store or the source cannot be reached.
    """
    if not view.online:
        raise InvalidArgument(
            f"feature view {view.name!r} has online=False: it is not materialized",
            details={"view": view.name},
        )
    began = time.perf_counter()
    now = _utc(now or datetime.now(UTC))
    end = _utc(end) if end is not None else now
    start = None if start is None else _utc(start)
    check_window(start, end)
    data = view_data(
        view.source, offline_root=offline_root, project=project, view=view.name, environ=environ
    )
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        table = latest_rows(con, view, data, start=start, end=end)
    finally:
        con.close()
    report = run_checks(view, table, now=min(now, end))
    report.raise_for_failures()
    written, chunks = write_online(store, view, table, batch_size=batch_size, progress=progress)
    return MaterializeResult(
        view=view.name,
        storage_name=storage_name(view),
        start=start,
        end=end,
        rows=table.num_rows,
        written=written,
        chunks=chunks,
        freshest_event=newest_event(table, view.source.timestamp_field),
        watermark=None,
        duration_s=time.perf_counter() - began,
        checks=report.checked,
    )


# --- the state service --------------------------------------------------------------------


def _max_age(spec: dict[str, Any]) -> float | None:
    for check in spec.get("checks", []):
        if isinstance(check, dict) and check.get("check") == "freshness":
            return float(check["max_age_seconds"])
    return None


def _state(project: str, obj: FeatureObject, row: Any, as_of: datetime) -> ViewState:
    return states.to_domain(
        project,
        obj.name,
        row,
        online=bool(obj.spec.get("online", True)),
        registry_version=obj.latest_version,
        max_age_s=_max_age(obj.spec),
        as_of=as_of,
    )


def get_state(db: Database, principal: Principal, project: str, view: str) -> ViewState:
    """The state of one registered feature view (unknown names get the closest matches)."""
    obj = registry.get_object(db, principal, project, "feature_view", view)
    with db.session() as session:
        row = states.find(session, projects.get_row(session, project), view)
        return _state(project, obj, row, utcnow())


def list_states(
    db: Database, principal: Principal, project: str, views: Sequence[str] | None = None
) -> list[ViewState]:
    """The state of every registered feature view (or of ``views``), by name."""
    found = registry.list_objects(db, principal, project, kind="feature_view")
    if views is not None:
        known = {o.name for o in found}
        for name in views:
            if name not in known:
                registry.get_object(db, principal, project, "feature_view", name)  # NotFound
        found = [o for o in found if o.name in set(views)]
    with db.session() as session:
        rows = states.list_rows(session, projects.get_row(session, project))
    now = utcnow()
    return [_state(project, obj, rows.get(obj.name), now) for obj in found]


def record_run(
    db: Database, principal: Principal, project: str, view: str, run: RunRecord
) -> ViewState:
    """Record a finished materialization run of ``view`` (editor role)."""
    principal.require(Role.EDITOR, project)
    obj = registry.get_object(db, principal, project, "feature_view", view)
    if run.status not in ("succeeded", "failed"):
        raise InvalidArgument(
            f"run status must be 'succeeded' or 'failed', not {run.status!r}",
            details={"field": "status"},
        )
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        states.record_run(session, project_row, view, run)
        row = states.find(session, project_row, view)
        return _state(project, obj, row, utcnow())
