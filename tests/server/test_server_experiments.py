"""Experiments over REST: create, read, list (cursor pages), update, delete."""

from __future__ import annotations

import httpx
import pytest
from rest_helpers import API, assert_error, count

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.platform import Platform
from griffin.store import experiments, projects
from griffin.store.orm.tracking import ExperimentRow, ExperimentTagRow
from griffin.tracking import experiments as service

pytestmark = pytest.mark.anyio

EXPERIMENTS = f"{API}/projects/default/experiments"


async def test_create_and_get(client: httpx.AsyncClient) -> None:
    response = await client.post(
        EXPERIMENTS, json={"name": "eta", "description": "ETA model", "tags": {"team": "eta"}}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "eta"
    assert created["project"] == "default"
    assert created["description"] == "ETA model"
    assert created["lifecycle"] == "active"
    assert created["tags"] == {"team": "eta"}
    assert created["created_at"].endswith("Z") or created["created_at"].endswith("+00:00")

    by_name = await client.get(f"{EXPERIMENTS}/eta")
    by_id = await client.get(f"{EXPERIMENTS}/{created['id']}")
    assert by_name.status_code == by_id.status_code == 200
    assert by_name.json() == by_id.json() == created


async def test_duplicate_is_409_and_nothing_changes(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    assert (await client.post(EXPERIMENTS, json={"name": "eta"})).status_code == 201
    again = await client.post(EXPERIMENTS, json={"name": "eta", "tags": {"a": "b"}})
    assert_error(again, 409, "ALREADY_EXISTS", "'eta'", "already exists")
    assert again.json()["error"]["details"] == {"experiment": "eta", "project": "default"}
    assert count(platform, ExperimentRow) == 1
    assert count(platform, ExperimentTagRow) == 0


async def test_unknown_experiment_is_404_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{EXPERIMENTS}/ghost")
    assert_error(response, 404, "NOT_FOUND", "experiment 'ghost'", "project 'default'")
    assert response.json()["error"]["details"] == {"experiment": "ghost", "project": "default"}
    patched = await client.patch(f"{EXPERIMENTS}/ghost", json={"description": "x"})
    assert_error(patched, 404, "NOT_FOUND", "'ghost'")
    deleted = await client.delete(f"{EXPERIMENTS}/ghost")
    assert_error(deleted, 404, "NOT_FOUND", "'ghost'")


async def test_unknown_project_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/projects/nowhere/experiments")
    assert_error(response, 404, "NOT_FOUND", "project 'nowhere'")
    created = await client.post(f"{API}/projects/nowhere/experiments", json={"name": "x"})
    assert_error(created, 404, "NOT_FOUND", "project 'nowhere'")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "../etc"}, "experiment name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 257}, "name"),
        ({"name": "ok", "tags": {"a/../b": "v"}}, "tag key"),
        ({"name": "ok", "tags": {"k": "v" * 8001}}, "tags.k"),
        ({"name": "ok", "colour": "red"}, "colour"),
        ({}, "name"),
    ],
)
async def test_invalid_create_names_the_field(
    sqlite_client: httpx.AsyncClient,
    sqlite_platform: Platform,
    body: dict[str, object],
    field: str,
) -> None:
    response = await sqlite_client.post(EXPERIMENTS, json=body)
    assert_error(response, 400, "INVALID_ARGUMENT", field)
    assert response.json()["error"]["details"]["field"] == field
    assert count(sqlite_platform, ExperimentRow) == 0


async def test_update_renames_and_merges_tags(client: httpx.AsyncClient) -> None:
    await client.post(EXPERIMENTS, json={"name": "eta", "tags": {"a": "1", "b": "2"}})
    response = await client.patch(
        f"{EXPERIMENTS}/eta", json={"name": "eta-v2", "description": "new", "tags": {"b": "3"}}
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "eta-v2"
    assert updated["description"] == "new"
    assert updated["tags"] == {"a": "1", "b": "3"}
    assert updated["updated_at"] >= updated["created_at"]
    assert (await client.get(f"{EXPERIMENTS}/eta")).status_code == 404
    assert (await client.get(f"{EXPERIMENTS}/eta-v2")).json() == updated


async def test_rename_onto_an_existing_name_is_409(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await client.post(EXPERIMENTS, json={"name": "a"})
    await client.post(EXPERIMENTS, json={"name": "b"})
    response = await client.patch(f"{EXPERIMENTS}/a", json={"name": "b", "description": "x"})
    assert_error(response, 409, "ALREADY_EXISTS", "'b'", "already exists")
    assert (await client.get(f"{EXPERIMENTS}/a")).json()["description"] == ""
    assert count(platform, ExperimentRow, name="b") == 1


async def test_delete_hides_the_experiment_from_lists(client: httpx.AsyncClient) -> None:
    await client.post(EXPERIMENTS, json={"name": "keep"})
    await client.post(EXPERIMENTS, json={"name": "drop"})
    response = await client.delete(f"{EXPERIMENTS}/drop")
    assert response.status_code == 204
    assert response.content == b""
    listed = (await client.get(EXPERIMENTS)).json()
    assert [e["name"] for e in listed["items"]] == ["keep"]
    everything = (await client.get(EXPERIMENTS, params={"include_deleted": "true"})).json()
    assert {e["name"]: e["lifecycle"] for e in everything["items"]} == {
        "drop": "deleted",
        "keep": "active",
    }
    # The data stays: it can still be read by name.
    assert (await client.get(f"{EXPERIMENTS}/drop")).json()["lifecycle"] == "deleted"


async def test_list_filters_by_name(client: httpx.AsyncClient) -> None:
    for name in ("eta_a", "eta_b", "other", "100%", "1000"):
        await client.post(EXPERIMENTS, json={"name": name})
    found = (await client.get(EXPERIMENTS, params={"name_contains": "eta_"})).json()
    assert [e["name"] for e in found["items"]] == ["eta_a", "eta_b"]
    # LIKE wildcards in the text are taken literally.
    literal = (await client.get(EXPERIMENTS, params={"name_contains": "0%"})).json()
    assert [e["name"] for e in literal["items"]] == []


async def test_cursor_pages_cover_every_experiment_once(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    admin = Principal("test", ALL_PROJECTS, Role.ADMIN)
    names = {f"exp-{i:03d}" for i in range(250)}
    with platform.db.session(write=True) as session:
        project = projects.get_row(session, "default")
        for name in names:
            experiments.create(session, project, name)
    service.update_experiment(platform.db, admin, "default", "exp-000", description="touched")
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 40}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(EXPERIMENTS, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        assert len(page["items"]) <= 40
        seen += [e["name"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 7
    assert len(seen) == len(set(seen)) == 250
    assert set(seen) == names
    assert seen == sorted(seen)


@pytest.mark.parametrize("cursor", ["garbage!", "bm90IGpzb24", "WzFd", "W10"])
async def test_bad_cursor_is_400(sqlite_client: httpx.AsyncClient, cursor: str) -> None:
    response = await sqlite_client.get(EXPERIMENTS, params={"cursor": cursor})
    assert_error(response, 400, "INVALID_ARGUMENT", "invalid page cursor")
    assert response.json()["error"]["details"] == {"field": "cursor"}


@pytest.mark.parametrize("limit", ["0", "1001", "ten"])
async def test_bad_limit_is_400(sqlite_client: httpx.AsyncClient, limit: str) -> None:
    response = await sqlite_client.get(EXPERIMENTS, params={"limit": limit})
    assert_error(response, 400, "INVALID_ARGUMENT", "limit")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"name": "x",}', "invalid JSON body at position 13"),
        (b"{bad", "invalid JSON body at position 1"),
        (b"[1]", "valid dictionary"),
    ],
)
async def test_malformed_json_is_400(
    sqlite_client: httpx.AsyncClient, sqlite_platform: Platform, content: bytes, fragment: str
) -> None:
    response = await sqlite_client.post(
        EXPERIMENTS, content=content, headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "INVALID_ARGUMENT", fragment)
    assert count(sqlite_platform, ExperimentRow) == 0
