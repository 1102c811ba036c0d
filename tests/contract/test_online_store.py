"""One contract, every online store: SQLite (a temporary file) and the real Redis.

The Redis variant uses the server on 127.0.0.1:6379 with a random key prefix per test, and
deletes its keys afterwards.
"""

from __future__ import annotations

import math
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest

from griffin import plugins
from griffin.config import load_settings
from griffin.errors import BackendUnavailable, ConfigError, InvalidArgument
from griffin.features.online import (
    OnlineStore,
    Record,
    ViewRead,
    encode_entity_key,
    open_online_store,
)
from griffin.features.online.redis import RedisOnlineStore
from griffin.features.online.sqlite import SqliteOnlineStore

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    if request.param == "sqlite":
        opened = open_online_store(f"sqlite:///{tmp_path / 'online.db'}")
        assert isinstance(opened, SqliteOnlineStore)
    else:
        opened = open_online_store(f"{REDIS_URL}?prefix=griffin-test-{uuid.uuid4().hex}:")
        assert isinstance(opened, RedisOnlineStore)
    opened.apply(["trips", "drivers"])
    try:
        yield opened
    finally:
        opened.close()
        # A fresh instance, since a test may have closed its own: closing must lose nothing.
        with open_online_store(opened.url) as again:
            again.teardown()


def _keys(*ids: object) -> list[str]:
    return [encode_entity_key([i]) for i in ids]


def _count_round_trips(store: OnlineStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each command (Redis) or statement (SQLite) the store sends from now on."""
    sent: list[str] = []
    if isinstance(store, RedisOnlineStore):
        client = store._client
        original: Callable[..., Any] = client.execute_command

        def counting(*args: Any, **kwargs: Any) -> Any:
            sent.append(str(args[0]))
            return original(*args, **kwargs)

        monkeypatch.setattr(client, "execute_command", counting)
    else:
        assert isinstance(store, SqliteOnlineStore)
        conn: sqlite3.Connection = store._conn()
        conn.set_trace_callback(sent.append)
    return sent


MIXED = [
    1.5,
    math.nan,
    math.inf,
    -math.inf,
    -(2**63),
    2**63 - 1,
    "naïve ☕",
    b"\x00\xff",
    None,
    True,
    False,
    [0.25, 0.5],
]


def test_mixed_values_round_trip(store: OnlineStore) -> None:
    assert store.write_batch("trips", _keys(1), [1_700_000_000_000_000], [MIXED]) == 1
    [[record]] = store.read([ViewRead("trips", _keys(1))])
    assert record is not None
    assert record.event_ts_us == 1_700_000_000_000_000
    values = record.values
    assert len(values) == len(MIXED)
    assert values[0] == 1.5
    assert math.isnan(values[1])
    assert values[2:6] == (math.inf, -math.inf, -(2**63), 2**63 - 1)
    assert values[6:9] == ("naïve ☕", b"\x00\xff", None)
    assert values[9] is True
    assert values[10] is False
    assert values[11] == (0.25, 0.5)


def test_numpy_values_and_negative_timestamps(store: OnlineStore) -> None:
    row = [np.int64(7), np.float32(0.5), np.array([1, 2, 3])]
    store.write_batch("trips", _keys(np.int64(1)), [-5], [row])
    [[record]] = store.read([ViewRead("trips", _keys(1))])
    assert record == Record(-5, (7, 0.5, (1, 2, 3)))
    store.write_batch("trips", _keys(1), [-6], [[0]])  # older, though both are negative
    assert store.read([ViewRead("trips", _keys(1))])[0][0] == record


def test_missing_entities_are_none_in_place(store: OnlineStore) -> None:
    store.write_batch("trips", _keys(1, 3), [10, 30], [[1], [3]])
    assert store.read([ViewRead("trips", _keys(0, 1, 2, 3, 1))]) == [
        [None, Record(10, (1,)), None, Record(30, (3,)), Record(10, (1,))]
    ]
    assert store.read([ViewRead("nothing_here", _keys(1)), ViewRead("trips", [])]) == [[None], []]
    assert store.read([]) == []


def test_many_views_in_one_round_trip(store: OnlineStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.write_batch("trips", _keys(1, 2), [10, 20], [[1.0, "a"], [2.0, "b"]])
    store.write_batch("drivers", _keys("d9"), [5], [[99]])
    sent = _count_round_trips(store, monkeypatch)
    result = store.read([ViewRead("trips", _keys(2, 1, 7)), ViewRead("drivers", _keys("d9", "d0"))])
    assert result == [
        [Record(20, (2.0, "b")), Record(10, (1.0, "a")), None],
        [Record(5, (99,)), None],
    ]
    assert len(sent) == 1, sent


def test_newer_wins_and_older_never_overwrites(store: OnlineStore) -> None:
    keys = _keys(1, 2)
    assert store.write_batch("trips", keys, [100, 100], [["first"], ["first"]]) == 2
    # A late backfill with older events changes nothing; a newer push replaces.
    assert store.write_batch("trips", keys, [50, 200], [["old"], ["new"]]) == 1
    assert store.read([ViewRead("trips", keys)]) == [
        [Record(100, ("first",)), Record(200, ("new",))]
    ]
    # Within one batch too: the newest of duplicates wins, whatever their order.
    store.write_batch("trips", _keys(3, 3, 4, 4), [9, 5, 5, 9], [["9"], ["5"], ["5"], ["9"]])
    assert store.read([ViewRead("trips", _keys(3, 4))]) == [[Record(9, ("9",)), Record(9, ("9",))]]


def test_rewriting_a_batch_is_idempotent(store: OnlineStore) -> None:
    keys = _keys(*range(10))
    rows = [[i, str(i)] for i in range(10)]
    store.write_batch("trips", keys, list(range(10)), rows)
    before = store.read([ViewRead("trips", keys)])
    store.write_batch("trips", keys, list(range(10)), rows)
    assert store.read([ViewRead("trips", keys)]) == before


def test_bulk_write_of_50k_entities(store: OnlineStore) -> None:
    n = 50_000
    keys = _keys(*range(n))
    rows = [[i * 0.5, i, f"c{i % 7}"] for i in range(n)]
    assert store.write_batch("trips", keys, [1_000 + i for i in range(n)], rows) == n
    sample = list(range(0, n, 997))
    [got] = store.read([ViewRead("trips", [keys[i] for i in sample])])
    assert got == [Record(1_000 + i, (i * 0.5, i, f"c{i % 7}")) for i in sample]


def test_records_expire_from_their_event_time(store: OnlineStore) -> None:
    now_us = time.time_ns() // 1000
    store.write_batch("trips", _keys(1), [now_us], [["fresh"]], expire_after_s=1)
    # Event time, not write time: a row whose event is already older than the TTL is stale.
    store.write_batch("trips", _keys(2), [now_us - 5_000_000], [["stale"]], expire_after_s=1)
    store.write_batch("trips", _keys(3), [now_us], [["kept"]])
    assert store.read([ViewRead("trips", _keys(1, 2, 3))]) == [
        [Record(now_us, ("fresh",)), None, Record(now_us, ("kept",))]
    ]
    time.sleep(1.2)
    assert store.read([ViewRead("trips", _keys(1, 2, 3))]) == [
        [None, None, Record(now_us, ("kept",))]
    ]


def test_delete_view_leaves_other_views(store: OnlineStore) -> None:
    store.write_batch("trips", _keys(1, 2, 3), [1, 1, 1], [[1], [2], [3]])
    store.write_batch("drivers", _keys(1), [1], [[1]])
    assert store.delete_view("trips") == 3
    assert store.delete_view("trips") == 0
    assert store.read([ViewRead("trips", _keys(1)), ViewRead("drivers", _keys(1))]) == [
        [None],
        [Record(1, (1,))],
    ]


def test_async_read_equals_sync_read(store: OnlineStore) -> None:
    store.write_batch("trips", _keys(1, 2), [10, 20], [[1.0], [math.inf]])
    store.write_batch("drivers", _keys(5), [5], [["x"]])
    requests = [ViewRead("trips", _keys(1, 2, 3)), ViewRead("drivers", _keys(5))]
    expected = store.read(requests)

    async def main() -> list[list[Record | None]]:
        try:
            return [await store.aread(requests), await store.aread(requests)][-1]
        finally:
            await store.aclose()

    assert anyio.run(main) == expected


def test_bad_arguments_are_invalid(store: OnlineStore) -> None:
    with pytest.raises(InvalidArgument, match="must match"):
        store.write_batch("trips", _keys(1, 2), [1], [[1], [2]])
    with pytest.raises(InvalidArgument, match="view name"):
        store.write_batch("a:b", _keys(1), [1], [[1]])
    with pytest.raises(InvalidArgument, match="view name"):
        store.read([ViewRead("trips*", _keys(1))])
    with pytest.raises(InvalidArgument, match="cannot be stored"):
        store.write_batch("trips", _keys(1), [1], [[object()]])
    with pytest.raises(InvalidArgument, match="int64"):
        store.write_batch("trips", _keys(1), [2**63], [[1]])
    with pytest.raises(InvalidArgument, match="positive"):
        store.write_batch("trips", _keys(1), [1], [[1]], expire_after_s=0)
    # Nothing was half-written by the failed calls.
    assert store.read([ViewRead("trips", _keys(1))]) == [[None]]


def test_ping(store: OnlineStore) -> None:
    store.ping()


def test_entity_keys_are_canonical() -> None:
    assert encode_entity_key(["us", 42]) == '["us",42]'
    assert encode_entity_key([np.int64(42)]) == encode_entity_key([42])
    with pytest.raises(InvalidArgument):
        encode_entity_key([object()])


@pytest.mark.parametrize("url", ["mongodb://host/db", "/just/a/path", "sqlite:///:memory:"])
def test_unusable_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        open_online_store(url)


def test_every_builtin_implements_the_protocol() -> None:
    for name in plugins.available("online_store"):
        assert issubclass(plugins.resolve("online_store", name), OnlineStore)


def test_default_setting_is_sqlite_in_home(tmp_path: Path) -> None:
    settings = load_settings(environ={"GRIFFIN_HOME": str(tmp_path)})
    assert settings.resolved_online_store == f"sqlite:///{tmp_path / 'online.db'}"
    store = open_online_store(settings.resolved_online_store)
    try:
        store.ping()
    finally:
        store.close()
    assert (tmp_path / "online.db").is_file()


def test_redis_down_is_backend_unavailable_with_masked_password() -> None:
    store = open_online_store("redis://:s3cret-pw@127.0.0.1:1/0")
    calls: list[Callable[[], object]] = [
        store.ping,
        lambda: store.read([ViewRead("trips", _keys(1))]),
        lambda: store.write_batch("trips", _keys(1), [1], [[1]]),
        lambda: anyio.run(store.aread, [ViewRead("trips", _keys(1))]),
    ]
    for call in calls:
        with pytest.raises(BackendUnavailable) as info:
            call()
        assert "127.0.0.1:1" in info.value.message
        assert "s3cret-pw" not in info.value.message
        assert "***" in info.value.message
    store.close()
