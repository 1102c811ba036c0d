"""The embedded online store: one SQLite file, one table, one row per (view, entity).

stdlib ``sqlite3`` directly, not SQLAlchemy: this is the serving hot path, and a read is one
prepared statement. The file runs in WAL mode, so the serving process reads while a
materialization job writes. Each thread gets its own connection (sqlite3 connections must not
be used by two threads at once); all of them are closed by :meth:`SqliteOnlineStore.close`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from griffin.errors import BackendUnavailable, ConfigError, InvalidArgument
from griffin.features.online import codec
from griffin.features.online.base import (
    OnlineStore,
    Record,
    ViewRead,
    check_batch,
    check_view_name,
)

__all__ = ["SqliteOnlineStore"]

_INT64_MAX = (1 << 63) - 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS online_features (
    view TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    event_ts INTEGER NOT NULL,
    expires_at INTEGER,
    payload BLOB NOT NULL,
    PRIMARY KEY (view, entity_key)
) WITHOUT ROWID
"""

# The WHERE clause is the out-of-order rule: an upsert only lands if it is not older than the
# stored row, so re-running a batch or a late backfill never regresses a value.
_UPSERT = """
INSERT INTO online_features (view, entity_key, event_ts, expires_at, payload)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (view, entity_key) DO UPDATE SET
    event_ts = excluded.event_ts, expires_at = excluded.expires_at, payload = excluded.payload
WHERE excluded.event_ts >= online_features.event_ts
"""

# One SELECT per view, glued with UNION ALL into a single statement: each view's keys travel as
# ONE JSON-array parameter (json_each), so a 10k-entity read does not hit SQLite's limit on
# bound variables and the statement text depends only on the number of views (cache-friendly).
_READ_ONE = (
    "SELECT {i}, entity_key, event_ts, payload FROM online_features "
    "WHERE view = ? AND entity_key IN (SELECT value FROM json_each(?)) "
    "AND (expires_at IS NULL OR expires_at > ?)"
)
# Reads of at most this many keys run on the event loop in aread (see there).
_INLINE_KEYS = 256


class SqliteOnlineStore(OnlineStore):
    """The online store in a SQLite file: ``sqlite:///relative/path`` or ``sqlite:////abs``.

    Args:
        url: the file's URL (SQLAlchemy spelling). Its folder is created if missing.
    """

    def __init__(self, url: str) -> None:
        super().__init__(url)
        scheme, sep, path = url.partition(":///")
        if scheme != "sqlite" or not sep or not path or path.startswith(":memory:"):
            raise ConfigError(
                f"online store URL {url!r} is not sqlite:///path/to/file.db "
                "(in-memory databases cannot be shared between threads)"
            )
        self.path = Path(path).expanduser()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self.apply([])

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise BackendUnavailable(f"online store {self.url} is closed")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, only around writes.
            # check_same_thread=False only so that close() may close every thread's connection.
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable across application crashes in WAL mode; an OS crash can lose
            # the last commits, which a re-run of materialization restores.
            conn.execute("PRAGMA synchronous=NORMAL")
        except (sqlite3.Error, OSError) as exc:
            raise BackendUnavailable(f"online store {self.url} cannot be opened: {exc}") from exc
        with self._lock:
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            # Locked, read-only or missing file, full disk: the backend, not the caller.
            raise BackendUnavailable(f"online store {self.url}: {exc}") from exc

    def write_batch(
        self,
        view: str,
        entity_keys: Sequence[str],
        event_ts_us: Sequence[int],
        rows: Sequence[Sequence[object]],
        *,
        expire_after_s: float | None = None,
    ) -> int:
        check_batch(view, entity_keys, event_ts_us, rows, expire_after_s)
        ttl_us = None if expire_after_s is None else int(expire_after_s * 1_000_000)
        params = [
            (
                view,
                key,
                int(ts),
                None if ttl_us is None else min(int(ts) + ttl_us, _INT64_MAX),
                codec.pack_values(values),
            )
            for key, ts, values in zip(entity_keys, event_ts_us, rows, strict=True)
        ]
        conn = self._conn()
        with self._errors():
            conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = conn.executemany(_UPSERT, params)
                written = cursor.rowcount
                conn.execute("COMMIT")
            except OverflowError:
                conn.execute("ROLLBACK")
                raise InvalidArgument(
                    f"write_batch to {view!r}: an event timestamp is not an int64 number of "
                    "microseconds"
                ) from None
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return max(written, 0)

    def _found(
        self, requests: Sequence[ViewRead]
    ) -> tuple[list[tuple[int, ViewRead]], list[dict[str, int]], list[int], Sequence[Any]]:
        """The live rows of every requested view in ONE statement, decoded in one call.

        Returns the non-empty requests, per request a dict entity key -> row index, and the
        rows' timestamps and values.
        """
        wanted = [(i, r) for i, r in enumerate(requests) if r.entity_keys]
        if not wanted:
            return wanted, [], [], ()
        sql = " UNION ALL ".join(_READ_ONE.format(i=i) for i, _ in wanted)
        params: list[object] = []
        now_us = time.time_ns() // 1000
        for _, request in wanted:
            params += (
                check_view_name(request.view),
                orjson.dumps(list(request.entity_keys)),
                now_us,
            )
        with self._errors():
            found = self._conn().execute(sql, params).fetchall()
        positions: list[dict[str, int]] = [{} for _ in requests]
        for row, (i, key, _, _) in enumerate(found):
            positions[i][key] = row
        stamps = [ts for _, _, ts, _ in found]
        return wanted, positions, stamps, codec.unpack_many_values([p for *_, p in found])

    def read(self, requests: Sequence[ViewRead]) -> list[list[Record | None]]:
        results: list[list[Record | None]] = [[None] * len(r.entity_keys) for r in requests]
        wanted, positions, stamps, values = self._found(requests)
        records = list(map(Record, stamps, values))
        for i, request in wanted:
            where = positions[i]
            results[i] = [
                None if (at := where.get(key)) is None else records[at]
                for key in request.entity_keys
            ]
        return results

    def read_values(self, requests: Sequence[ViewRead]) -> list[list[tuple[Any, ...] | None]]:
        results: list[list[tuple[Any, ...] | None]] = [
            [None] * len(r.entity_keys) for r in requests
        ]
        wanted, positions, _, values = self._found(requests)
        for i, request in wanted:
            where = positions[i]
            results[i] = [
                None if (at := where.get(key)) is None else values[at]
                for key in request.entity_keys
            ]
        return results

    # A local file read of a few hundred keys takes tens of microseconds: cheaper on the event
    # loop than the hop to a worker thread. Larger reads still go to a thread.
    async def aread(self, requests: Sequence[ViewRead]) -> list[list[Record | None]]:
        if sum(len(r.entity_keys) for r in requests) <= _INLINE_KEYS:
            return self.read(requests)
        return await super().aread(requests)

    async def aread_values(
        self, requests: Sequence[ViewRead]
    ) -> list[list[tuple[Any, ...] | None]]:
        if sum(len(r.entity_keys) for r in requests) <= _INLINE_KEYS:
            return self.read_values(requests)
        return await super().aread_values(requests)

    def delete_view(self, view: str) -> int:
        with self._errors():
            cursor = self._conn().execute(
                "DELETE FROM online_features WHERE view = ?", (check_view_name(view),)
            )
        return max(cursor.rowcount, 0)

    def apply(self, views: Sequence[str]) -> None:
        for view in views:
            check_view_name(view)
        with self._errors():
            self._conn().execute(_SCHEMA)

    def teardown(self) -> None:
        with self._errors():
            self._conn().execute("DELETE FROM online_features")

    def ping(self) -> None:
        with self._errors():
            self._conn().execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()
