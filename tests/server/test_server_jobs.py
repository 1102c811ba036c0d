"""Jobs over REST: submit, list with filters and pages, show, events, logs, cancel, report."""

from __future__ import annotations

import httpx
import pytest
from rest_helpers import API, assert_error

from griffin.platform import Platform
from griffin.store import projects
from griffin.training import jobs as service

pytestmark = pytest.mark.anyio

JOBS = f"{API}/projects/default/jobs"


async def _submit(client: httpx.AsyncClient, **spec: object) -> dict[str, object]:
    response = await client.post(JOBS, json={"model": "churn", **spec})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_submit_show_and_events(client: httpx.AsyncClient) -> None:
    job = await _submit(
        client, params={"lr": 0.1}, resources={"cpus": 2, "memory": "1Gi"}, retries=1
    )
    assert job["status"] == "QUEUED"
    assert job["attempt"] == 1
    spec = job["spec"]
    assert isinstance(spec, dict)
    assert spec["params"] == {"lr": 0.1}
    assert spec["resources"] == {"cpus": 2.0, "memory": "1Gi", "gpus": 0, "workers": 1}
    shown = await client.get(f"{JOBS}/{job['id']}")
    assert shown.status_code == 200
    assert shown.json() == job
    events = (await client.get(f"{JOBS}/{job['id']}/events")).json()["items"]
    assert [(e["seq"], e["from_status"], e["to_status"]) for e in events] == [(1, None, "QUEUED")]


async def test_bad_specs_are_one_clear_error(sqlite_client: httpx.AsyncClient) -> None:
    response = await sqlite_client.post(JOBS, json={"model": "m", "retries": 50})
    assert_error(response, 400, "INVALID_ARGUMENT", "retries")
    response = await sqlite_client.post(JOBS, json={"model": "m", "resources": {"memory": "x"}})
    assert_error(response, 400, "INVALID_ARGUMENT", "resources.memory")
    response = await sqlite_client.post(JOBS, json={"model": "m", "colour": "red"})
    assert_error(response, 400, "INVALID_ARGUMENT", "colour")
    response = await sqlite_client.post(f"{API}/projects/nope/jobs", json={"model": "m"})
    assert_error(response, 404, "NOT_FOUND", "project 'nope'")
    response = await sqlite_client.get(f"{JOBS}/missing")
    assert_error(response, 404, "NOT_FOUND", "job missing")


async def test_list_pages_and_filters(client: httpx.AsyncClient) -> None:
    ids = [str((await _submit(client))["id"]) for _ in range(3)]
    evaluate = await _submit(client, kind="evaluate", parent_job_id=ids[0])
    first = (await client.get(JOBS, params={"limit": 2})).json()
    assert [j["id"] for j in first["items"]] == [evaluate["id"], ids[2]]
    rest = (await client.get(JOBS, params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [j["id"] for j in rest["items"]] == [ids[1], ids[0]]
    assert rest["next_cursor"] is None
    kinds = (await client.get(JOBS, params={"kind": "evaluate"})).json()["items"]
    assert [j["id"] for j in kinds] == [evaluate["id"]]
    children = (await client.get(JOBS, params={"parent": ids[0]})).json()["items"]
    assert [j["id"] for j in children] == [evaluate["id"]]
    queued = (await client.get(JOBS, params={"status": "QUEUED"})).json()["items"]
    assert len(queued) == 4
    response = await client.get(JOBS, params={"status": "DONE"})
    assert_error(response, 400, "INVALID_ARGUMENT")


async def test_cancel(client: httpx.AsyncClient) -> None:
    job = await _submit(client)
    cancelled = (await client.post(f"{JOBS}/{job['id']}/cancel")).json()
    assert cancelled["status"] == "CANCELLED"
    again = await client.post(f"{JOBS}/{job['id']}/cancel")
    assert_error(again, 409, "CONFLICT", "already CANCELLED")


async def test_report_and_logs(client: httpx.AsyncClient, platform: Platform) -> None:
    job = await _submit(client)
    job_id = str(job["id"])
    too_early = await client.post(f"{JOBS}/{job_id}/report", json={"status": "RUNNING"})
    assert_error(too_early, 409, "CONFLICT", "QUEUED")
    service.claim_next(platform.db, "w1", ["local"])
    running = (await client.post(f"{JOBS}/{job_id}/report", json={"status": "RUNNING"})).json()
    assert running["status"] == "RUNNING"
    body = {"result": {"model": "churn", "version": 2}}
    reported = (await client.post(f"{JOBS}/{job_id}/report", json=body)).json()
    assert reported["result"] == {"model": "churn", "version": 2}
    wrong = await client.post(f"{JOBS}/{job_id}/report", json={"status": "SUCCEEDED"})
    assert_error(wrong, 400, "INVALID_ARGUMENT")
    with platform.db.session() as session:
        project_id = projects.get_row(session, "default").id
    prefix = service.log_prefix(project_id, job_id, 1)
    platform.artifacts.write_stream(f"{prefix}/00000000", [b"hello "], max_bytes=10)
    platform.artifacts.write_stream(f"{prefix}/00000001", [b"world\n"], max_bytes=10)
    logs = await client.get(f"{JOBS}/{job_id}/logs")
    assert logs.status_code == 200
    assert logs.text == "hello world\n"
    assert logs.headers["content-type"].startswith("text/plain")
    assert logs.headers["x-griffin-log-next-offset"] == "12"
    assert logs.headers["x-griffin-job-status"] == "RUNNING"
    tail = await client.get(f"{JOBS}/{job_id}/logs", params={"offset": 6})
    assert (tail.text, tail.headers["x-griffin-log-next-offset"]) == ("world\n", "12")
    missing = await client.get(f"{JOBS}/{job_id}/logs", params={"attempt": 3})
    assert_error(missing, 404, "NOT_FOUND", "no attempt 3")


async def test_roles_are_enforced(auth_client: httpx.AsyncClient, auth_platform: Platform) -> None:
    from griffin.accounts.service import create_token
    from griffin.domain.accounts import Role

    _, secret = create_token(
        auth_platform.db, None, user="vic", project="default", role=Role.VIEWER
    )
    headers = {"authorization": f"Bearer {secret}"}
    response = await auth_client.post(JOBS, json={"model": "m"}, headers=headers)
    assert_error(response, 403, "PERMISSION_DENIED")
    listed = await auth_client.get(JOBS, headers=headers)
    assert listed.status_code == 200
    anonymous = await auth_client.get(JOBS)
    assert_error(anonymous, 401, "UNAUTHENTICATED")
