"""Online feature values for serving: read straight from the online store.

The hot path does not go through the REST API: the client opens the configured online store
itself and reads it through :class:`~griffin.features.serving.OnlineReader`. Only the
definitions come from the registry (over REST), fetched once and reused for
``FEATURE_REFRESH_S`` seconds, or until a request names something they do not know.

One exception keeps a team setup from silently reading an empty local file: a client talking
to a server over HTTP with no ``online_store`` configured asks the server's
``POST /projects/{project}/features/online`` route instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from griffin.client.features import FeaturesMixin
from griffin.errors import InvalidArgument

if TYPE_CHECKING:
    from griffin.config import Settings
    from griffin.features.online import OnlineStore
    from griffin.features.project import Definitions
    from griffin.features.selection import FeatureRefs
    from griffin.features.serving import EntityRows, OnlineReader, OnlineResult

__all__ = ["FEATURE_REFRESH_S", "FeatureOnlineMixin"]

FEATURE_REFRESH_S = 30.0  # how long registry definitions are reused by the read path
_UNKNOWN_RETRY_S = 1.0  # at most one registry re-read per second for unknown names
_MAX_READERS = 8
_UDF_HINT = "pass definitions= (your features.py, its folder or a Definitions) to run it"


class _Entry:
    __slots__ = ("fetched_at", "local", "reader")

    def __init__(self, reader: OnlineReader, local: Definitions | None) -> None:
        self.reader = reader
        self.local = local
        self.fetched_at = time.monotonic()


class FeatureOnlineMixin(FeaturesMixin):
    settings: Settings
    url: str | None
    _online_store: OnlineStore | None = None
    _online_entries: dict[Any, _Entry]
    _online_lock: threading.Lock

    def get_online_features(
        self,
        features: FeatureRefs,
        entity_rows: EntityRows,
        *,
        request_data: Mapping[str, Any] | None = None,
        full_names: bool = False,
        definitions: Definitions | str | Path | None = None,
    ) -> OnlineResult:
        """The latest feature values of some entities, read from the online store.

        Example::

            result = client.get_online_features(
                ["driver_stats:trips", "driver_stats:rating"], {"driver_id": [1001, 1002]}
            )
            result.to_dict()  # {"driver_id": [1001, 1002], "trips": [...], "rating": [...]}

        Args:
            features: a feature service name, or a list of ``"view:feature"``, ``"view"``
                and on-demand view names.
            entity_rows: the join keys per row: a dict of column -> list (fastest), a list of
                dicts, a pandas DataFrame or an Arrow table. Values are cast to the entities'
                declared types.
            request_data: request fields for on-demand views: one value for every row, or a
                list with one value per row.
            full_names: name feature columns ``view__feature``.
            definitions: your project's definitions (a ``Definitions``, or the path of a
                ``features.py`` or a folder), used in place of the registry's objects of the
                same names: needed to run on-demand views, whose functions the registry only
                stores as text.

        Returns:
            An :class:`~griffin.features.serving.OnlineResult`: ``to_dict()``, ``to_arrow()``
            or ``to_pandas()``; join keys first, then the features in the order asked for.
            Entities without a fresh value get the feature's default (``None`` by default).

        Raises:
            InvalidArgument: an unknown feature (naming the closest ones), a missing join key
                or request field, a value that does not fit its type.
            NotSupported: an on-demand view whose function is unknown (pass ``definitions``).
            BackendUnavailable: the online store cannot be reached.
        """
        entry = self.__dict__.get("_online_entries", {}).get(None) if definitions is None else None
        if entry is None or time.monotonic() - entry.fetched_at >= FEATURE_REFRESH_S:
            if self._online_over_rest():
                return self._online_rest(features, entity_rows, request_data, full_names)
            entry = self._online_entry(definitions)
        try:
            return entry.reader.read(features, entity_rows, request_data, full_names=full_names)
        except InvalidArgument as exc:
            if not self._worth_refreshing(entry, exc):
                raise
        entry = self._online_entry(definitions, refresh=True)
        return entry.reader.read(features, entity_rows, request_data, full_names=full_names)

    async def get_online_features_async(
        self,
        features: FeatureRefs,
        entity_rows: EntityRows,
        *,
        request_data: Mapping[str, Any] | None = None,
        full_names: bool = False,
        definitions: Definitions | str | Path | None = None,
    ) -> OnlineResult:
        """Async twin of :meth:`get_online_features`: the store read does not block the loop.

        With Redis the read uses redis-py's asyncio client; the small local SQLite reads run
        inline. Definitions are fetched from the registry in a worker thread when due.
        """
        import anyio.to_thread

        if self._online_over_rest():
            return await anyio.to_thread.run_sync(
                lambda: self._online_rest(features, entity_rows, request_data, full_names)
            )
        entry = self._online_cached(definitions)
        if entry is None:
            entry = await anyio.to_thread.run_sync(lambda: self._online_entry(definitions))
        try:
            return await entry.reader.aread(
                features, entity_rows, request_data, full_names=full_names
            )
        except InvalidArgument as exc:
            if not self._worth_refreshing(entry, exc):
                raise
        entry = await anyio.to_thread.run_sync(
            lambda: self._online_entry(definitions, refresh=True)
        )
        return await entry.reader.aread(features, entity_rows, request_data, full_names=full_names)

    def refresh_features(self) -> None:
        """Forget the cached definitions: the next online read fetches them from the registry."""
        self._online_state()
        with self._online_lock:
            self._online_entries.clear()

    # --- internals -----------------------------------------------------------------------

    def _online_over_rest(self) -> bool:
        return bool(self.url) and not self.settings.online_store

    def _online_rest(
        self,
        features: FeatureRefs,
        entity_rows: EntityRows,
        request_data: Mapping[str, Any] | None,
        full_names: bool,
    ) -> OnlineResult:
        from griffin.features.serving import OnlineResult

        body: dict[str, Any] = {"entities": _columnar(entity_rows), "full_names": full_names}
        if isinstance(features, str) and ":" not in features:
            body["feature_service"] = features
        elif isinstance(features, str):
            body["features"] = [features]
        elif isinstance(features, list | tuple) and all(isinstance(f, str) for f in features):
            body["features"] = list(features)
        else:
            raise InvalidArgument(
                "over HTTP without an online_store setting, features must be names; set "
                "GRIFFIN_ONLINE_STORE to read the store directly",
                details={"field": "features"},
            )
        if request_data:
            body["request_data"] = {
                k: v.tolist() if hasattr(v, "tolist") else v for k, v in request_data.items()
            }
        data = self._call("POST", f"{self._project_path()}/features/online", json=body)
        return OnlineResult(data["columns"], {})

    def _online_state(self) -> None:
        if "_online_lock" not in self.__dict__:
            self._online_lock = threading.Lock()
            self._online_entries = {}

    def _online_cached(self, local: Definitions | str | Path | None) -> _Entry | None:
        self._online_state()
        entry = self._online_entries.get(_local_key(local))
        if entry is not None and time.monotonic() - entry.fetched_at < FEATURE_REFRESH_S:
            if not isinstance(local, str | Path) and local is not None and entry.local is not local:
                return None
            return entry
        return None

    def _online_entry(
        self, local: Definitions | str | Path | None, *, refresh: bool = False
    ) -> _Entry:
        """The reader for ``local`` definitions: cached, or rebuilt from the registry."""
        from griffin.features.serving import OnlineReader

        if not refresh:
            cached = self._online_cached(local)
            if cached is not None:
                return cached
        key = _local_key(local)
        previous = self._online_entries.get(key)
        if isinstance(local, str | Path):
            # The user's files are imported once per client, not on every refresh.
            loaded = previous.local if previous is not None else _load(local)
        else:
            loaded = local
        definitions = self.feature_definitions(loaded)
        entry = _Entry(OnlineReader(definitions, self._store(), udf_hint=_UDF_HINT), loaded)
        with self._online_lock:
            if len(self._online_entries) >= _MAX_READERS and key not in self._online_entries:
                self._online_entries.pop(next(iter(self._online_entries)))
            self._online_entries[key] = entry
        return entry

    @staticmethod
    def _worth_refreshing(entry: _Entry, exc: InvalidArgument) -> bool:
        from griffin.features.serving import is_unknown_name

        return is_unknown_name(exc) and time.monotonic() - entry.fetched_at > _UNKNOWN_RETRY_S

    def _store(self) -> OnlineStore:
        self._online_state()
        with self._online_lock:
            if self._online_store is None:
                from griffin.features.online import open_online_store

                self._online_store = open_online_store(self.settings.resolved_online_store)
            return self._online_store

    def _close_online(self) -> None:
        """Release the online store's connections (called by ``Client.close``)."""
        store, self._online_store = self._online_store, None
        if store is not None:
            store.close()
        if "_online_entries" in self.__dict__:
            self._online_entries.clear()


def _local_key(local: Definitions | str | Path | None) -> Any:
    if local is None:
        return None
    if isinstance(local, str | Path):
        return ("path", str(Path(local).expanduser().resolve()))
    return ("object", id(local))


def _load(path: str | Path) -> Definitions:
    from griffin.features.project import load_definitions

    return load_definitions(path)


def _columnar(rows: EntityRows) -> dict[str, list[Any]]:
    """Entity rows as a JSON-able dict of column -> list (for the REST fallback)."""
    if isinstance(rows, Mapping):
        return {
            str(k): v.tolist() if hasattr(v, "tolist") else list(v) if isinstance(v, tuple) else v
            for k, v in rows.items()
        }
    if isinstance(rows, list | tuple):
        names = list(rows[0]) if rows else []
        return {str(n): [row[n] for row in rows] for n in names}
    if hasattr(rows, "to_pydict"):
        data: dict[str, list[Any]] = rows.to_pydict()
        return data
    return {str(c): rows[c].tolist() for c in rows.columns}
