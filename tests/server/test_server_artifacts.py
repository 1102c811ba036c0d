"""Run artifacts over REST: upload, download, list, and every way out of the run's folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI
from rest_helpers import API, assert_error, count, new_run

from griffin.platform import Platform
from griffin.store.orm.tracking import ArtifactRow
from griffin.tracking.runs import artifact_prefix

pytestmark = pytest.mark.anyio


async def raw_request(
    app: FastAPI, method: str, raw_path: bytes, body: bytes = b""
) -> tuple[int, dict[str, Any]]:
    """Call the app with a request path exactly as given: no client-side normalisation.

    httpx (like browsers) resolves '..' segments before sending; an attacker's client does not,
    so the traversal tests talk ASGI directly, the way uvicorn does (``path`` is the
    percent-decoded ``raw_path``).
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path.decode("latin-1")),
        "raw_path": raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }
    sent = False
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    import json

    return status, json.loads(payload) if payload else {}


def _run_folder(platform: Platform, run_id: str) -> Path:
    with platform.db.session() as session:
        from griffin.store.orm.tracking import RunRow

        row = session.get(RunRow, run_id)
        assert row is not None
        prefix = artifact_prefix(row.project_id, row.id)
    return Path(platform.settings.resolved_artifact_root, *prefix.split("/"))


async def test_upload_download_and_list(client: httpx.AsyncClient, platform: Platform) -> None:
    run_id = await new_run(client)
    content = os.urandom(3 * 1024 * 1024 + 17)
    response = await client.put(f"{API}/runs/{run_id}/artifacts/model/weights.bin", content=content)
    assert response.status_code == 201, response.text
    digest = hashlib.sha256(content).hexdigest()
    uploaded = response.json()
    assert uploaded.pop("created_at").endswith("Z")
    assert uploaded == {"path": "model/weights.bin", "size": len(content), "sha256": digest}
    await client.put(f"{API}/runs/{run_id}/artifacts/model/config.json", content=b"{}")
    await client.put(f"{API}/runs/{run_id}/artifacts/README.md", content=b"# hi")

    download = await client.get(f"{API}/runs/{run_id}/artifacts/model/weights.bin")
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["x-griffin-sha256"] == digest
    assert download.headers["content-length"] == str(len(content))
    assert download.headers["content-type"] == "application/octet-stream"

    listed = (await client.get(f"{API}/runs/{run_id}/artifacts")).json()
    assert [a["path"] for a in listed] == ["README.md", "model/config.json", "model/weights.bin"]
    under = (await client.get(f"{API}/runs/{run_id}/artifacts", params={"prefix": "model"})).json()
    assert [a["path"] for a in under] == ["model/config.json", "model/weights.bin"]
    upper = await client.get(f"{API}/runs/{run_id}/artifacts", params={"prefix": "MODEL"})
    assert upper.json() == []  # paths are case-sensitive on every backend
    assert (_run_folder(platform, run_id) / "model" / "weights.bin").read_bytes() == content


async def test_overwrite_replaces_the_record(client: httpx.AsyncClient, platform: Platform) -> None:
    run_id = await new_run(client)
    await client.put(f"{API}/runs/{run_id}/artifacts/a.txt", content=b"one")
    response = await client.put(f"{API}/runs/{run_id}/artifacts/a.txt", content=b"second")
    assert response.json()["size"] == 6
    assert count(platform, ArtifactRow, run_id=run_id) == 1
    assert (await client.get(f"{API}/runs/{run_id}/artifacts/a.txt")).content == b"second"


async def test_missing_artifact_and_run_are_404(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    missing = await client.get(f"{API}/runs/{run_id}/artifacts/nope.txt")
    assert_error(missing, 404, "NOT_FOUND", f"run {run_id} has no artifact 'nope.txt'")
    no_run = await client.put(f"{API}/runs/ghost/artifacts/a.txt", content=b"x")
    assert_error(no_run, 404, "NOT_FOUND", "run ghost does not exist")
    listing = await client.get(f"{API}/runs/ghost/artifacts")
    assert_error(listing, 404, "NOT_FOUND", "run ghost")


async def test_upload_over_the_limit_leaves_nothing(
    platform: Platform, tmp_path: Path, anyio_backend: str
) -> None:
    from griffin.server import create_app

    small = Platform(
        settings=platform.settings.model_copy(update={"max_artifact_bytes": 1000}),
        db=platform.db,
        artifacts=platform.artifacts,
    )
    transport = httpx.ASGITransport(app=create_app(platform=small))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        run_id = await new_run(client)
        response = await client.put(f"{API}/runs/{run_id}/artifacts/big.bin", content=b"x" * 1001)
        message = assert_error(response, 413, "PAYLOAD_TOO_LARGE", "'big.bin'", "1000 bytes")
        assert run_id not in message
        assert response.json()["error"]["details"] == {"path": "big.bin", "max_bytes": 1000}
        ok = await client.put(f"{API}/runs/{run_id}/artifacts/ok.bin", content=b"x" * 1000)
        assert ok.status_code == 201
    assert count(platform, ArtifactRow, run_id=run_id) == 1
    folder = _run_folder(platform, run_id)
    assert sorted(p.name for p in folder.iterdir()) == ["ok.bin"]


async def test_file_in_the_way_is_409_naming_the_path(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    await client.put(f"{API}/runs/{run_id}/artifacts/model", content=b"file")
    response = await client.put(f"{API}/runs/{run_id}/artifacts/model/x.bin", content=b"x")
    message = assert_error(response, 409, "CONFLICT", "'model/x.bin'")
    assert run_id not in message  # the storage layout stays private


async def test_upload_to_a_deleted_run_is_409(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    await client.delete(f"{API}/runs/{run_id}")
    response = await client.put(f"{API}/runs/{run_id}/artifacts/a.txt", content=b"x")
    assert_error(response, 409, "CONFLICT", f"run {run_id} is deleted")


# --- traversal (validation only: run on SQLite) ---------------------------------------------


TRAVERSALS = [
    b"../escape.txt",
    b"a/../../escape.txt",
    b"%2e%2e/escape.txt",
    b"%2E%2E/%2E%2E/escape.txt",
    b"..%2fescape.txt",
    b"%252e%252e/escape.txt",
    b"%252e%252e%252fescape.txt",
    b"..\\escape.txt",
    b"a\\..\\..\\escape.txt",
    b"%5c..%5cescape.txt",
    b"/etc/passwd",
    b"%2fetc/passwd",
    b"C:/escape.txt",
    b"./a.txt",
    b"a//b.txt",
    b"a/%00.txt",
    b".griffin-tmp-x",
]


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_traversal_is_refused(
    sqlite_platform: Platform, sqlite_client: httpx.AsyncClient, method: str
) -> None:
    from griffin.server import create_app

    run_id = await new_run(sqlite_client)
    app = create_app(platform=sqlite_platform)
    root = Path(sqlite_platform.settings.resolved_artifact_root)
    for path in TRAVERSALS:
        raw = f"{API}/runs/{run_id}/artifacts/".encode() + path
        status, body = await raw_request(app, method, raw, b"owned" if method == "PUT" else b"")
        assert status == 400, (path, body)
        assert body["error"]["code"] == "INVALID_ARGUMENT", path
        assert body["error"]["details"] == {"field": "path"}, path
        assert "invalid artifact path" in body["error"]["message"], path
    assert not list(root.rglob("escape.txt"))
    assert not (root.parent / "escape.txt").exists()
    assert count(sqlite_platform, ArtifactRow) == 0


async def test_list_prefix_traversal_is_refused(sqlite_client: httpx.AsyncClient) -> None:
    run_id = await new_run(sqlite_client)
    for prefix in ("..", "../x", "%2e%2e", "/etc", "a\\b"):
        response = await sqlite_client.get(
            f"{API}/runs/{run_id}/artifacts", params={"prefix": prefix}
        )
        assert_error(response, 400, "INVALID_ARGUMENT", "invalid artifact path")


async def test_planted_symlink_is_not_readable(
    sqlite_client: httpx.AsyncClient, sqlite_platform: Platform, tmp_path: Path
) -> None:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("top secret")
    run_id = await new_run(sqlite_client)
    await sqlite_client.put(f"{API}/runs/{run_id}/artifacts/real.txt", content=b"fine")
    folder = _run_folder(sqlite_platform, run_id)

    # A link nobody uploaded: unknown to the API.
    (folder / "planted.txt").symlink_to(secret)
    (folder / "planted_dir").symlink_to(secret.parent, target_is_directory=True)
    for path in ("planted.txt", "planted_dir/secret.txt"):
        response = await sqlite_client.get(f"{API}/runs/{run_id}/artifacts/{path}")
        assert response.status_code in (400, 404), response.text
        assert "top secret" not in response.text
    listed = (await sqlite_client.get(f"{API}/runs/{run_id}/artifacts")).json()
    assert [a["path"] for a in listed] == ["real.txt"]

    # A recorded artifact swapped for a link after upload is refused too.
    (folder / "real.txt").unlink()
    (folder / "real.txt").symlink_to(secret)
    response = await sqlite_client.get(f"{API}/runs/{run_id}/artifacts/real.txt")
    assert response.status_code in (400, 404), response.text
    assert "top secret" not in response.text
    assert response.json()["error"]["code"] in ("INVALID_ARGUMENT", "NOT_FOUND")
    assert run_id not in response.json()["error"]["message"]
