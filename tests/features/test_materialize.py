"""Materialization into the real online stores (SQLite and Redis), and the view-state service.

Sources are parquet files in ``tmp_path``; values are read back with ``store.read`` under the
layout the online reader relies on: ``storage_name(view)``, ``encode_entity_key`` of the join
keys, every feature in order, event time in microseconds, TTL from the view.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.domain.feature_states import RunRecord
from griffin.errors import BackendUnavailable, InvalidArgument, NotFound, PermissionDenied
from griffin.features import materialize as service
from griffin.features import registry
from griffin.features.checks import freshness, in_range, not_null
from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.materialize import materialize
from griffin.features.online import (
    OnlineStore,
    Record,
    ViewRead,
    encode_entity_key,
    open_online_store,
)
from griffin.features.project import Definitions
from griffin.features.selection import storage_name
from griffin.features.sources import ParquetSource
from griffin.platform import Platform

T0 = datetime(2025, 1, 1, tzinfo=UTC)
US = 1_000_000
ADMIN = Principal("alice", ALL_PROJECTS, Role.ADMIN)


def us(value: datetime) -> int:
    return int(value.timestamp()) * US


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'online.db'}"
    else:
        url = f"redis://127.0.0.1:6379/0?prefix=test-{uuid.uuid4().hex}:"
    opened = open_online_store(url)
    try:
        yield opened
    finally:
        opened.teardown()
        opened.close()


def driver_view(path: Path, **kwargs: Any) -> FeatureView:
    driver = Entity("driver", ["driver_id"], dtype="int64")
    return FeatureView(
        "driver_stats",
        [driver],
        [Feature("trips", "int64"), Feature("rating", "float64"), Feature("city", "string")],
        ParquetSource(str(path), "ts", "created"),
        **kwargs,
    )


def write_parquet(path: Path, **columns: list[object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def history(folder: Path) -> None:
    """Two files: driver 1 has three events (one tie broken by created), 2 a tie broken by
    position (the later file wins), 3 only an event after the window end used below."""
    h = timedelta(hours=1)
    write_parquet(
        folder / "a.parquet",
        driver_id=[1, 1, 1, 2, 3],
        ts=[T0, T0 + h, T0 + h, T0, T0 + 50 * h],
        created=[T0, T0 + 2 * h, T0 + h, T0, T0],
        trips=[1, 2, 3, 10, 30],
        rating=[1, 2, 3, 4, 5],  # int64 in the file, float64 declared
        city=["a", "b", "c", "d", "e"],
    )
    write_parquet(
        folder / "b.parquet",
        driver_id=[2],
        ts=[T0],
        created=[T0],
        trips=[11],
        rating=[4.5],
        city=["later file"],
    )


def read(store: OnlineStore, view: FeatureView, *ids: object) -> list[Record | None]:
    keys = [encode_entity_key([i]) for i in ids]
    return store.read([ViewRead(storage_name(view), keys)])[0]


def test_latest_row_per_entity_with_the_reader_layout(store: OnlineStore, tmp_path: Path) -> None:
    history(tmp_path / "data")
    view = driver_view(tmp_path / "data")
    calls: list[tuple[str, int, int]] = []
    result = materialize(
        view,
        store,
        project="default",
        offline_root=str(tmp_path / "offline"),
        end=T0 + timedelta(days=1),
        progress=lambda *args: calls.append(args),
    )
    assert (result.rows, result.written, result.chunks) == (2, 2, 1)
    assert result.freshest_event == T0 + timedelta(hours=1)
    assert result.storage_name == storage_name(view)
    assert calls == [("driver_stats", 0, 2), ("driver_stats", 2, 2)]
    one, two, three = read(store, view, 1, 2, 3)
    # Driver 1: the newest event, and among equal events the newest created timestamp.
    assert one == Record(us(T0 + timedelta(hours=1)), (2, 2.0, "b"))
    assert isinstance(one.values[1], float)
    assert two == Record(us(T0), (11, 4.5, "later file"))
    assert three is None  # its event is after the window


def test_rerun_is_idempotent_and_windows_add_up(store: OnlineStore, tmp_path: Path) -> None:
    history(tmp_path / "data")
    view = driver_view(tmp_path / "data")
    args: dict[str, Any] = {"project": "default", "offline_root": str(tmp_path / "offline")}
    first = materialize(view, store, end=T0 + timedelta(days=1), **args)
    before = read(store, view, 1, 2, 3)
    # Same events again: rewritten with the same values (the store keeps same-or-newer).
    again = materialize(view, store, end=T0 + timedelta(days=1), **args)
    assert (first.rows, again.rows) == (2, 2)
    assert read(store, view, 1, 2, 3) == before
    later = materialize(
        view, store, start=T0 + timedelta(days=1), end=T0 + timedelta(days=5), **args
    )
    assert (later.rows, later.written) == (1, 1)
    assert read(store, view, 3) == [Record(us(T0 + timedelta(hours=50)), (30, 5.0, "e"))]
    # An older window never overwrites a newer record.
    older = materialize(view, store, end=T0 + timedelta(minutes=30), **args)
    assert (older.rows, older.written) == (2, 1)  # only driver 2's same event is rewritten
    assert read(store, view, 1)[0] == Record(us(T0 + timedelta(hours=1)), (2, 2.0, "b"))


def test_chunks_composite_keys_and_ttl(store: OnlineStore, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    n = 25
    write_parquet(
        tmp_path / "s.parquet",
        country=["fr"] * n,
        store_id=list(range(n)),
        ts=[now - timedelta(days=2) if i == 0 else now - timedelta(minutes=1) for i in range(n)],
        sales=[float(i) for i in range(n)],
    )
    shop = Entity("shop", dtype={"country": "string", "store_id": "int64"})
    view = FeatureView(
        "shop_sales",
        [shop],
        [Feature("sales", "float64")],
        ParquetSource(str(tmp_path / "s.parquet"), "ts"),
        ttl=timedelta(days=1),
    )
    result = materialize(
        view, store, project="default", offline_root=str(tmp_path), batch_size=10, end=now
    )
    assert (result.rows, result.chunks) == (n, 3)
    keys = [encode_entity_key(["fr", i]) for i in range(n)]
    got = store.read([ViewRead(storage_name(view), keys)])[0]
    assert got[0] is None  # its event is older than the TTL: expired on arrival
    assert got[1:] == [Record(us(now - timedelta(minutes=1)), (float(i),)) for i in range(1, n)]


def test_failing_checks_write_nothing(store: OnlineStore, tmp_path: Path) -> None:
    history(tmp_path / "data")
    view = driver_view(tmp_path / "data", checks=[in_range("trips", max=5), not_null("city")])
    with pytest.raises(InvalidArgument) as info:
        materialize(
            view, store, project="default", offline_root=str(tmp_path), end=T0 + timedelta(days=1)
        )
    [failure] = info.value.details["failures"]
    assert failure["check"] == "in_range"
    assert failure["columns"] == ["trips"]
    assert failure["failing_rows"] == 1
    assert failure["examples"] == [{"driver_id": 2, "trips": 11}]
    assert "in_range(trips)" in info.value.message
    assert read(store, view, 1, 2) == [None, None]


def test_bad_views_and_windows(store: OnlineStore, tmp_path: Path) -> None:
    history(tmp_path / "data")
    args: dict[str, Any] = {"project": "default", "offline_root": str(tmp_path)}
    offline = driver_view(tmp_path / "data", online=False)
    with pytest.raises(InvalidArgument, match="online=False"):
        materialize(offline, store, **args)
    with pytest.raises(InvalidArgument, match="not before its end"):
        materialize(driver_view(tmp_path / "data"), store, start=T0, end=T0, **args)
    write_parquet(tmp_path / "other.parquet", driver_id=[1], ts=[T0], trips=[1])
    with pytest.raises(InvalidArgument, match=r"no column.*'rating'"):
        materialize(driver_view(tmp_path / "other.parquet"), store, **args)


def test_redis_down_is_backend_unavailable(tmp_path: Path) -> None:
    history(tmp_path / "data")
    down = open_online_store("redis://127.0.0.1:1/0")
    with pytest.raises(BackendUnavailable, match=r"127\.0\.0\.1:1"):
        materialize(
            driver_view(tmp_path / "data"), down, project="default", offline_root=str(tmp_path)
        )
    down.close()


# --- the state service, on both metadata databases ---------------------------------------


def register(platform: Platform, tmp_path: Path) -> FeatureView:
    view = driver_view(tmp_path / "data", checks=[])
    fresh = FeatureView(
        "fresh_stats",
        list(view.entities),
        [Feature("trips", "int64")],
        ParquetSource(str(tmp_path / "data"), "ts"),
        checks=[freshness(timedelta(hours=1))],
    )
    registry.apply(platform.db, ADMIN, "default", Definitions([view, fresh]))
    return view


def test_state_service_records_runs(platform: Platform, tmp_path: Path) -> None:
    register(platform, tmp_path)
    db = platform.db
    empty = service.get_state(db, ADMIN, "default", "driver_stats")
    assert (empty.last_run_status, empty.watermark, empty.freshest_event) == ("", None, None)
    assert empty.registry_version == 1

    ok = RunRecord(
        "succeeded",
        None,
        T0 + timedelta(days=1),
        rows=2,
        watermark=T0 + timedelta(days=1),
        freshest_event=T0 + timedelta(hours=1),
        view_version=1,
    )
    state = service.record_run(db, ADMIN, "default", "driver_stats", ok)
    assert state.watermark == T0 + timedelta(days=1)
    assert (state.last_run_status, state.last_run_rows, state.view_version) == ("succeeded", 2, 1)
    assert state.age_s is not None
    assert state.age_s > 0
    assert state.breached is None  # no freshness check

    failed = RunRecord("failed", T0, T0 + timedelta(days=9), error="checks failed")
    state = service.record_run(db, ADMIN, "default", "driver_stats", failed)
    assert (state.last_run_status, state.last_run_error) == ("failed", "checks failed")
    assert state.watermark == T0 + timedelta(days=1)  # unchanged
    assert state.freshest_event == T0 + timedelta(hours=1)

    older = RunRecord("succeeded", None, T0, watermark=T0, freshest_event=T0)
    state = service.record_run(db, ADMIN, "default", "driver_stats", older)
    assert state.watermark == T0 + timedelta(days=1)  # never moves back
    assert state.freshest_event == T0 + timedelta(hours=1)

    listed = {s.view: s for s in service.list_states(db, ADMIN, "default")}
    assert listed["driver_stats"].watermark == T0 + timedelta(days=1)
    fresh = listed["fresh_stats"]
    assert (fresh.max_age_s, fresh.breached, fresh.age_s) == (3600.0, True, None)


def test_state_service_errors(platform: Platform, tmp_path: Path) -> None:
    register(platform, tmp_path)
    with pytest.raises(NotFound, match="did you mean 'driver_stats'"):
        service.get_state(platform.db, ADMIN, "default", "driver_stat")
    with pytest.raises(NotFound, match="driver_stat"):
        service.list_states(platform.db, ADMIN, "default", ["driver_stat"])
    viewer = Principal("bob", "default", Role.VIEWER)
    assert service.get_state(platform.db, viewer, "default", "driver_stats").view == "driver_stats"
    with pytest.raises(PermissionDenied):
        service.record_run(
            platform.db, viewer, "default", "driver_stats", RunRecord("failed", None, T0)
        )
