"""Online feature reads through the SDK, sync and async, on both transports and both databases,
from SQLite and from the real Redis."""

from __future__ import annotations

import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from sdk_helpers import Connect

from griffin.client import Client
from griffin.errors import InvalidArgument, NotSupported
from griffin.features.online import OnlineStore, encode_entity_key, open_online_store
from griffin.features.project import load_definitions
from griffin.features.selection import storage_name

FEATURES_PY = """
import pandas as pd

from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.on_demand import on_demand_feature_view
from griffin.features.services import FeatureService
from griffin.features.sources import PushSource, RequestSource

driver = Entity("driver", ["driver_id"], dtype="int64")
customer = Entity("customer", ["customer_id"], dtype="string")
stats = FeatureView(
    "driver_stats",
    [driver],
    [Feature("trips", "int64"), Feature("distance", "float64")],
    PushSource("driver_events", timestamp_field="ts"),
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


eta = FeatureService("eta", [stats[["trips"]], profile[["city"]], speed])
"""


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def online_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'online.db'}"
    else:
        url = f"redis://127.0.0.1:6379/0?prefix=test-{uuid.uuid4().hex}:"
    yield url
    with open_online_store(url) as store:
        store.teardown()


def project(folder: Path, store: OnlineStore, client: Client, *, expired: bool = False) -> Path:
    """Apply the definitions through the SDK and write records as materialization does."""
    path = folder / "features.py"
    path.write_text(textwrap.dedent(FEATURES_PY))
    client.apply_features(path, check_sources=False)
    definitions = load_definitions(path)
    now = time.time_ns() // 1000
    stats = definitions.get("feature_view", "driver_stats")
    profile = definitions.get("feature_view", "customer_profile")
    store.write_batch(
        storage_name(stats),  # type: ignore[arg-type]
        [encode_entity_key([1]), encode_entity_key([2])],
        [now, now - 10_000_000],
        [[10, 30.0], [20, 12.0]],
        expire_after_s=5 if expired else None,
    )
    store.write_batch(
        storage_name(profile),  # type: ignore[arg-type]
        [encode_entity_key(["c1"])],
        [now],
        [[31, "Oslo"]],
    )
    return path


def test_reads_sync_and_async(connect: Connect, online_url: str, tmp_path: Path) -> None:
    client = connect(online_store=online_url)
    with open_online_store(online_url) as store:
        path = project(tmp_path, store, client, expired=True)
    rows = {"driver_id": [1, 2, 3], "customer_id": ["c1", "c1", "nobody"]}
    got = client.get_online_features(
        ["driver_stats:trips", "customer_profile:city"], rows
    ).to_dict()
    # Driver 2's record is older than its 5 s TTL: expired, so null like the unknown 3.
    assert got == {**rows, "trips": [10, None, None], "city": ["Oslo", "Oslo", None]}
    full = client.get_online_features(["driver_stats:trips"], {"driver_id": [1]}, full_names=True)
    assert full.columns == ["driver_id", "driver_stats__trips"]

    served = client.get_online_features(
        "eta",
        [{"driver_id": 1, "customer_id": "c1"}],
        request_data={"hours": 2},
        definitions=path,
    )
    assert served.to_dict() == {
        "driver_id": [1],
        "customer_id": ["c1"],
        "trips": [10],
        "city": ["Oslo"],
        "speed": [15.0],
    }
    with pytest.raises(NotSupported, match="pass definitions="):
        client.get_online_features("eta", rows, request_data={"hours": 2})

    async def main() -> dict[str, list[Any]]:
        result = await client.get_online_features_async(
            ["driver_stats:trips", "speed"],
            {"driver_id": [1, 3]},
            request_data={"hours": [3, 1]},
            definitions=path,
        )
        return result.to_dict()

    async_got = anyio.run(main)
    assert async_got["trips"] == [10, None]
    assert async_got["speed"][0] == 10.0


def test_errors_and_registry_refresh(connect: Connect, online_url: str, tmp_path: Path) -> None:
    client = connect(online_store=online_url)
    with open_online_store(online_url) as store:
        project(tmp_path, store, client)
    with pytest.raises(InvalidArgument, match="did you mean 'trips'"):
        client.get_online_features(["driver_stats:trip"], {"driver_id": [1]})
    with pytest.raises(InvalidArgument, match="no join key 'driver_id'"):
        client.get_online_features(["driver_stats:trips"], {"customer_id": ["c1"]})
    assert client.get_online_features(["driver_stats:trips"], {"driver_id": [1]}).to_dict() == {
        "driver_id": [1],
        "trips": [10],
    }
    # A new view applied elsewhere: the cached definitions do not know it, refresh_features()
    # (or the next refresh) does.
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "features.py").write_text(
        textwrap.dedent(FEATURES_PY)
        + textwrap.dedent(
            """
            ratings = FeatureView(
                "driver_ratings", [driver], [Feature("stars", "float64")],
                PushSource("ratings", timestamp_field="ts"),
            )
            """
        )
    )
    client.apply_features(extra / "features.py", check_sources=False)
    client.refresh_features()
    got = client.get_online_features(["driver_ratings:stars"], {"driver_id": [1]})
    assert got.to_dict() == {"driver_id": [1], "stars": [None]}
    client.close()
    assert client._online_store is None


def test_http_client_without_online_store_asks_the_server(
    connect: Connect, transport: str, tmp_path: Path
) -> None:
    if transport != "http":
        pytest.skip("only a client of a remote server falls back to the REST route")
    client = connect()
    server_store = open_online_store(client.settings.resolved_online_store)
    try:
        project(tmp_path, server_store, client)
    finally:
        server_store.close()
    got = client.get_online_features(["driver_stats:trips"], {"driver_id": [1, 5]})
    assert got.to_dict() == {"driver_id": [1, 5], "trips": [10, None]}
    assert client._online_store is None  # nothing opened locally
    with pytest.raises(InvalidArgument, match="did you mean 'trips'"):
        client.get_online_features("driver_stats:trip", {"driver_id": [1]})
