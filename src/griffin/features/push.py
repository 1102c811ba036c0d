"""Push: rows sent by producers, written to the offline log and the online store.

The server side of ``client.push`` and ``POST /projects/{project}/features/push/{view}``. The
view's current definition comes from the registry; its source must be a ``PushSource``. Order
of work, so that a failure never leaves training and serving disagreeing silently:

1. columns and types are checked and cast, then the view's data checks run: a failing batch
   writes nothing;
2. the online store is pinged (a store that is down fails the push before anything is
   written);
3. the rows are appended to the push log (one parquet file per push, written under a temporary
   name then renamed), which training data reads;
4. the latest row per entity is written online (newest event wins, so a push never
   overwrites a fresher value);
5. the view's state records the push (freshest event, time, row count).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from griffin.domain.accounts import Principal, Role
from griffin.domain.feature_states import PushResult
from griffin.errors import InvalidArgument
from griffin.store import feature_states as states
from griffin.store import projects

from . import registry
from .definitions import FeatureView
from .materialize import latest_rows, newest_event, write_online
from .offline.parquet_log import append_parquet
from .offline.reader import push_log_dir
from .project import Definitions
from .sources import PushSource
from .validation import conform, run_checks

if TYPE_CHECKING:
    from griffin.platform import Platform

__all__ = ["append_log", "load_view", "push"]


def load_view(platform: Platform, principal: Principal, project: str, name: str) -> FeatureView:
    """The registry's current definition of feature view ``name``, rebuilt as an object."""
    obj = registry.get_object(platform.db, principal, project, "feature_view", name)
    entities = [
        registry.get_object(platform.db, principal, project, "entity", str(entity)).spec
        for entity in obj.spec.get("entities", [])
    ]
    view = Definitions.from_specs([*entities, obj.spec]).get("feature_view", name)
    assert isinstance(view, FeatureView)
    return view


def append_log(offline_root: str, project: str, view: str, table: pa.Table) -> str:
    """Write ``table`` as a new parquet file of the view's push log; returns its path."""
    folder = push_log_dir(offline_root, project, view)
    return append_parquet(folder, table, what="the push log")


def _refuse_nulls(view: FeatureView, table: pa.Table, columns: list[str]) -> None:
    for column in columns:
        nulls = table.column(column).null_count
        if nulls:
            raise InvalidArgument(
                f"rows for feature view {view.name!r}: column {column!r} has {nulls} null "
                "value(s); join keys and the event timestamp are required",
                details={"view": view.name, "column": column, "nulls": nulls},
            )


def push(
    platform: Platform, principal: Principal, project: str, view_name: str, table: pa.Table
) -> PushResult:
    """Append ``table``'s rows to ``view_name``'s push log and write them online.

    Args:
        platform: the opened platform (metadata database, online store, settings).
        principal: the caller; needs the editor role.
        project: the view's project.
        view_name: a registered feature view whose source is a ``PushSource``.
        table: the rows: exactly the view's join keys, the push source's timestamp column and
            every feature.

    Raises:
        NotFound: no such view (the message names the closest ones).
        InvalidArgument: not a push view, a missing/extra/uncastable column, a null key or
            timestamp, or failed data checks (``details["failures"]``); nothing is written.
        BackendUnavailable: the online store (or the push log) cannot be reached.
    """
    principal.require(Role.EDITOR, project)
    view = load_view(platform, principal, project, view_name)
    source = view.source
    if not isinstance(source, PushSource):
        raise InvalidArgument(
            f"feature view {view.name!r} reads a {source.type} source; only views with a "
            "PushSource take pushed rows",
            details={"view": view.name, "source": source.type},
        )
    rows = conform(view, table, timestamp_field=source.timestamp_field)
    _refuse_nulls(view, rows, [*view.join_keys, source.timestamp_field])
    now = datetime.now(UTC)
    run_checks(view, rows, now=now).raise_for_failures()
    if rows.num_rows == 0:
        return PushResult(project, view.name, 0, 0, "", None)
    store = platform.online_store() if view.online else None
    if store is not None:
        store.ping()
    path = append_log(platform.settings.resolved_offline_root, project, view.name, rows)
    written = 0
    if store is not None:
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET TimeZone = 'UTC'")
            latest = latest_rows(con, view, rows, start=None, end=None)
        finally:
            con.close()
        written, _ = write_online(store, view, latest)
    freshest = newest_event(rows, source.timestamp_field)
    with platform.db.session(write=True) as session:
        states.record_push(
            session, projects.get_row(session, project), view.name, rows.num_rows, freshest
        )
    return PushResult(project, view.name, rows.num_rows, written, path, freshest)
