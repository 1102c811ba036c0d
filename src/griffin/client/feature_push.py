"""Getting feature values online: materialization and push.

Materialization runs in this process, like Feast's: it reads the views' sources itself and
writes the online store of ``client.settings`` directly (hot paths skip the REST layer); only
the outcome (watermark, last run, freshest event) goes through the REST API. Pushes go to the
server, which checks them, appends them to the offline log and writes them online.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from griffin.client._base import segment
from griffin.client.features import FeaturesMixin
from griffin.domain.feature_states import MaterializeResult, PushResult, RunRecord, ViewState
from griffin.errors import GriffinError, InvalidArgument

if TYPE_CHECKING:
    from griffin.features.definitions import FeatureView
    from griffin.features.online import OnlineStore
    from griffin.features.project import Definitions

__all__ = ["FeaturePushMixin"]

Progress = Callable[[str, int, int], None]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _arrow(rows: Any) -> Any:
    """Rows as an Arrow table: a pandas DataFrame, an Arrow table, or a list of dicts."""
    import pyarrow as pa

    if isinstance(rows, pa.Table):
        return rows
    if isinstance(rows, Sequence) and not isinstance(rows, str | bytes):
        if not all(isinstance(r, Mapping) for r in rows):
            raise InvalidArgument("push rows must be dicts of column -> value")
        return pa.Table.from_pylist([dict(r) for r in rows])
    import pandas as pd

    if isinstance(rows, pd.DataFrame):
        return pa.Table.from_pandas(rows, preserve_index=False)
    raise InvalidArgument(
        "push rows must be a pandas DataFrame, a pyarrow Table or a list of dicts, "
        f"got {type(rows).__name__}"
    )


def _json_column(column: Any) -> list[Any]:
    """One Arrow column as JSON values the push route reads back without loss."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_date(kind):
        column = column.cast(pa.timestamp("us"))
        kind = column.type
    if pa.types.is_timestamp(kind):
        # Epoch microseconds: exact, and naive values are UTC (casting to a zone keeps them).
        micros = column.cast(pa.timestamp("us", tz="UTC"), safe=False)
        values: list[Any] = micros.cast(pa.int64()).to_pylist()
        return values
    if pa.types.is_decimal(kind):
        return list(column.cast(pa.float64()).to_pylist())
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return [None if v is None else base64.b64encode(v).decode() for v in column.to_pylist()]
    values = column.to_pylist()
    if pa.types.is_floating(kind) and len(column) and not pc.all(pc.is_finite(column)).as_py():
        return [_finite(v) for v in values]
    return values


def _finite(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


class FeaturePushMixin(FeaturesMixin):
    def feature_states(self, views: Sequence[str] | None = None) -> list[ViewState]:
        """What is online for each registered feature view: watermark, last run, freshness.

        Args:
            views: only these views (by name); every feature view when omitted.

        Raises:
            NotFound: a named view is not registered (the closest names are suggested).
        """
        if views is not None:
            return [self.feature_state(v) for v in views]
        data = self._call("GET", f"{self._project_path()}/features/states")
        return [ViewState.from_json(item) for item in data["items"]]

    def feature_state(self, view: str) -> ViewState:
        """What is online for one feature view (see :meth:`feature_states`)."""
        path = f"{self._project_path()}/features/views/{segment(view)}/state"
        return ViewState.from_json(self._call("GET", path))

    def _record_run(self, view: str, run: RunRecord) -> ViewState:
        path = f"{self._project_path()}/features/views/{segment(view)}/state"
        return ViewState.from_json(self._call("PUT", path, json=run.to_json(), idempotent=True))

    def materialize(
        self,
        views: Sequence[str] | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        incremental: bool = False,
        definitions: Definitions | str | Path | None = None,
        progress: Progress | None = None,
        batch_size: int = 10_000,
    ) -> list[MaterializeResult]:
        """Copy the latest row per entity of feature views to the online store.

        Each view's source is read here, in DuckDB; its checks run on the rows to be written
        (a failing view writes nothing); rows go to the online store of ``self.settings`` in
        chunks of ``batch_size``. After all of a view's chunks are written its state is
        recorded: an interrupted run leaves the watermark where it was, and re-running is a
        no-op because the store keeps the newest event per entity.

        Args:
            views: names of registered feature views; every online view when omitted.
            start: the first event time included (naive is UTC); None reads from the start.
            end: the first event time excluded; default now.
            incremental: start each view at its stored watermark (from the beginning the
                first time); ``start`` must not be given.
            definitions: local definitions (objects or a path) used instead of the
                registry's objects of the same name, e.g. for SQL sources' code.
            progress: ``progress(view, rows written, rows in total)`` after each chunk.
            batch_size: rows per online-store write.

        Returns:
            One result per view, in order.

        Raises:
            InvalidArgument: an unknown or unregistered view (the closest names are
                suggested), an offline view, a bad window, a missing source column, or failed
                checks (``details["failures"]``, the run is recorded as failed).
            BackendUnavailable: the online store or a source cannot be reached (recorded as
                a failed run; the watermark does not move).
        """
        from griffin.features.definitions import FeatureView
        from griffin.features.online import open_online_store

        if incremental and start is not None:
            raise InvalidArgument("give either start (and end) or incremental=True, not both")
        defs = self.feature_definitions(definitions)
        registered = {o.name: o for o in self.list_features("feature_view")}
        chosen: list[FeatureView] = []
        if views is None:
            chosen = [v for v in defs.feature_views if v.online and v.name in registered]
        else:
            for name in views:
                view = defs.get("feature_view", name)
                assert isinstance(view, FeatureView)
                if name not in registered:
                    raise InvalidArgument(
                        f"feature view {name!r} is not in the registry of project "
                        f"{self.project!r}: run `griffin features apply` first",
                        details={"view": name},
                    )
                if not view.online:
                    raise InvalidArgument(
                        f"feature view {name!r} has online=False: it is not materialized",
                        details={"view": name},
                    )
                chosen.append(view)
        now = datetime.now(UTC)
        end = now if end is None else _utc(end)
        start = None if start is None else _utc(start)
        known = {s.view: s for s in self.feature_states()} if chosen else {}
        results: list[MaterializeResult] = []
        store = open_online_store(self.settings.resolved_online_store) if chosen else None
        try:
            for view in chosen:
                obj = registered[view.name]
                version = obj.latest_version if obj.fingerprint == view.fingerprint() else None
                state = known.get(view.name)
                assert store is not None
                results.append(
                    self._materialize_one(
                        view, store, state, start, end, incremental, version, progress, batch_size
                    )
                )
        finally:
            if store is not None:
                store.close()
        return results

    def _materialize_one(
        self,
        view: FeatureView,
        store: OnlineStore,
        state: ViewState | None,
        start: datetime | None,
        end: datetime,
        incremental: bool,
        version: int | None,
        progress: Progress | None,
        batch_size: int,
    ) -> MaterializeResult:
        from griffin.features.materialize import materialize
        from griffin.features.selection import storage_name

        old = None if state is None else state.watermark
        window_start = old if incremental else start
        if window_start is not None and window_start >= end:
            # Nothing new since the watermark: a no-op, not an error.
            return MaterializeResult(
                view.name, storage_name(view), window_start, end, 0, 0, 0, None, old, 0.0
            )
        try:
            result = materialize(
                view,
                store,
                project=self.project,
                offline_root=self.settings.resolved_offline_root,
                start=window_start,
                end=end,
                progress=progress,
                batch_size=batch_size,
            )
        except GriffinError as exc:
            self._record_run(view.name, RunRecord("failed", window_start, end, error=exc.message))
            raise
        except KeyboardInterrupt:
            with contextlib.suppress(Exception):  # best effort: the interrupt must go on
                self._record_run(
                    view.name, RunRecord("failed", window_start, end, error="interrupted")
                )
            raise
        # The watermark moves only over a window that leaves no gap behind it.
        contiguous = window_start is None or (old is not None and window_start <= old)
        recorded = self._record_run(
            view.name,
            RunRecord(
                "succeeded",
                window_start,
                end,
                rows=result.rows,
                watermark=end if contiguous else None,
                freshest_event=result.freshest_event,
                view_version=version,
            ),
        )
        return dataclasses.replace(result, watermark=recorded.watermark)

    def push(self, view: str, rows: Any) -> PushResult:
        """Send rows of a push-sourced feature view to the online store and the offline log.

        The server checks the columns (exactly the join keys, the push source's timestamp
        column and every feature), casts them to the declared types, runs the view's checks,
        appends the rows to the view's push log (which training data reads) and writes the
        latest row per entity online. A batch that fails a check writes nothing.

        Args:
            view: the feature view's name.
            rows: a pandas DataFrame, a pyarrow Table or a list of dicts. Naive timestamps
                are UTC.

        Returns:
            The rows received, the records written online and the log file.

        Raises:
            NotFound: no such view (the closest names are suggested).
            InvalidArgument: not a push view, wrong columns or types, or failed checks
                (``details["failures"]``).
            BackendUnavailable: the online store cannot be reached; nothing was written.
            PayloadTooLarge: over the server's 16 MiB request limit; push in smaller batches.
        """
        table = _arrow(rows)
        columns = {name: _json_column(table.column(name)) for name in table.column_names}
        path = f"{self._project_path()}/features/push/{segment(view)}"
        data = self._call("POST", path, json={"columns": columns}, idempotent=False)
        return PushResult.from_json(data)
