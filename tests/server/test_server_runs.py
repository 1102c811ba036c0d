"""Runs over REST: creation, status changes and their history, listing pages, deletion."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from rest_helpers import API, assert_error, count, new_run
from sqlalchemy import select, update

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.platform import Platform
from griffin.store.orm.tracking import ExperimentRow, ParamRow, RunRow, RunStatusRow, RunTagRow
from griffin.tracking import runs as service

pytestmark = pytest.mark.anyio

RUNS = f"{API}/projects/default/runs"


def _history(platform: Platform, run_id: str) -> list[tuple[str, str]]:
    with platform.db.session() as session:
        rows = session.scalars(
            select(RunStatusRow).where(RunStatusRow.run_id == run_id).order_by(RunStatusRow.id)
        )
        return [(r.status, r.reason) for r in rows]


async def test_create_run_creates_the_experiment(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    response = await client.post(
        RUNS,
        json={
            "experiment": "eta",
            "name": "first",
            "params": {"lr": "0.1"},
            "tags": {"team": "eta"},
        },
        headers={"x-griffin-user": "alice"},
    )
    assert response.status_code == 201, response.text
    run = response.json()
    assert run["experiment"] == "eta"
    assert run["project"] == "default"
    assert run["name"] == "first"
    assert run["user"] == "alice"
    assert run["status"] == "RUNNING"
    assert run["lifecycle"] == "active"
    assert run["params"] == {"lr": "0.1"}
    assert run["tags"] == {"team": "eta"}
    assert run["metrics"] == {}
    assert run["ended_at"] is None
    assert run["parent_run_id"] is None
    assert [(h["status"], h["reason"]) for h in run["history"]] == [("RUNNING", "started")]
    assert run["artifact_uri"].endswith(f"/{run['id']}/artifacts")
    assert run["artifact_uri"].startswith(platform.settings.resolved_artifact_root)
    experiment = (await client.get(f"{API}/projects/default/experiments/eta")).json()
    assert experiment["id"] == run["experiment_id"]

    # A second run reuses the experiment.
    second = (await client.post(RUNS, json={"experiment": "eta"})).json()
    assert second["experiment_id"] == run["experiment_id"]
    assert second["name"].startswith("run-")
    assert count(platform, ExperimentRow) == 1
    assert (await client.get(f"{API}/runs/{run['id']}")).json() == run


async def test_nested_run(client: httpx.AsyncClient) -> None:
    parent = await new_run(client)
    child = (await client.post(RUNS, json={"experiment": "exp", "parent_run_id": parent})).json()
    assert child["parent_run_id"] == parent
    missing = await client.post(RUNS, json={"experiment": "exp", "parent_run_id": "nope"})
    assert_error(missing, 404, "NOT_FOUND", "run nope does not exist")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"experiment": "a/b"}, "experiment name"),
        ({"experiment": "exp", "params": {"a/../b": "1"}}, "param key"),
        ({"experiment": "exp", "tags": {"../x": "1"}}, "tag key"),
        ({"experiment": "exp", "params": {"lr": "x" * 8001}}, "params.lr"),
        ({"experiment": "exp", "name": "n" * 257}, "name"),
        ({"experiment": "exp", "owner": "bob"}, "owner"),
        ({"name": "x"}, "experiment"),
    ],
)
async def test_invalid_create_names_the_field_and_writes_nothing(
    sqlite_client: httpx.AsyncClient,
    sqlite_platform: Platform,
    body: dict[str, object],
    field: str,
) -> None:
    response = await sqlite_client.post(RUNS, json=body)
    assert_error(response, 400, "INVALID_ARGUMENT", field)
    assert response.json()["error"]["details"]["field"] == field
    assert count(sqlite_platform, RunRow) == 0
    assert count(sqlite_platform, ExperimentRow) == 0


async def test_create_in_a_deleted_experiment_is_409(client: httpx.AsyncClient) -> None:
    await new_run(client, "old")
    await client.delete(f"{API}/projects/default/experiments/old")
    response = await client.post(RUNS, json={"experiment": "old"})
    assert_error(response, 409, "CONFLICT", "experiment 'old' is deleted")


async def test_unknown_run_is_404_naming_it(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get(f"{API}/runs/r404"),
        await client.patch(f"{API}/runs/r404", json={"status": "FINISHED"}),
        await client.delete(f"{API}/runs/r404"),
        await client.post(f"{API}/runs/r404/batch", json={}),
        await client.post(f"{API}/runs/r404/heartbeat"),
        await client.get(f"{API}/runs/r404/metric-history", params={"key": "x"}),
    ):
        assert_error(response, 404, "NOT_FOUND", "run r404 does not exist")
        assert response.json()["error"]["details"] == {"run_id": "r404"}


@pytest.mark.parametrize("final", ["FINISHED", "FAILED", "KILLED"])
async def test_status_changes_are_recorded_and_terminal_is_final(
    client: httpx.AsyncClient, platform: Platform, final: str
) -> None:
    run_id = await new_run(client)
    response = await client.patch(f"{API}/runs/{run_id}", json={"status": final, "reason": "done"})
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == final
    assert run["status_reason"] == "done"
    assert run["ended_at"] is not None
    assert datetime.fromisoformat(run["ended_at"]) >= datetime.fromisoformat(run["created_at"])
    assert [(h["status"], h["reason"]) for h in run["history"]] == [
        ("RUNNING", "started"),
        (final, "done"),
    ]
    assert _history(platform, run_id) == [("RUNNING", "started"), (final, "done")]

    for other in ("RUNNING", "SCHEDULED", *({"FINISHED", "FAILED", "KILLED"} - {final})):
        refused = await client.patch(f"{API}/runs/{run_id}", json={"status": other})
        assert_error(refused, 409, "CONFLICT", f"run {run_id} is {final}", f"cannot become {other}")
        assert refused.json()["error"]["details"] == {"run_id": run_id, "status": final}
    # Repeating the final status (an SDK retry) changes nothing and writes no row.
    again = await client.patch(f"{API}/runs/{run_id}", json={"status": final, "reason": "retry"})
    assert again.status_code == 200
    assert again.json()["status_reason"] == "done"
    assert _history(platform, run_id) == [("RUNNING", "started"), (final, "done")]
    with platform.db.session() as session:
        row = session.get(RunRow, run_id)
        assert row is not None
        assert row.status == final


async def test_running_to_running_is_not_a_change(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    run_id = await new_run(client)
    response = await client.patch(f"{API}/runs/{run_id}", json={"status": "RUNNING"})
    assert response.status_code == 200
    assert _history(platform, run_id) == [("RUNNING", "started")]


async def test_rename_run(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    response = await client.patch(f"{API}/runs/{run_id}", json={"name": "better name"})
    assert response.json()["name"] == "better name"
    empty = await client.patch(f"{API}/runs/{run_id}", json={"name": ""})
    assert_error(empty, 400, "INVALID_ARGUMENT", "name")
    bad = await client.patch(f"{API}/runs/{run_id}", json={"status": "DONE"})
    assert_error(bad, 400, "INVALID_ARGUMENT", "status")


async def test_delete_run_kills_it_and_hides_it(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    keep = await new_run(client)
    drop = await new_run(client)
    response = await client.delete(f"{API}/runs/{drop}")
    assert response.status_code == 204
    run = (await client.get(f"{API}/runs/{drop}")).json()
    assert run["lifecycle"] == "deleted"
    assert run["status"] == "KILLED"
    assert _history(platform, drop)[-1] == ("KILLED", "deleted while running")
    listed = (await client.get(RUNS)).json()
    assert [r["id"] for r in listed["items"]] == [keep]
    # A deleted run takes no more changes.
    for refused in (
        await client.patch(f"{API}/runs/{drop}", json={"name": "x"}),
        await client.post(f"{API}/runs/{drop}/batch", json={"params": {"a": "1"}}),
        await client.post(f"{API}/runs/{drop}/heartbeat"),
        await client.delete(f"{API}/runs/{drop}"),
    ):
        assert_error(refused, 409, "CONFLICT", f"run {drop} is deleted")
    assert count(platform, ParamRow) == 0


async def test_runs_of_a_deleted_experiment_leave_the_lists(client: httpx.AsyncClient) -> None:
    keep = await new_run(client, "keep")
    await new_run(client, "drop")
    await client.delete(f"{API}/projects/default/experiments/drop")
    listed = (await client.get(RUNS)).json()
    assert [r["id"] for r in listed["items"]] == [keep]
    found = (await client.post(f"{RUNS}/search", json={})).json()
    assert [r["id"] for r in found["items"]] == [keep]
    everything = (await client.post(f"{RUNS}/search", json={"include_deleted": True})).json()
    assert len(everything["items"]) == 2


async def test_list_filters_by_experiment_and_status(client: httpx.AsyncClient) -> None:
    a1 = await new_run(client, "a")
    a2 = await new_run(client, "a")
    b1 = await new_run(client, "b")
    await client.patch(f"{API}/runs/{a1}", json={"status": "FINISHED"})
    by_exp = (await client.get(RUNS, params={"experiment": "a"})).json()
    assert [r["id"] for r in by_exp["items"]] == [a2, a1]  # newest first
    finished = (await client.get(RUNS, params={"status": "FINISHED"})).json()
    assert [r["id"] for r in finished["items"]] == [a1]
    everything = (await client.get(RUNS)).json()
    assert [r["id"] for r in everything["items"]] == [b1, a2, a1]
    assert everything["next_cursor"] is None
    unknown = await client.get(RUNS, params={"experiment": "zzz"})
    assert_error(unknown, 404, "NOT_FOUND", "experiment 'zzz'")
    bad = await client.get(RUNS, params={"status": "DONE"})
    assert_error(bad, 400, "INVALID_ARGUMENT", "status")


async def _walk(client: httpx.AsyncClient, limit: int) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(RUNS, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


async def test_cursor_pages_cover_every_run_once(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    admin = Principal("test", ALL_PROJECTS, Role.ADMIN)
    first = service.create_run(platform.db, admin, "default", "exp", artifact_root="/a")
    # The other runs are inserted directly (one transaction): this test is about the pages.
    start = first.created_at
    with platform.db.session(write=True) as session:
        session.add_all(
            RunRow(
                id=f"{i:04d}{first.id[4:]}",
                experiment_id=first.experiment_id,
                project_id=session.get_one(RunRow, first.id).project_id,
                name=f"r{i}",
                user="test",
                status="RUNNING",
                status_reason="",
                lifecycle="active",
                artifact_uri="/a",
                created_at=start + timedelta(microseconds=i),
                heartbeat_at=start,
            )
            for i in range(1, 250)
        )
    ids = [first.id] + [f"{i:04d}{first.id[4:]}" for i in range(1, 250)]
    seen = await _walk(client, 60)
    assert len(seen) == len(set(seen)) == 250
    assert seen == list(reversed(ids))  # newest first

    # Runs created in the same instant are told apart by id: no gaps, no repeats.
    with platform.db.session(write=True) as session:
        session.execute(update(RunRow).values(created_at=start))
    tied = await _walk(client, 60)
    assert len(tied) == len(set(tied)) == 250
    assert tied == sorted(ids, reverse=True)


async def test_bad_run_cursor_is_400(sqlite_client: httpx.AsyncClient) -> None:
    for cursor in ("garbage!", "WyJhIiwiYiJd", "W10"):
        response = await sqlite_client.get(RUNS, params={"cursor": cursor})
        assert_error(response, 400, "INVALID_ARGUMENT", "invalid page cursor")


async def test_heartbeat_endpoint(client: httpx.AsyncClient, platform: Platform) -> None:
    run_id = await new_run(client)
    before = (await client.get(f"{API}/runs/{run_id}")).json()["heartbeat_at"]
    response = await client.post(f"{API}/runs/{run_id}/heartbeat")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    after = (await client.get(f"{API}/runs/{run_id}")).json()["heartbeat_at"]
    assert datetime.fromisoformat(after) > datetime.fromisoformat(before)
    assert count(platform, RunTagRow) == 0
