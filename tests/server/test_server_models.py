"""The registry's REST routes: ETag/304 on the hot reads, and the status of each refusal."""

from __future__ import annotations

import httpx
import pytest
from rest_helpers import API, assert_error, new_run

pytestmark = pytest.mark.anyio

MODELS = f"{API}/projects/default/models"


async def _version(client: httpx.AsyncClient, run_id: str, **body: object) -> dict[str, object]:
    response = await client.post(
        f"{MODELS}/eta/versions",
        json={"source": f"runs:/{run_id}/model", "flavor": "sklearn", **body},
    )
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


async def test_alias_resolution_answers_304_until_the_alias_moves(
    client: httpx.AsyncClient,
) -> None:
    run_id = await new_run(client)
    await _version(client, run_id)
    await _version(client, run_id)
    put = await client.put(f"{MODELS}/eta/aliases/champion", json={"version": 1})
    assert put.json() == {
        "name": "eta",
        "alias": "champion",
        "from_version": None,
        "to_version": 1,
        "changed": True,
    }
    first = await client.get(f"{MODELS}/eta/aliases/champion")
    assert first.status_code == 200
    assert first.json()["version"] == 1
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    again = await client.get(f"{MODELS}/eta/aliases/champion", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    await client.put(f"{MODELS}/eta/aliases/champion", json={"version": 2})
    moved = await client.get(f"{MODELS}/eta/aliases/champion", headers={"if-none-match": etag})
    assert moved.status_code == 200
    assert moved.json()["version"] == 2
    assert moved.headers["etag"] != etag
    # A version's own ETag changes when an alias is added to it (its body lists aliases).
    v1 = await client.get(f"{MODELS}/eta/versions/1")
    await client.put(f"{MODELS}/eta/aliases/shadow", json={"version": 1})
    v1_again = await client.get(
        f"{MODELS}/eta/versions/1", headers={"if-none-match": v1.headers["etag"]}
    )
    assert v1_again.status_code == 200
    assert v1_again.json()["aliases"] == ["shadow"]
    latest = await client.get(f"{MODELS}/eta/aliases/latest")
    assert latest.json()["version"] == 2


async def test_refusals_have_the_right_status(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    await _version(client, run_id, metrics={"auc": 0.8})
    assert_error(
        await client.post(f"{MODELS}/eta/promote", json={"version": 1, "alias": "my champ"}),
        400,
        "INVALID_ARGUMENT",
        "invalid alias",
    )
    assert_error(
        await client.post(f"{MODELS}/eta/promote", json={"version": "other/1", "alias": "champ"}),
        400,
        "INVALID_ARGUMENT",
        "version of model 'other'",
    )
    assert_error(
        await client.post(
            f"{MODELS}/eta/promote",
            json={"version": 1, "alias": "champion", "require": ["auc>=0.85"]},
        ),
        409,
        "CONFLICT",
        "auc>=0.85: auc is 0.8",
    )
    assert_error(await client.get(f"{MODELS}/eta/aliases/champion"), 404, "NOT_FOUND", "no alias")
    assert_error(await client.get(f"{MODELS}/eta/versions/7"), 404, "NOT_FOUND", "no version 7")
    assert_error(await client.get(f"{MODELS}/nope"), 404, "NOT_FOUND", "'nope'")
    assert_error(
        await client.post(MODELS, json={"name": "eta"}), 409, "ALREADY_EXISTS", "already exists"
    )
    history = await client.get(f"{MODELS}/eta/alias-history")
    assert history.json() == {"items": []}
