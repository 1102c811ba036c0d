"""The Model Store over REST: packages, plan, apply, read, versions, diff, errors and roles."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from rest_helpers import API, assert_error

from griffin.accounts import service as accounts
from griffin.domain.accounts import Role
from griffin.platform import Platform
from griffin.training.packages import Package, build_package

pytestmark = pytest.mark.anyio

BASE = f"{API}/projects/default"
DEFS = f"{BASE}/model-definitions"


def spec(**changes: Any) -> dict[str, Any]:
    return {
        "name": "delivery_eta",
        "entry": "model.py:train",
        "runtime": "sklearn-1",
        "task": "regression",
        "params": {"max_depth": 6},
        **changes,
    }


def build(tmp_path: Path, body: str) -> Package:
    root = tmp_path / f"proj{len(list(tmp_path.glob('proj*')))}"
    root.mkdir()
    (root / "model.py").write_text(body)
    return build_package(root, tmp_path / "out")


async def upload(client: httpx.AsyncClient, package: Package, **headers: str) -> httpx.Response:
    return await client.put(
        f"{BASE}/packages/{package.digest}", content=package.path.read_bytes(), headers=headers
    )


async def test_upload_plan_apply_read_diff(client: httpx.AsyncClient, tmp_path: Path) -> None:
    first = build(tmp_path, "def train(ctx):\n    return 1\n")
    missing = await client.head(f"{BASE}/packages/{first.digest}")
    assert missing.status_code == 404
    stored = await upload(client, first)
    assert stored.status_code == 200, stored.text
    assert stored.json() == {
        "project": "default",
        "digest": first.digest,
        "size_bytes": first.path.stat().st_size,
    }
    assert (await upload(client, first)).status_code == 200  # idempotent
    head = await client.head(f"{BASE}/packages/{first.digest}")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(first.path.stat().st_size)
    body = {"specs": [spec()], "code_digest": first.digest, "git_commit": "abc1234"}
    planned = (await client.post(f"{DEFS}/plan", json=body)).json()
    assert [(i["action"], i["new_version"]) for i in planned["items"]] == [("create", 1)]
    assert not planned["applied"]
    applied = await client.post(f"{DEFS}/apply", json=body)
    assert applied.status_code == 200, applied.text
    assert applied.json()["applied"]

    second = build(tmp_path, "def train(ctx):\n    return 2\n")
    assert (await upload(client, second)).status_code == 200
    body2 = {"specs": [spec(params={"max_depth": 8})], "code_digest": second.digest}
    update = (await client.post(f"{DEFS}/apply", json=body2)).json()["items"][0]
    assert update["action"] == "update"
    assert update["code_changed"]
    assert update["changes"] == [{"path": "params.max_depth", "op": "changed", "old": 6, "new": 8}]

    shown = (await client.get(f"{DEFS}/delivery_eta")).json()
    assert (shown["version"], shown["entry"], shown["code_digest"]) == (
        2,
        "model.py:train",
        second.digest,
    )
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    old = (await client.get(f"{DEFS}/delivery_eta", params={"version": 1})).json()
    assert (old["params"], old["git_commit"]) == ({"max_depth": 6}, "abc1234")
    listed = (await client.get(DEFS)).json()["items"]
    assert [(d["name"], d["version"]) for d in listed] == [("delivery_eta", 2)]
    history = (await client.get(f"{DEFS}/delivery_eta/versions")).json()["items"]
    assert [v["code_digest"] for v in history] == [first.digest, second.digest]
    diff = (await client.get(f"{DEFS}/delivery_eta/diff", params={"from": 1, "to": 2})).json()
    assert diff["code_changed"]
    assert diff["files_compared"]
    assert diff["files"] == [{"path": "model.py", "op": "modified", "old_size": 29, "new_size": 29}]
    assert diff["changes"][0]["path"] == "params.max_depth"

    download = await client.get(f"{BASE}/packages/{first.digest}")
    assert download.status_code == 200
    assert download.content == first.path.read_bytes()
    import hashlib

    assert download.headers["x-griffin-sha256"] == hashlib.sha256(download.content).hexdigest()


async def test_package_uploads_are_checked(
    sqlite_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    package = build(tmp_path, "x = 1\n")
    wrong = await sqlite_client.put(
        f"{BASE}/packages/{'a' * 64}", content=package.path.read_bytes()
    )
    assert_error(wrong, 400, "INVALID_ARGUMENT", "not " + "a" * 64, "as named in the URL")
    bad = await sqlite_client.put(f"{BASE}/packages/not-a-digest", content=b"x")
    assert_error(bad, 400, "INVALID_ARGUMENT", "digest")
    garbage = await sqlite_client.put(f"{BASE}/packages/{'a' * 64}", content=b"garbage")
    assert_error(garbage, 400, "INVALID_ARGUMENT", "tar.gz")
    # A hostile archive: a path that climbs out.
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("../evil.py")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    evil = await sqlite_client.put(f"{BASE}/packages/{'a' * 64}", content=raw.getvalue())
    assert_error(evil, 400, "INVALID_ARGUMENT", "unsafe path")
    unknown = await sqlite_client.get(f"{BASE}/packages/{'c' * 64}")
    assert_error(unknown, 404, "NOT_FOUND", "is not stored")
    not_uploaded = await sqlite_client.post(
        f"{DEFS}/apply", json={"specs": [spec()], "code_digest": "c" * 64}
    )
    assert_error(not_uploaded, 400, "INVALID_ARGUMENT", "upload it first")


async def test_bad_specs_and_unknown_names(sqlite_client: httpx.AsyncClient) -> None:
    bad = await sqlite_client.post(f"{DEFS}/plan", json={"specs": [spec(task="ranking")]})
    assert_error(bad, 400, "INVALID_ARGUMENT", "task must be one of")
    traversal = await sqlite_client.post(
        f"{DEFS}/plan", json={"specs": [spec(entry="../../x.py:train")]}
    )
    assert_error(traversal, 400, "INVALID_ARGUMENT", "not an entry point")
    extra = await sqlite_client.post(f"{DEFS}/plan", json={"specs": [], "more": 1})
    assert extra.status_code in (400, 422)
    await sqlite_client.post(f"{DEFS}/apply", json={"specs": [spec()]})
    unknown = await sqlite_client.get(f"{DEFS}/delivery_et")
    assert_error(unknown, 404, "NOT_FOUND", "did you mean 'delivery_eta'")
    no_version = await sqlite_client.get(f"{DEFS}/delivery_eta", params={"version": 5})
    assert_error(no_version, 404, "NOT_FOUND", "no version 5")
    assert_error(
        await sqlite_client.get(f"{API}/projects/nope/model-definitions"), 404, "NOT_FOUND"
    )


async def test_viewer_reads_but_cannot_apply_or_upload(
    auth_platform: Platform, auth_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    _, secret = accounts.create_token(
        auth_platform.db, None, user="vic", project="default", role=Role.VIEWER
    )
    headers = {"authorization": f"Bearer {secret}"}
    body = {"specs": [spec()]}
    assert (await auth_client.post(f"{DEFS}/plan", json=body, headers=headers)).is_success
    denied = await auth_client.post(f"{DEFS}/apply", json=body, headers=headers)
    assert_error(denied, 403, "PERMISSION_DENIED", "editor")
    package = build(tmp_path, "x = 1\n")
    refused = await upload(auth_client, package, **headers)
    assert_error(refused, 403, "PERMISSION_DENIED", "editor")
    assert (await auth_client.get(DEFS, headers=headers)).json() == {"items": []}
    anonymous = await auth_client.get(DEFS)
    assert anonymous.status_code == 401
