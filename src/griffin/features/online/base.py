"""The online-store protocol: the latest feature values per (view, entity), read in one trip.

An online store is a key-value store of *records*. A record is the packed feature values of one
feature view for one entity, plus the event timestamp they were observed at
(:mod:`griffin.features.online.codec`). Stores never see feature names: values are kept in the
view's feature order and the caller (materialization, the serving path) maps positions to
names once per view, not once per value.

Two rules every implementation keeps, because materialization runs are retried and pushed
values race with scheduled backfills:

- **Newest event wins.** A write replaces a stored record only if its event timestamp is the
  same or later; an older write is ignored. Re-running a batch is therefore a no-op, and a
  backfill cannot overwrite a fresher pushed value.
- **One round trip per read,** however many views and entities are asked for.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, NamedTuple

import anyio.to_thread
import orjson

from griffin.errors import InvalidArgument

__all__ = ["OnlineStore", "Record", "ViewRead", "check_view_name", "encode_entity_key"]

# Views become part of store keys ("{prefix}{view}:{entity}"): no separator, no glob
# characters (Redis SCAN patterns), no whitespace. Versioned names such as "trips@3" are fine.
_VIEW_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,199}")


class Record(NamedTuple):
    """One stored record: when its values were observed, and the values.

    Attributes:
        event_ts_us: event timestamp, int64 microseconds since the Unix epoch (UTC).
        values: the feature values, in the order they were written.
    """

    event_ts_us: int
    values: tuple[Any, ...]


class ViewRead(NamedTuple):
    """The entities wanted from one view in a :meth:`OnlineStore.read`.

    A named tuple rather than a dataclass: one is built per view on every serving request,
    and a tuple is three times cheaper to make.

    Attributes:
        view: the view's storage name (see :func:`check_view_name`).
        entity_keys: keys made by :func:`encode_entity_key`; duplicates are allowed.
    """

    view: str
    entity_keys: Sequence[str]


def encode_entity_key(values: Sequence[object]) -> str:
    """The canonical store key of an entity: the JSON array of its join-key values.

    Args:
        values: the join-key values in the view's join-key order, e.g. ``[1001]`` or
            ``["us", 42]``. Numpy scalars are accepted. ``1`` and ``1.0`` are different keys:
            callers must pass the join keys' declared types.

    Returns:
        A compact JSON string such as ``'["us",42]'``.
    """
    try:
        return orjson.dumps(
            list(values), option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
        ).decode()
    except TypeError as exc:
        raise InvalidArgument(f"entity key {values!r} cannot be encoded: {exc}") from None


def check_view_name(view: str) -> str:
    """``view`` unchanged if it can be used in store keys.

    Raises:
        InvalidArgument: empty, longer than 200 characters, or containing anything other than
            letters, digits and ``_ . @ -`` (never ``:``, the key separator).
    """
    if not isinstance(view, str) or not _VIEW_NAME.fullmatch(view):
        raise InvalidArgument(
            f"invalid online view name {view!r}: use letters, digits and _ . @ - "
            "(at most 200 characters)"
        )
    return view


def check_batch(
    view: str,
    entity_keys: Sequence[str],
    event_ts_us: Sequence[int],
    rows: Sequence[Sequence[object]],
    expire_after_s: float | None,
) -> None:
    """Shared argument checks of :meth:`OnlineStore.write_batch`."""
    check_view_name(view)
    if not len(entity_keys) == len(event_ts_us) == len(rows):
        raise InvalidArgument(
            f"write_batch to {view!r}: {len(entity_keys)} entity keys, "
            f"{len(event_ts_us)} timestamps and {len(rows)} rows; all three must match"
        )
    if expire_after_s is not None and expire_after_s <= 0:
        raise InvalidArgument(f"expire_after_s must be positive, not {expire_after_s!r}")


class OnlineStore(ABC):
    """Where served feature values live: SQLite for one machine, Redis for a team.

    Implementations are constructed as ``cls(url)`` by
    :func:`griffin.features.online.open_online_store`, chosen by the URL's scheme through the
    ``online_store`` plug-in kind. They must be safe to share between threads; the async
    method must not block the event loop.

    Attributes:
        url: the URL this store was opened with (may hold a password: show it only through
            :func:`griffin.config.mask_url`).
    """

    url: str

    def __init__(self, url: str) -> None:
        self.url = url

    @abstractmethod
    def write_batch(
        self,
        view: str,
        entity_keys: Sequence[str],
        event_ts_us: Sequence[int],
        rows: Sequence[Sequence[object]],
        *,
        expire_after_s: float | None = None,
    ) -> int:
        """Upsert one record per entity, in bulk, keeping the newest event per entity.

        Args:
            view: the view's storage name.
            entity_keys: one key per row, made by :func:`encode_entity_key`.
            event_ts_us: one event timestamp per row, int64 microseconds UTC.
            rows: one sequence of feature values per row, in the view's feature order.
                Values may be None, bool, int (64-bit), float (NaN and infinities too), str,
                bytes, timezone-aware datetimes, lists of these, or numpy scalars and arrays.
            expire_after_s: the view's TTL. A record stops being returned once
                ``event_ts + expire_after_s`` has passed (measured from the *event* time, the
                same rule as the offline point-in-time join, so training and serving agree);
                the store deletes it when it can. ``None`` keeps records forever.

        Returns:
            The number of records written; rows older than the stored record are not counted.

        Raises:
            InvalidArgument: lengths differ, a bad view name, or a value that cannot be stored.
            BackendUnavailable: the store cannot be reached.
        """

    @abstractmethod
    def read(self, requests: Sequence[ViewRead]) -> list[list[Record | None]]:
        """The stored records of every requested (view, entity), in one round trip.

        Args:
            requests: the views and entities wanted.

        Returns:
            One list per request, in request order, holding one item per entity key in key
            order: the :class:`Record`, or ``None`` when there is none or it has expired.

        Raises:
            BackendUnavailable: the store cannot be reached.
        """

    async def aread(self, requests: Sequence[ViewRead]) -> list[list[Record | None]]:
        """Async twin of :meth:`read`; by default :meth:`read` in a worker thread."""
        return await anyio.to_thread.run_sync(self.read, requests)

    def read_values(self, requests: Sequence[ViewRead]) -> list[list[tuple[Any, ...] | None]]:
        """:meth:`read` without the timestamps: only each record's values, or ``None``.

        The serving path needs no timestamps, and skipping them skips one object per record;
        stores override this with a faster path. Same round-trip rule as :meth:`read`.
        """
        return [
            [None if record is None else record.values for record in records]
            for records in self.read(requests)
        ]

    async def aread_values(
        self, requests: Sequence[ViewRead]
    ) -> list[list[tuple[Any, ...] | None]]:
        """Async twin of :meth:`read_values`; by default it in a worker thread."""
        return await anyio.to_thread.run_sync(self.read_values, requests)

    @abstractmethod
    def delete_view(self, view: str) -> int:
        """Delete every record of ``view``.

        Returns:
            The number of records deleted.
        """

    @abstractmethod
    def apply(self, views: Sequence[str]) -> None:
        """Prepare the store for ``views`` (create tables); idempotent, keeps existing data."""

    @abstractmethod
    def teardown(self) -> None:
        """Delete everything this store holds (every view's records)."""

    @abstractmethod
    def ping(self) -> None:
        """Check the store can be reached.

        Raises:
            BackendUnavailable: it cannot, with the (masked) URL in the message.
        """

    def close(self) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """Release connections; the store must not be used afterwards."""

    async def aclose(self) -> None:
        """Async twin of :meth:`close`, for stores that hold async connections."""
        self.close()

    def __enter__(self) -> OnlineStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
