"""The push service: checks, the offline push log (read back by ``view_data``), the online
store (SQLite and the real Redis) and the view state, on both metadata databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from griffin.config import Settings
from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.errors import BackendUnavailable, InvalidArgument, NotFound, PermissionDenied
from griffin.features import materialize as states
from griffin.features import registry
from griffin.features.checks import in_range, not_null
from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.offline.reader import push_log_dir, source_clause, view_data
from griffin.features.online import Record, ViewRead, encode_entity_key
from griffin.features.project import Definitions
from griffin.features.push import push
from griffin.features.selection import storage_name
from griffin.features.sources import ParquetSource, PushSource
from griffin.platform import Platform, open_platform

ADMIN = Principal("alice", ALL_PROJECTS, Role.ADMIN)
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def definitions() -> Definitions:
    driver = Entity("driver", ["driver_id"], dtype="int64")
    live = FeatureView(
        "driver_live",
        [driver],
        [Feature("trips", "int64"), Feature("speed", "float64")],
        PushSource("driver_push", timestamp_field="event_timestamp"),
        checks=[not_null("trips"), in_range("speed", min=0)],
    )
    batch = FeatureView(
        "driver_batch",
        [driver],
        [Feature("trips", "int64")],
        ParquetSource("nowhere/*.parquet", "ts"),
    )
    return Definitions([live, batch])


def open_with(settings: Settings, tmp_path: Path, online_store: str) -> Platform:
    changed = settings.model_copy(
        update={"online_store": online_store, "offline_root": str(tmp_path / "offline")}
    )
    opened = open_platform(changed)
    registry.apply(opened.db, ADMIN, "default", definitions())
    return opened


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def online(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'online.db'}"
    return f"redis://127.0.0.1:6379/0?prefix=test-{uuid.uuid4().hex}:"


@pytest.fixture
def pushing(settings: Settings, tmp_path: Path, online: str) -> Iterator[Platform]:
    opened = open_with(settings, tmp_path, online)
    try:
        yield opened
    finally:
        opened.online_store().teardown()
        opened.close()


def rows(ids: list[int], hours: list[int], trips: list[int | None], speed: list[float]) -> pa.Table:
    return pa.table(
        {
            "driver_id": ids,
            "event_timestamp": [T0 + timedelta(hours=h) for h in hours],
            "trips": trips,
            "speed": speed,
        }
    )


def view_of(platform: Platform) -> FeatureView:
    from griffin.features.push import load_view

    return load_view(platform, ADMIN, "default", "driver_live")


def log_rows(platform: Platform) -> list[dict[str, object]]:
    view = view_of(platform)
    assert isinstance(view.source, PushSource)
    data = view_data(
        view.source,
        offline_root=platform.settings.resolved_offline_root,
        project="default",
        view="driver_live",
    )
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    clause, _ = source_clause(con, data, "pushed", position=False)
    table = con.sql(
        f"SELECT driver_id, epoch_us(event_timestamp) AS ts, trips, speed FROM {clause} "
        "ORDER BY ts, driver_id"
    ).fetchall()
    con.close()
    return [dict(zip(["driver_id", "ts", "trips", "speed"], r, strict=True)) for r in table]


def test_push_writes_the_log_then_online_then_state(pushing: Platform) -> None:
    result = push(
        pushing,
        ADMIN,
        "default",
        "driver_live",
        rows([1, 1, 2], [0, 2, 1], [1, 2, 3], [0.5, 1.5, 2.5]),
    )
    assert (result.rows, result.written) == (3, 2)
    assert result.freshest_event == T0 + timedelta(hours=2)
    assert Path(result.offline_path).is_file()
    assert Path(result.offline_path).parent == Path(
        push_log_dir(pushing.settings.resolved_offline_root, "default", "driver_live")
    )
    view = view_of(pushing)
    keys = [encode_entity_key([i]) for i in (1, 2, 3)]
    hour = 3_600_000_000
    base = int(T0.timestamp()) * 1_000_000
    assert pushing.online_store().read([ViewRead(storage_name(view), keys)]) == [
        [Record(base + 2 * hour, (2, 1.5)), Record(base + hour, (3, 2.5)), None]
    ]
    # Training data sees the same history: every pushed row, typed, in the log.
    assert log_rows(pushing) == [
        {"driver_id": 1, "ts": base, "trips": 1, "speed": 0.5},
        {"driver_id": 2, "ts": base + hour, "trips": 3, "speed": 2.5},
        {"driver_id": 1, "ts": base + 2 * hour, "trips": 2, "speed": 1.5},
    ]
    state = states.get_state(pushing.db, ADMIN, "default", "driver_live")
    assert (state.pushed_rows, state.freshest_event) == (3, T0 + timedelta(hours=2))
    assert state.last_push_at is not None

    # A late push of an older event lands in the log but never overwrites a fresher value.
    late = push(pushing, ADMIN, "default", "driver_live", rows([1], [1], [99], [9.0]))
    assert (late.rows, late.written) == (1, 0)
    assert pushing.online_store().read([ViewRead(storage_name(view), keys[:1])]) == [
        [Record(base + 2 * hour, (2, 1.5))]
    ]
    assert len(log_rows(pushing)) == 4
    state = states.get_state(pushing.db, ADMIN, "default", "driver_live")
    assert (state.pushed_rows, state.freshest_event) == (4, T0 + timedelta(hours=2))


def test_failing_checks_write_nothing(pushing: Platform) -> None:
    with pytest.raises(InvalidArgument) as info:
        push(pushing, ADMIN, "default", "driver_live", rows([1, 2], [0, 0], [None, 1], [1.0, -3.0]))
    failures = {f["check"]: f for f in info.value.details["failures"]}
    assert failures["not_null"]["examples"] == [{"driver_id": 1, "trips": None}]
    assert failures["in_range"]["examples"] == [{"driver_id": 2, "speed": -3.0}]
    log = Path(push_log_dir(pushing.settings.resolved_offline_root, "default", "driver_live"))
    assert not log.exists()
    view = view_of(pushing)
    keys = [encode_entity_key([i]) for i in (1, 2)]
    assert pushing.online_store().read([ViewRead(storage_name(view), keys)]) == [[None, None]]
    state = states.get_state(pushing.db, ADMIN, "default", "driver_live")
    assert (state.pushed_rows, state.last_push_at) == (0, None)


@pytest.mark.parametrize("online", ["sqlite"], indirect=True)
def test_bad_pushes_are_refused(pushing: Platform) -> None:
    good = rows([1], [0], [1], [1.0])
    with pytest.raises(NotFound, match="did you mean 'driver_live'"):
        push(pushing, ADMIN, "default", "driver_lve", good)
    with pytest.raises(InvalidArgument, match="only views with a PushSource"):
        push(pushing, ADMIN, "default", "driver_batch", good.drop_columns(["speed"]))
    with pytest.raises(InvalidArgument, match="unexpected column"):
        push(pushing, ADMIN, "default", "driver_live", good.append_column("oops", [[1]]))
    with pytest.raises(InvalidArgument, match="missing column"):
        push(pushing, ADMIN, "default", "driver_live", good.drop_columns(["trips"]))
    nulls = good.set_column(0, "driver_id", pa.array([None], pa.int64()))
    with pytest.raises(InvalidArgument, match="'driver_id' has 1 null"):
        push(pushing, ADMIN, "default", "driver_live", nulls)
    with pytest.raises(InvalidArgument, match="cannot be read as int64"):
        push(pushing, ADMIN, "default", "driver_live", good.set_column(2, "trips", [[1.5]]))
    viewer = Principal("bob", "default", Role.VIEWER)
    with pytest.raises(PermissionDenied):
        push(pushing, viewer, "default", "driver_live", good)
    empty = push(pushing, ADMIN, "default", "driver_live", good.slice(0, 0))
    assert (empty.rows, empty.offline_path) == (0, "")


def test_store_down_writes_nothing(settings: Settings, tmp_path: Path) -> None:
    down = open_with(settings, tmp_path, "redis://127.0.0.1:1/0")
    try:
        with pytest.raises(BackendUnavailable, match=r"127\.0\.0\.1:1"):
            push(down, ADMIN, "default", "driver_live", rows([1], [0], [1], [1.0]))
        log = Path(push_log_dir(down.settings.resolved_offline_root, "default", "driver_live"))
        assert not log.exists()
        state = states.get_state(down.db, ADMIN, "default", "driver_live")
        assert (state.pushed_rows, state.freshest_event, state.updated_at) == (0, None, None)
    finally:
        down.close()
