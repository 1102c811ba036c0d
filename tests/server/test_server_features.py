"""The feature registry over REST: plan, apply, list, show, errors and roles."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from rest_helpers import API, assert_error

from griffin.accounts import service as accounts
from griffin.domain.accounts import Role
from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.project import Definitions
from griffin.features.sources import ParquetSource
from griffin.platform import Platform

pytestmark = pytest.mark.anyio

FEATURES = f"{API}/projects/default/features"


def specs(trips: str = "int64") -> list[dict[str, Any]]:
    driver = Entity("driver", ["driver_id"], dtype="int64")
    stats = FeatureView(
        "driver_stats",
        [driver],
        [Feature("trips", trips)],
        ParquetSource("data/*.parquet", "ts"),
        ttl=timedelta(days=1),
        tags={"team": "rides"},
    )
    return Definitions([stats]).specs()


async def test_plan_apply_update_and_read_versions(client: httpx.AsyncClient) -> None:
    planned = await client.post(f"{FEATURES}/plan", json={"specs": specs()})
    assert planned.status_code == 200, planned.text
    assert [i["action"] for i in planned.json()["items"]] == ["create", "create"]
    applied = (await client.post(f"{FEATURES}/apply", json={"specs": specs()})).json()
    assert applied["applied"]
    assert [i["new_version"] for i in applied["items"]] == [1, 1]

    update = (await client.post(f"{FEATURES}/plan", json={"specs": specs("float64")})).json()
    item = update["items"][1]
    assert item["action"] == "update"
    assert item["changes"] == [
        {"path": "features[trips].dtype", "op": "changed", "old": "int64", "new": "float64"}
    ]
    await client.post(f"{FEATURES}/apply", json={"specs": specs("float64")})

    shown = (await client.get(f"{FEATURES}/feature_view/driver_stats")).json()
    assert shown["version"] == 2
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    first = await client.get(f"{FEATURES}/feature_view/driver_stats", params={"version": 1})
    assert first.json()["spec"]["features"][0]["dtype"] == "int64"

    listed = (await client.get(FEATURES, params={"tag": "team=rides"})).json()["items"]
    assert [(o["kind"], o["name"], o["version"]) for o in listed] == [
        ("feature_view", "driver_stats", 2)
    ]
    by_entity = (await client.get(FEATURES, params={"entity": "driver"})).json()["items"]
    assert [o["name"] for o in by_entity] == ["driver", "driver_stats"]


async def test_unknown_object_is_404_with_close_matches(client: httpx.AsyncClient) -> None:
    await client.post(f"{FEATURES}/apply", json={"specs": specs()})
    response = await client.get(f"{FEATURES}/feature_view/driver_stat")
    assert_error(response, 404, "NOT_FOUND", "driver_stat", "did you mean 'driver_stats'")
    assert_error(await client.get(f"{API}/projects/nope/features"), 404, "NOT_FOUND", "nope")


async def test_on_demand_source_is_stored_never_run(
    sqlite_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    source = f"def f(df):\n    open({str(marker)!r}, 'w').close()\n    return df\n"
    odfv = {
        "description": "",
        "features": [{"description": "", "dtype": "float64", "name": "x"}],
        "kind": "on_demand_feature_view",
        "name": "odfv",
        "owner": "",
        "sources": [{"features": ["trips"], "view": "driver_stats"}],
        "tags": {},
        "udf": {
            "name": "f",
            "sha256": hashlib.sha256(source.encode()).hexdigest(),
            "source": source,
        },
    }
    body = {"specs": [*specs(), odfv]}
    response = await sqlite_client.post(f"{FEATURES}/apply", json=body)
    assert response.status_code == 200, response.text
    stored = (await sqlite_client.get(f"{FEATURES}/on_demand_feature_view/odfv")).json()
    assert stored["spec"]["udf"]["source"] == source
    assert not marker.exists()


async def test_bad_bodies_are_400(sqlite_client: httpx.AsyncClient) -> None:
    bad = await sqlite_client.post(f"{FEATURES}/plan", json={"specs": [{"kind": "table"}]})
    assert_error(bad, 400, "INVALID_ARGUMENT", "table")
    broken = specs()[1] | {"ttl_seconds": "x"}
    assert (
        await sqlite_client.post(f"{FEATURES}/plan", json={"specs": [broken]})
    ).status_code == 400
    extra = await sqlite_client.post(f"{FEATURES}/plan", json={"specs": [], "more": 1})
    assert extra.status_code in (400, 422)
    kind = await sqlite_client.get(f"{FEATURES}/views/x")
    assert_error(kind, 400, "INVALID_ARGUMENT", "unknown feature object kind")


async def test_viewer_cannot_apply(auth_platform: Platform, auth_client: httpx.AsyncClient) -> None:
    _, secret = accounts.create_token(
        auth_platform.db, None, user="vic", project="default", role=Role.VIEWER
    )
    headers = {"authorization": f"Bearer {secret}"}
    body = {"specs": specs()}
    assert (await auth_client.post(f"{FEATURES}/plan", json=body, headers=headers)).is_success
    denied = await auth_client.post(f"{FEATURES}/apply", json=body, headers=headers)
    assert_error(denied, 403, "PERMISSION_DENIED", "editor")
    assert (await auth_client.get(FEATURES, headers=headers)).json() == {"items": []}
