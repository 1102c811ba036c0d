"""Online reads over HTTP: the route of ``griffin server`` and the lean feature server, in-process
(ASGI), on SQLite and PostgreSQL, from the SQLite and the real Redis online stores."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from rest_helpers import API, assert_error

from griffin.accounts import service as accounts
from griffin.config import Settings
from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.features import registry
from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.on_demand import on_demand_feature_view
from griffin.features.online import encode_entity_key
from griffin.features.project import Definitions
from griffin.features.selection import storage_name
from griffin.features.services import FeatureService
from griffin.features.sources import PushSource, RequestSource
from griffin.platform import Platform, open_platform
from griffin.server import create_app
from griffin.server.feature_server import FeatureServer

ONLINE = f"{API}/projects/default/features/online"
ADMIN = Principal("alice", ALL_PROJECTS, Role.ADMIN)

driver = Entity("driver", ["driver_id"], dtype="int64")
stats = FeatureView(
    "driver_stats",
    [driver],
    [Feature("trips", "int64"), Feature("distance", "float64"), Feature("seen", "timestamp")],
    PushSource("driver_events", timestamp_field="ts"),
)


@on_demand_feature_view(
    sources=[stats[["distance"]], RequestSource("req", {"hours": "float64"})],
    features=[Feature("speed", "float64")],
)
def speed(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"speed": df["distance"] / df["hours"]})


DEFINITIONS = Definitions([stats, speed, FeatureService("eta", [stats[["trips"]], speed])])
SEEN = pd.Timestamp("2025-03-01T12:00:00Z").to_pydatetime()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def served(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> Iterator[Platform]:
    """A platform whose registry holds the definitions and whose online store has records."""
    url = (
        f"sqlite:///{tmp_path / 'online.db'}"
        if request.param == "sqlite"
        else f"redis://127.0.0.1:6379/0?prefix=test-{uuid.uuid4().hex}:"
    )
    platform = open_platform(settings.model_copy(update={"online_store": url}))
    registry.apply(platform.db, ADMIN, "default", DEFINITIONS)
    now = time.time_ns() // 1000
    store = platform.online_store()
    store.write_batch(
        storage_name(stats),
        [encode_entity_key([1]), encode_entity_key([2])],
        [now, now - 10_000_000],
        [[10, 30.0, SEEN], [20, float("nan"), None]],
    )
    store.write_batch(
        storage_name(stats),
        [encode_entity_key([3])],
        [now - 10_000_000],
        [[1, 1.0, None]],
        expire_after_s=5,
    )
    yield platform
    store.teardown()
    platform.close()


@pytest.fixture(params=["griffin-server", "feature-server"])
async def http(
    request: pytest.FixtureRequest, served: Platform, anyio_backend: str
) -> AsyncIterator[httpx.AsyncClient]:
    app: Any = (
        create_app(platform=served)
        if request.param == "griffin-server"
        else FeatureServer(served, definitions=Definitions([speed]))
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        client.headers["x-server"] = request.param
        yield client


@pytest.mark.anyio
async def test_online_features(http: httpx.AsyncClient) -> None:
    body = {
        "features": ["driver_stats:trips", "driver_stats:distance", "driver_stats:seen"],
        "entities": {"driver_id": [1, "2", 3, 4]},
    }
    response = await http.post(ONLINE, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    # NaN is null on the wire; 3 expired and 4 is unknown.
    assert response.json() == {
        "columns": {
            "driver_id": [1, 2, 3, 4],
            "trips": [10, 20, None, None],
            "distance": [30.0, None, None, None],
            "seen": ["2025-03-01T12:00:00Z", None, None, None],
        }
    }
    full = await http.post(
        ONLINE,
        json={
            "features": ["driver_stats:trips"],
            "entities": {"driver_id": [1]},
            "full_names": True,
        },
    )
    assert full.json()["columns"] == {"driver_id": [1], "driver_stats__trips": [10]}


@pytest.mark.anyio
async def test_feature_service_and_on_demand(http: httpx.AsyncClient) -> None:
    body = {
        "feature_service": "eta",
        "entities": {"driver_id": [1, 9]},
        "request_data": {"hours": 2},
    }
    response = await http.post(ONLINE, json=body)
    if http.headers["x-server"] == "griffin-server":
        # The registry keeps the function as text only: this server cannot run it.
        assert_error(response, 501, "NOT_SUPPORTED", "'speed'", "serve --definitions")
        return
    assert response.status_code == 200, response.text
    columns = response.json()["columns"]
    assert columns["trips"] == [10, None]
    assert columns["speed"] == [15.0, None]


@pytest.mark.anyio
async def test_bad_requests(http: httpx.AsyncClient) -> None:
    unknown = await http.post(
        ONLINE, json={"features": ["driver_stats:trip"], "entities": {"driver_id": [1]}}
    )
    assert_error(unknown, 400, "INVALID_ARGUMENT", "did you mean 'trips'")
    no_key = await http.post(
        ONLINE, json={"features": ["driver_stats"], "entities": {"driver": [1]}}
    )
    assert_error(no_key, 400, "INVALID_ARGUMENT", "no join key 'driver_id'")
    for body, fragment in [
        ({"entities": {"driver_id": [1]}}, "either 'features'"),
        ({"features": [], "entities": {}}, "non-empty list"),
        ({"features": ["driver_stats"], "entities": {"driver_id": 1}}, "must be a list"),
        ({"features": ["driver_stats"], "entities": {}, "nope": 1}, "unknown field 'nope'"),
        ({"features": ["driver_stats"], "entities": {}, "full_names": "yes"}, "true or false"),
    ]:
        assert_error(await http.post(ONLINE, json=body), 400, "INVALID_ARGUMENT", fragment)
    broken = await http.post(ONLINE, content=b"{", headers={"content-type": "application/json"})
    assert_error(broken, 400, "INVALID_ARGUMENT", "invalid JSON")
    missing = await http.post(
        f"{API}/projects/nope/features/online",
        json={"features": ["driver_stats"], "entities": {"driver_id": [1]}},
    )
    assert missing.status_code == 404


@pytest.mark.anyio
async def test_feature_server_routes_and_auth(served: Platform, anyio_backend: str) -> None:
    platform = open_platform(served.settings.model_copy(update={"auth": "required"}))
    try:
        _, secret = accounts.create_token(
            platform.db, None, user="bot", project="default", role=Role.VIEWER
        )
        app = FeatureServer(platform)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/healthz")).json()["status"] == "ok"
            assert (await client.get("/readyz")).status_code == 200
            assert_error(await client.get("/nope"), 404, "NOT_FOUND")
            assert_error(await client.get(ONLINE), 405, "METHOD_NOT_ALLOWED")
            body = {"features": ["driver_stats:trips"], "entities": {"driver_id": [1]}}
            assert_error(await client.post(ONLINE, json=body), 401, "UNAUTHENTICATED")
            bad = {"authorization": "Bearer nope"}
            assert (await client.post(ONLINE, json=body, headers=bad)).status_code == 401
            good = {"authorization": f"Bearer {secret}"}
            for _ in range(2):  # the second is answered from the token cache
                response = await client.post(ONLINE, json=body, headers=good)
                assert response.json() == {"columns": {"driver_id": [1], "trips": [10]}}
    finally:
        platform.close()
