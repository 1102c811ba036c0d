"""The online read service: OnlineReader over SQLite and the real Redis, ProjectReaders over the
registry on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pandas as pd
import pyarrow as pa
import pytest

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.errors import InvalidArgument, NotSupported, PermissionDenied
from griffin.features import registry
from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.on_demand import on_demand_feature_view
from griffin.features.online import OnlineStore, ViewRead, encode_entity_key, open_online_store
from griffin.features.project import Definitions
from griffin.features.selection import storage_name
from griffin.features.services import FeatureService
from griffin.features.serving import OnlineReader, OnlineRequest, ProjectReaders
from griffin.features.sources import ParquetSource, PushSource, RequestSource
from griffin.platform import Platform

REDIS_URL = "redis://127.0.0.1:6379/0"
ADMIN = Principal("alice", ALL_PROJECTS, Role.ADMIN)

driver = Entity("driver", ["driver_id"], dtype="int64")
customer = Entity("customer", ["customer_id"], dtype="string")
stats = FeatureView(
    "driver_stats",
    [driver],
    [
        Feature("trips", "int64", default=0),
        Feature("rating", "float64"),
        Feature("distance", "float64"),
    ],
    ParquetSource("data/*.parquet", "ts"),
    ttl=timedelta(hours=1),
)
profile = FeatureView(
    "customer_profile",
    [customer],
    [Feature("age", "int64"), Feature("city", "string")],
    PushSource("profiles", timestamp_field="ts"),
)


@on_demand_feature_view(
    sources=[stats[["distance"]], RequestSource("req", {"hours": "float64"})],
    features=[Feature("speed", "float64")],
)
def speed(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"speed": df["distance"] / df["hours"]})


eta = FeatureService("eta", [stats[["trips"]], speed])
wide = FeatureService("wide", [stats[["trips"]], profile[["city"]]], full_names=True)
DEFINITIONS = Definitions([stats, profile, speed, eta, wide])


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    if request.param == "sqlite":
        opened = open_online_store(f"sqlite:///{tmp_path / 'online.db'}")
    else:
        opened = open_online_store(f"{REDIS_URL}?prefix=test-{uuid.uuid4().hex}:")
    try:
        yield opened
    finally:
        opened.close()
        with open_online_store(opened.url) as again:  # a test may have closed its own
            again.teardown()


def write(
    store: OnlineStore,
    view: FeatureView,
    rows: dict[Any, list[Any]],
    *,
    age_s: float = 0,
    ttl_s: float | None = None,
) -> None:
    """Records as materialization writes them: key in join-key order, every feature in order."""
    ts = time.time_ns() // 1000 - int(age_s * 1_000_000)
    keys = [encode_entity_key(k if isinstance(k, tuple) else [k]) for k in rows]
    store.write_batch(
        storage_name(view), keys, [ts] * len(keys), list(rows.values()), expire_after_s=ttl_s
    )


def fill(store: OnlineStore) -> None:
    write(store, stats, {1: [10, 4.5, 30.0], 2: [20, 4.9, 12.0]})
    write(store, profile, {"c1": [31, "Oslo"], "c2": [45, "Lima"]})


def test_views_with_different_entities_in_request_order(store: OnlineStore) -> None:
    fill(store)
    reader = OnlineReader(DEFINITIONS, store)
    features = ["driver_stats:rating", "customer_profile:city", "driver_stats:trips"]
    result = reader.read(features, {"driver_id": [2, "1", 3.0], "customer_id": ["c1", "c9", "c2"]})
    # Join keys first (cast to their types), then the features in the order asked for; an
    # unknown entity gets the feature's default (trips: 0) or None.
    assert result.to_dict() == {
        "driver_id": [2, 1, 3],
        "customer_id": ["c1", "c9", "c2"],
        "rating": [4.9, 4.5, None],
        "city": ["Oslo", None, "Lima"],
        "trips": [20, 10, 0],
    }
    assert len(result) == 3
    table = result.to_arrow()
    assert table.schema.field("trips").type == pa.int64()
    assert table.schema.field("city").type == pa.string()
    assert result.to_pandas()["rating"].isna().tolist() == [False, False, True]


def test_entity_row_shapes_agree(store: OnlineStore) -> None:
    fill(store)
    reader = OnlineReader(DEFINITIONS, store)
    expected = {"driver_id": [1, 5], "trips": [10, 0], "distance": [30.0, None]}
    features = ["driver_stats:trips", "driver_stats:distance"]
    shapes: list[Any] = [
        {"driver_id": [1, 5]},
        [{"driver_id": 1, "other": "x"}, {"driver_id": 5, "other": "y"}],
        pd.DataFrame({"driver_id": [1, 5]}),
        pa.table({"driver_id": [1, 5]}),
        {"driver_id": pd.Series([1, 5])},
    ]
    for rows in shapes:
        assert reader.read(features, rows).to_dict() == expected
    assert reader.read(features, {"driver_id": []}).to_dict() == {
        "driver_id": [],
        "trips": [],
        "distance": [],
    }


def test_one_round_trip_and_cached_plans(
    store: OnlineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(store)
    reader = OnlineReader(DEFINITIONS, store)
    calls: list[list[ViewRead]] = []
    original = store.read_values

    def counting(requests: list[ViewRead]) -> Any:
        calls.append(list(requests))
        return original(requests)

    monkeypatch.setattr(store, "read_values", counting)
    features = ("driver_stats:trips", "customer_profile:age")
    rows = {"driver_id": [1, 2], "customer_id": ["c2", "c1"]}
    first = reader.read(features, rows)
    assert (
        reader.read(features, rows).to_dict()
        == first.to_dict()
        == {
            **rows,
            "trips": [10, 20],
            "age": [45, 31],
        }
    )
    assert len(calls) == 2  # one store call per request, both views in it
    assert [r.view for r in calls[0]] == [storage_name(stats), storage_name(profile)]
    assert len(reader._plans) == 1


def test_feature_service_and_full_names(store: OnlineStore) -> None:
    fill(store)
    reader = OnlineReader(DEFINITIONS, store)
    got = reader.read("wide", {"driver_id": [1], "customer_id": ["c2"]}).to_dict()
    assert got == {
        "driver_id": [1],
        "customer_id": ["c2"],
        "driver_stats__trips": [10],
        "customer_profile__city": ["Lima"],
    }
    named = reader.read(["driver_stats:trips"], {"driver_id": [2]}, full_names=True)
    assert named.columns == ["driver_id", "driver_stats__trips"]
    # A bare view name is the whole view, not a service.
    assert reader.read("customer_profile", {"customer_id": ["c1"]}).to_dict() == {
        "customer_id": ["c1"],
        "age": [31],
        "city": ["Oslo"],
    }


def test_expired_records_are_null(store: OnlineStore) -> None:
    write(store, stats, {1: [10, 4.5, 30.0]}, ttl_s=3600)
    write(store, stats, {2: [20, 4.9, 12.0]}, age_s=7200, ttl_s=3600)
    reader = OnlineReader(DEFINITIONS, store)
    got = reader.read(["driver_stats:trips", "driver_stats:rating"], {"driver_id": [1, 2]})
    assert got.to_dict() == {"driver_id": [1, 2], "trips": [10, 0], "rating": [4.5, None]}


def test_on_demand_view_with_request_data(store: OnlineStore) -> None:
    fill(store)
    reader = OnlineReader(DEFINITIONS, store)
    rows = {"driver_id": [1, 2, 3]}
    got = reader.read("eta", rows, {"hours": 2}).to_dict()
    # The hidden input (distance) is dropped; a missing entity gives NaN, as pandas would.
    assert list(got) == ["driver_id", "trips", "speed"]
    assert got["trips"] == [10, 20, 0]
    assert got["speed"][:2] == [15.0, 6.0]
    assert pd.isna(got["speed"][2])
    per_row = reader.read(["speed", "driver_stats:distance"], rows, {"hours": ["3", 4, 1]})
    assert per_row.to_dict()["speed"][:2] == [10.0, 3.0]
    assert per_row.to_dict()["distance"] == [30.0, 12.0, None]
    # The request field may also come as an entity column.
    as_column = reader.read(["speed"], {"driver_id": [1], "hours": [5.0]})
    assert as_column.to_dict() == {"driver_id": [1], "speed": [6.0]}
    assert as_column.to_arrow().schema.field("speed").type == pa.float64()


def test_async_read_equals_sync(store: OnlineStore) -> None:
    fill(store)
    reader = OnlineReader(DEFINITIONS, store)
    rows = {"driver_id": [1, 9], "customer_id": ["c1", "c2"]}
    features = ["driver_stats:trips", "customer_profile:city", "speed"]
    expected = reader.read(features, rows, {"hours": 3}).to_dict()

    async def main() -> dict[str, list[Any]]:
        try:
            return (await reader.aread(features, rows, {"hours": 3})).to_dict()
        finally:
            await store.aclose()

    got = anyio.run(main)
    assert got.keys() == expected.keys()
    assert got["city"] == expected["city"] == ["Oslo", "Lima"]
    assert got["speed"][0] == expected["speed"][0] == 10.0


def test_bad_requests_say_what_is_wrong(store: OnlineStore) -> None:
    reader = OnlineReader(DEFINITIONS, store)
    with pytest.raises(InvalidArgument, match=r"no join key 'driver_id' \(there is 'driverid'"):
        reader.read(["driver_stats:trips"], {"driverid": [1]})
    with pytest.raises(InvalidArgument, match="did you mean 'trips'") as info:
        reader.read(["driver_stats:trip"], {"driver_id": [1]})
    assert info.value.details["close_matches"] == ["trips"]
    with pytest.raises(InvalidArgument, match="did you mean 'driver_stats'"):
        reader.read(["driver_stat:trips"], {"driver_id": [1]})
    with pytest.raises(InvalidArgument, match="unknown feature service 'et'"):
        reader.read("et", {"driver_id": [1]})
    with pytest.raises(InvalidArgument, match="request field 'hours' is missing"):
        reader.read("eta", {"driver_id": [1]})
    with pytest.raises(InvalidArgument, match="'x' is not a valid int64"):
        reader.read(["driver_stats:trips"], {"driver_id": ["x"]})
    with pytest.raises(InvalidArgument, match="has 1 values"):
        reader.read(
            ["driver_stats:trips", "customer_profile:age"],
            {"driver_id": [1, 2], "customer_id": ["c1"]},
        )
    with pytest.raises(InvalidArgument, match="entity row 1 has no 'driver_id'"):
        reader.read(["driver_stats:trips"], [{"driver_id": 1}, {"customer_id": "c1"}])
    rebuilt = Definitions.from_specs(DEFINITIONS.specs())  # as the server has them: no function
    with pytest.raises(NotSupported, match=r"'speed'.*no function.*pass your project"):
        OnlineReader(rebuilt, store).read("eta", {"driver_id": [1]}, {"hours": 1})


def test_project_readers_follow_the_registry(platform: Platform, tmp_path: Path) -> None:
    store = open_online_store(f"sqlite:///{tmp_path / 'online.db'}")
    try:
        registry.apply(platform.db, ADMIN, "default", Definitions([stats]))
        write(store, stats, {1: [10, 4.5, 30.0]})
        write(store, profile, {"c1": [31, "Oslo"]})
        readers = ProjectReaders(platform.db, store, ttl_s=60)
        request = OnlineRequest(["driver_stats:trips"], {"driver_id": [1]})
        assert readers.read(ADMIN, "default", request).to_dict() == {
            "driver_id": [1],
            "trips": [10],
        }
        # A view applied after the definitions were cached is found at once (unknown name).
        registry.apply(platform.db, ADMIN, "default", Definitions([stats, profile, speed]))
        readers._readers["default"] = (time.monotonic() - 2, readers._readers["default"][1])
        later = OnlineRequest(["customer_profile:city"], {"customer_id": ["c1"]})
        assert readers.read(ADMIN, "default", later).to_dict()["city"] == ["Oslo"]
        odfv = OnlineRequest(["speed"], {"driver_id": [1]}, {"hours": 2})
        with pytest.raises(NotSupported, match="griffin features serve --definitions"):
            readers.read(ADMIN, "default", odfv)
        local = ProjectReaders(platform.db, store, local=Definitions([speed]))
        assert anyio.run(local.aread, ADMIN, "default", odfv).to_dict()["speed"] == [15.0]
        with pytest.raises(PermissionDenied):
            readers.read(Principal("bob", "other", Role.VIEWER), "default", request)
    finally:
        store.close()
