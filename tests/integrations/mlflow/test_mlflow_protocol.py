"""MLflow's wire format and auth on Griffin: error bodies, field shapes, tokens, projects."""

from __future__ import annotations

import base64
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from griffin.accounts import service
from griffin.config import Settings, load_settings
from griffin.domain.accounts import ALL_PROJECTS, Role
from griffin.platform import Platform, open_platform
from griffin.server import create_app

API = "/api/2.0/mlflow"


async def test_unknown_endpoints_answer_endpoint_not_found(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/2.0/mlflow/no-such-thing"),
        ("POST", "/api/3.0/mlflow/traces"),
        ("DELETE", "/api/2.0/mlflow/runs/create"),
        ("GET", "/projects/p/api/2.0/mlflow/gateway/routes"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 404, path
        body = response.json()
        assert body["error_code"] == "ENDPOINT_NOT_FOUND"
        assert "docs/mlflow.md" in body["message"]
    # Griffin's own API keeps its own error shape.
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert "error_code" not in response.json()


async def test_wire_format_is_snake_case_with_int64_numbers(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/runs/create", json={"experiment_id": "0"})
    assert response.status_code == 200
    info = response.json()["run"]["info"]
    run_id = info["run_id"]
    assert isinstance(info["start_time"], int)
    assert info["experiment_id"] == "0"
    assert info["artifact_uri"].startswith("mlflow-artifacts:/")
    response = await client.post(
        f"{API}/runs/log-metric",
        json={"run_id": run_id, "key": "m", "value": "NaN", "timestamp": 2**40, "step": 3},
    )
    assert response.status_code == 200, response.text
    # GET parameters come in the query string, as the client sends them.
    response = await client.get(
        f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}
    )
    assert response.json() == {
        "metrics": [{"key": "m", "value": "NaN", "timestamp": 2**40, "step": 3}]
    }


@pytest.mark.parametrize(
    ("body", "code", "needle"),
    [
        ({"key": "m", "value": "abc", "timestamp": 1}, "INVALID_PARAMETER_VALUE", "'value'"),
        ({"key": "m", "value": 1.0, "timestamp": -1}, "INVALID_PARAMETER_VALUE", "timestamp"),
        ({"key": "m", "value": True, "timestamp": 1}, "INVALID_PARAMETER_VALUE", "'value'"),
        (
            {"key": "m", "value": 1.0, "timestamp": 1, "step": "x"},
            "INVALID_PARAMETER_VALUE",
            "step",
        ),
        ({"value": 1.0, "timestamp": 1}, "INVALID_PARAMETER_VALUE", "'key'"),
        ({"key": "m", "value": 1.0}, "INVALID_PARAMETER_VALUE", "'timestamp'"),
    ],
)
async def test_wrong_types_are_refused(
    client: httpx.AsyncClient, body: dict[str, Any], code: str, needle: str
) -> None:
    run_id = (await client.post(f"{API}/runs/create", json={})).json()["run"]["info"]["run_id"]
    response = await client.post(f"{API}/runs/log-metric", json={"run_id": run_id, **body})
    assert response.status_code == 400
    assert response.json()["error_code"] == code
    assert needle in response.json()["message"]


async def test_malformed_json_and_missing_run(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/runs/log-metric", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error_code"] == "MALFORMED_REQUEST"
    response = await client.get(f"{API}/runs/get", params={"run_id": "nope"})
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    response = await client.get(f"{API}/runs/get")
    assert response.status_code == 400
    assert "Missing value for required parameter 'run_id'" in response.json()["message"]


@pytest.fixture
async def auth_client(
    settings: Settings, anyio_backend: str
) -> AsyncIterator[tuple[Platform, httpx.AsyncClient]]:
    platform = open_platform(settings.model_copy(update={"auth": "required"}))
    transport = httpx.ASGITransport(app=create_app(platform=platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield platform, client
    platform.close()


def _token(platform: Platform, project: str, role: Role) -> str:
    _, secret = service.create_token(platform.db, None, user="ana", project=project, role=role)
    return secret


async def test_tokens_roles_and_projects(auth_client: tuple[Platform, httpx.AsyncClient]) -> None:
    platform, client = auth_client
    response = await client.post(f"{API}/runs/create", json={})
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    editor = _token(platform, "vision", Role.EDITOR)
    viewer = _token(platform, "vision", Role.VIEWER)
    bearer = {"Authorization": f"Bearer {editor}"}
    # A project-scoped token works in its project: no project in the URL needed.
    response = await client.post(f"{API}/runs/create", json={}, headers=bearer)
    assert response.status_code == 200, response.text
    run = response.json()["run"]
    assert run["info"]["user_id"] == "ana"
    run_id = run["info"]["run_id"]
    # MLFLOW_TRACKING_USERNAME/PASSWORD: Basic auth with the token as the password.
    basic = base64.b64encode(f"ana:{viewer}".encode()).decode()
    response = await client.get(
        f"{API}/runs/get", params={"run_id": run_id}, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200
    # A viewer may read but not write.
    response = await client.post(
        f"{API}/runs/set-tag",
        json={"run_id": run_id, "key": "k", "value": "v"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"
    # Another project's token cannot see the run.
    other = _token(platform, "ads", Role.ADMIN)
    response = await client.get(
        f"{API}/runs/get", params={"run_id": run_id}, headers={"Authorization": f"Bearer {other}"}
    )
    assert response.status_code == 403
    response = await client.get(
        f"{API}/runs/get", params={"run_id": run_id}, headers={"Authorization": "Bearer bogus"}
    )
    assert response.status_code == 401


async def test_project_in_the_tracking_uri(auth_client: tuple[Platform, httpx.AsyncClient]) -> None:
    platform, client = auth_client
    admin = _token(platform, ALL_PROJECTS, Role.ADMIN)
    headers = {"Authorization": f"Bearer {admin}"}
    await client.post("/api/v1/projects", json={"name": "ads"}, headers=headers)
    response = await client.post(
        "/projects/ads/api/2.0/mlflow/experiments/create", json={"name": "ctr"}, headers=headers
    )
    assert response.status_code == 200, response.text
    response = await client.get(
        "/projects/ads/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": "ctr"},
        headers=headers,
    )
    assert response.status_code == 200
    # The same name does not exist in the server's default project.
    response = await client.get(
        f"{API}/experiments/get-by-name", params={"experiment_name": "ctr"}, headers=headers
    )
    assert response.status_code == 404


async def test_server_info_does_not_offer_multipart(client: httpx.AsyncClient) -> None:
    """The client asks before transfers; multipart downloads would fail (no presigned URLs)."""
    response = await client.get("/api/3.0/mlflow/server-info")
    assert response.status_code == 200
    info = response.json()
    assert info["multipart_uploads_enabled"] is False
    assert info["multipart_downloads_enabled"] is False


async def test_projects_are_ensured_per_app(
    sqlite_template: Path, tmp_path: Path, anyio_backend: str
) -> None:
    """Two servers in one process, each on its own empty database: each creates its default
    project on first use. A guard: the memo was once process-wide, keyed by id(platform), and
    skipped a new platform that reused a closed one's id."""
    for name in ("one", "two"):
        db = tmp_path / f"{name}.db"
        shutil.copy(sqlite_template, db)
        settings = load_settings(
            home=str(tmp_path / name), database_url=f"sqlite:///{db}", artifact_root=str(tmp_path)
        )
        platform = open_platform(settings)
        transport = httpx.ASGITransport(app=create_app(platform=platform))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            response = await c.post(f"{API}/runs/create", json={})
            assert response.status_code == 200, response.text
        platform.close()
