"""Probes, the OpenAPI document and the error body of unknown routes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from rest_helpers import API, assert_error

from griffin._version import __version__
from griffin.artifacts import open_artifact_store
from griffin.platform import Platform
from griffin.server import create_app
from griffin.store.session import Database

pytestmark = pytest.mark.anyio


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


async def test_readyz_names_the_database(client: httpx.AsyncClient, platform: Platform) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": platform.db.dialect}


async def test_readyz_is_503_when_the_database_is_down(
    platform: Platform, tmp_path: Path, anyio_backend: str
) -> None:
    down = Platform(
        settings=platform.settings,
        db=Database("postgresql://griffin:topsecret@127.0.0.1:1/griffin"),
        artifacts=open_artifact_store(str(tmp_path / "artifacts")),
    )
    transport = httpx.ASGITransport(app=create_app(platform=down))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
        listed = await client.get(f"{API}/projects/default/experiments")
    down.close()
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert "cannot reach the metadata database" in body["reason"]
    assert "griffin:***@127.0.0.1:1" in body["reason"]
    assert "topsecret" not in ready.text
    assert alive.status_code == 200  # liveness does not depend on the database
    assert_error(listed, 503, "BACKEND_UNAVAILABLE", "cannot reach the metadata database")
    assert "topsecret" not in listed.text


async def test_openapi_lists_the_routes(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "Griffin"
    assert document["info"]["version"] == __version__
    paths = document["paths"]
    for path in (
        "/api/v1/projects/{project}/experiments",
        "/api/v1/projects/{project}/experiments/{experiment}",
        "/api/v1/projects/{project}/runs",
        "/api/v1/projects/{project}/runs/search",
        "/api/v1/runs/{run_id}",
        "/api/v1/runs/{run_id}/batch",
        "/api/v1/runs/{run_id}/metric-history",
        "/api/v1/runs/{run_id}/artifacts/{path}",
        "/api/v1/projects/{project}/tokens",
        "/api/v1/tokens/{token_id}",
        "/api/v1/whoami",
    ):
        assert path in paths, path
    docs = await client.get(f"{API}/docs")
    assert docs.status_code == 200


async def test_unknown_route_is_a_griffin_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/nope")
    assert_error(response, 404, "NOT_FOUND", "no such endpoint: GET /api/v1/nope")


async def test_wrong_method_is_405_with_an_error_body(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"{API}/projects/default/runs")
    assert response.status_code == 405
    error = response.json()["error"]
    assert error["code"] == "METHOD_NOT_ALLOWED"
    assert "DELETE is not allowed" in error["message"]
