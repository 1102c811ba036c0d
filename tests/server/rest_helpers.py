"""Small helpers shared by the REST API tests (imported by name: tests/server is on sys.path)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from griffin.platform import Platform

API = "/api/v1"


def assert_error(response: httpx.Response, status: int, code: str, *fragments: str) -> str:
    """Check an error response: status, code, and that the message holds every fragment."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def count(platform: Platform, table: Any, **where: Any) -> int:
    """Rows of an ORM table, optionally filtered by column equality."""
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(getattr(table, column) == value)
    with platform.db.session() as session:
        return int(session.scalar(query) or 0)


async def new_run(client: httpx.AsyncClient, experiment: str = "exp", **body: Any) -> str:
    response = await client.post(
        f"{API}/projects/default/runs", json={"experiment": experiment, **body}
    )
    assert response.status_code == 201, response.text
    run_id: str = response.json()["id"]
    return run_id


async def log(client: httpx.AsyncClient, run_id: str, **body: Any) -> httpx.Response:
    return await client.post(f"{API}/runs/{run_id}/batch", json=body)


def point(key: str, value: float | str, step: int = 0, timestamp_ms: int = 1) -> dict[str, Any]:
    return {"key": key, "value": value, "step": step, "timestamp_ms": timestamp_ms}
