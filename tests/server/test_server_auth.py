"""Tokens and roles on a server with auth="required"."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import httpx
import pytest
from rest_helpers import API, assert_error, count, point
from sqlalchemy import select, text

from griffin.accounts import service
from griffin.domain.accounts import ALL_PROJECTS, Role
from griffin.platform import Platform
from griffin.store.orm.accounts import TokenRow
from griffin.store.orm.tracking import MetricRow, RunRow

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Tokens:
    site_admin: str
    admin_a: str
    editor_a: str
    viewer_a: str
    editor_b: str


def _bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


def _token(platform: Platform, user: str, project: str, role: Role) -> str:
    _, secret = service.create_token(platform.db, None, user=user, project=project, role=role)
    return secret


@pytest.fixture
def tokens(auth_platform: Platform) -> Tokens:
    """Bootstrap tokens (direct database access, as `griffin tokens create` does)."""
    return Tokens(
        site_admin=_token(auth_platform, "root", ALL_PROJECTS, Role.ADMIN),
        admin_a=_token(auth_platform, "alice", "a", Role.ADMIN),
        editor_a=_token(auth_platform, "ed", "a", Role.EDITOR),
        viewer_a=_token(auth_platform, "vic", "a", Role.VIEWER),
        editor_b=_token(auth_platform, "bob", "b", Role.EDITOR),
    )


async def _run_in(client: httpx.AsyncClient, project: str, secret: str) -> str:
    response = await client.post(
        f"{API}/projects/{project}/runs", json={"experiment": "exp"}, headers=_bearer(secret)
    )
    assert response.status_code == 201, response.text
    run_id: str = response.json()["id"]
    return run_id


async def test_no_token_is_401_saying_how_to_get_one(
    auth_client: httpx.AsyncClient, auth_platform: Platform
) -> None:
    for response in (
        await auth_client.get(f"{API}/projects/default/experiments"),
        await auth_client.post(f"{API}/projects/default/runs", json={"experiment": "x"}),
        await auth_client.get(f"{API}/whoami"),
    ):
        assert_error(response, 401, "UNAUTHENTICATED", "GRIFFIN_TOKEN", "griffin tokens create")
    assert count(auth_platform, RunRow) == 0
    # The probes stay open, for load balancers.
    assert (await auth_client.get("/healthz")).status_code == 200
    assert (await auth_client.get("/readyz")).status_code == 200


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("Bearer gft_notarealtoken", "not valid"),
        ("Bearer ", "Bearer <token>"),
        ("Basic dXNlcjpwYXNz", "Bearer <token>"),
        ("gft_missing_scheme", "Bearer <token>"),
    ],
)
async def test_bad_token_is_401(
    auth_client: httpx.AsyncClient, tokens: Tokens, header: str, fragment: str
) -> None:
    response = await auth_client.get(f"{API}/whoami", headers={"authorization": header})
    assert_error(response, 401, "UNAUTHENTICATED", fragment)


async def test_whoami(auth_client: httpx.AsyncClient, tokens: Tokens) -> None:
    response = await auth_client.get(f"{API}/whoami", headers=_bearer(tokens.viewer_a))
    assert response.json() == {"user": "vic", "project": "a", "role": "viewer"}
    response = await auth_client.get(f"{API}/whoami", headers=_bearer(tokens.site_admin))
    assert response.json() == {"user": "root", "project": "*", "role": "admin"}


async def test_viewer_reads_but_cannot_write(
    auth_client: httpx.AsyncClient, auth_platform: Platform, tokens: Tokens
) -> None:
    run_id = await _run_in(auth_client, "a", tokens.editor_a)
    viewer = _bearer(tokens.viewer_a)
    assert (await auth_client.get(f"{API}/runs/{run_id}", headers=viewer)).status_code == 200
    listed = await auth_client.get(f"{API}/projects/a/runs", headers=viewer)
    assert [r["id"] for r in listed.json()["items"]] == [run_id]
    assert (await auth_client.get(f"{API}/projects/a/experiments", headers=viewer)).is_success
    history = await auth_client.get(
        f"{API}/runs/{run_id}/metric-history", params={"key": "m"}, headers=viewer
    )
    assert history.status_code == 200
    search = await auth_client.post(f"{API}/projects/a/runs/search", json={}, headers=viewer)
    assert search.status_code == 200

    for response in (
        await auth_client.post(
            f"{API}/projects/a/runs", json={"experiment": "exp"}, headers=viewer
        ),
        await auth_client.post(
            f"{API}/runs/{run_id}/batch", json={"metrics": [point("m", 1.0)]}, headers=viewer
        ),
        await auth_client.patch(f"{API}/runs/{run_id}", json={"status": "KILLED"}, headers=viewer),
        await auth_client.post(f"{API}/projects/a/experiments", json={"name": "x"}, headers=viewer),
        await auth_client.put(f"{API}/runs/{run_id}/artifacts/a.txt", content=b"x", headers=viewer),
        await auth_client.delete(f"{API}/runs/{run_id}", headers=viewer),
    ):
        assert_error(response, 403, "PERMISSION_DENIED", "role 'viewer'", "needs 'editor'")
    assert count(auth_platform, RunRow) == 1
    assert count(auth_platform, MetricRow) == 0
    run = (await auth_client.get(f"{API}/runs/{run_id}", headers=viewer)).json()
    assert run["status"] == "RUNNING"
    assert run["lifecycle"] == "active"


async def test_editor_logs_but_cannot_manage_tokens(
    auth_client: httpx.AsyncClient, auth_platform: Platform, tokens: Tokens
) -> None:
    editor = _bearer(tokens.editor_a)
    run_id = await _run_in(auth_client, "a", tokens.editor_a)
    logged = await auth_client.post(
        f"{API}/runs/{run_id}/batch", json={"metrics": [point("m", 1.0)]}, headers=editor
    )
    assert logged.status_code == 200
    run = (await auth_client.get(f"{API}/runs/{run_id}", headers=editor)).json()
    assert run["user"] == "ed"  # the token's user, not a header
    created = await auth_client.post(
        f"{API}/projects/a/tokens", json={"user": "x", "role": "viewer"}, headers=editor
    )
    assert_error(created, 403, "PERMISSION_DENIED", "needs 'admin'")
    listed = await auth_client.get(f"{API}/projects/a/tokens", headers=editor)
    assert_error(listed, 403, "PERMISSION_DENIED")
    assert count(auth_platform, TokenRow) == 5


async def test_project_admin_issues_tokens_for_its_project_only(
    auth_client: httpx.AsyncClient, auth_platform: Platform, tokens: Tokens
) -> None:
    admin = _bearer(tokens.admin_a)
    created = await auth_client.post(
        f"{API}/projects/a/tokens",
        json={"user": "newbie", "role": "editor", "description": "ci"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["project"] == "a"
    assert body["role"] == "editor"
    assert body["user"] == "newbie"
    assert body["secret"].startswith("gft_")
    whoami = await auth_client.get(f"{API}/whoami", headers=_bearer(body["secret"]))
    assert whoami.json() == {"user": "newbie", "project": "a", "role": "editor"}

    listed = (await auth_client.get(f"{API}/projects/a/tokens", headers=admin)).json()
    assert {t["user"] for t in listed} == {"alice", "ed", "vic", "newbie"}
    assert all(t["secret"] is None for t in listed)

    for project in ("b", "*"):
        refused = await auth_client.post(
            f"{API}/projects/{project}/tokens", json={"user": "x", "role": "admin"}, headers=admin
        )
        assert_error(refused, 403, "PERMISSION_DENIED", "for project 'a'")
    assert_error(
        await auth_client.get(f"{API}/projects/b/tokens", headers=admin), 403, "PERMISSION_DENIED"
    )
    assert count(auth_platform, TokenRow) == 6


async def test_token_for_one_project_cannot_reach_another(
    auth_client: httpx.AsyncClient, tokens: Tokens
) -> None:
    run_b = await _run_in(auth_client, "b", tokens.editor_b)
    reader = _bearer(tokens.admin_a)
    for response in (
        await auth_client.get(f"{API}/runs/{run_b}", headers=reader),
        await auth_client.get(
            f"{API}/runs/{run_b}/metric-history", params={"key": "m"}, headers=reader
        ),
        await auth_client.get(f"{API}/runs/{run_b}/artifacts", headers=reader),
        await auth_client.put(f"{API}/runs/{run_b}/artifacts/x.txt", content=b"x", headers=reader),
        await auth_client.patch(f"{API}/runs/{run_b}", json={"status": "KILLED"}, headers=reader),
        await auth_client.post(f"{API}/runs/{run_b}/batch", json={}, headers=reader),
        await auth_client.get(f"{API}/projects/b/experiments", headers=reader),
        await auth_client.get(f"{API}/projects/b/experiments/exp", headers=reader),
        await auth_client.get(f"{API}/projects/b/runs", headers=reader),
        await auth_client.post(f"{API}/projects/b/runs/search", json={}, headers=reader),
        await auth_client.get(f"{API}/projects/b", headers=reader),
    ):
        assert_error(response, 403, "PERMISSION_DENIED", "this token is for project 'a', not 'b'")
    projects = await auth_client.get(f"{API}/projects", headers=reader)
    assert [p["name"] for p in projects.json()] == ["a"]


async def test_site_admin_creates_projects(auth_client: httpx.AsyncClient, tokens: Tokens) -> None:
    root = _bearer(tokens.site_admin)
    created = await auth_client.post(
        f"{API}/projects", json={"name": "vision", "description": "cv"}, headers=root
    )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "vision"
    duplicate = await auth_client.post(f"{API}/projects", json={"name": "vision"}, headers=root)
    assert_error(duplicate, 409, "ALREADY_EXISTS", "project 'vision' already exists")
    bad = await auth_client.post(f"{API}/projects", json={"name": "../x"}, headers=root)
    assert_error(bad, 400, "INVALID_ARGUMENT", "project")
    refused = await auth_client.post(
        f"{API}/projects", json={"name": "mine"}, headers=_bearer(tokens.admin_a)
    )
    assert_error(refused, 403, "PERMISSION_DENIED", "site-wide admin")
    names = [p["name"] for p in (await auth_client.get(f"{API}/projects", headers=root)).json()]
    assert names == ["a", "b", "default", "vision"]
    # The site-wide admin can issue a site-wide token.
    site = await auth_client.post(
        f"{API}/projects/*/tokens", json={"user": "ops", "role": "viewer"}, headers=root
    )
    assert site.status_code == 201, site.text
    assert site.json()["project"] == "*"


async def test_revoked_token_is_401(
    auth_client: httpx.AsyncClient, auth_platform: Platform, tokens: Tokens
) -> None:
    viewer = _bearer(tokens.viewer_a)
    assert (await auth_client.get(f"{API}/whoami", headers=viewer)).status_code == 200
    listed = await auth_client.get(f"{API}/projects/a/tokens", headers=_bearer(tokens.admin_a))
    (info,) = [t for t in listed.json() if t["user"] == "vic"]
    assert info["last_used_at"] is not None
    revoked = await auth_client.delete(
        f"{API}/tokens/{info['id']}", headers=_bearer(tokens.admin_a)
    )
    assert revoked.status_code == 204
    response = await auth_client.get(f"{API}/whoami", headers=viewer)
    assert_error(response, 401, "UNAUTHENTICATED", "not valid")
    listed = await auth_client.get(f"{API}/projects/a/tokens", headers=_bearer(tokens.admin_a))
    (info,) = [t for t in listed.json() if t["user"] == "vic"]
    assert info["revoked_at"] is not None


async def test_revoking_is_limited_to_the_admins_project(
    auth_client: httpx.AsyncClient, auth_platform: Platform, tokens: Tokens
) -> None:
    site_ids = await auth_client.get(f"{API}/projects/*/tokens", headers=_bearer(tokens.site_admin))
    by_user = {t["user"]: t["id"] for t in site_ids.json()}
    assert set(by_user) == {"root", "alice", "ed", "vic", "bob"}
    assert count(auth_platform, TokenRow) == 5
    missing = await auth_client.delete(f"{API}/tokens/nope", headers=_bearer(tokens.admin_a))
    assert_error(missing, 404, "NOT_FOUND", "token nope")
    for user in ("bob", "root"):  # another project's token, a site-wide token
        refused = await auth_client.delete(
            f"{API}/tokens/{by_user[user]}", headers=_bearer(tokens.admin_a)
        )
        assert_error(refused, 403, "PERMISSION_DENIED")
    still = await auth_client.get(f"{API}/whoami", headers=_bearer(tokens.editor_b))
    assert still.status_code == 200
    with auth_platform.db.session() as session:
        assert session.scalars(select(TokenRow.revoked_at)).all() == [None] * 5


async def test_a_token_cannot_revoke_itself(auth_client: httpx.AsyncClient, tokens: Tokens) -> None:
    admin = _bearer(tokens.admin_a)
    listed = (await auth_client.get(f"{API}/projects/a/tokens", headers=admin)).json()
    (own,) = [t for t in listed if t["user"] == "alice"]
    response = await auth_client.delete(f"{API}/tokens/{own['id']}", headers=admin)
    assert_error(response, 400, "INVALID_ARGUMENT", "cannot revoke itself")
    assert (await auth_client.get(f"{API}/whoami", headers=admin)).status_code == 200


async def test_only_the_sha256_of_a_secret_is_stored(
    auth_platform: Platform, tokens: Tokens
) -> None:
    secrets = [
        tokens.site_admin,
        tokens.admin_a,
        tokens.editor_a,
        tokens.viewer_a,
        tokens.editor_b,
    ]
    with auth_platform.db.session() as session:
        rows = [tuple(r) for r in session.execute(text("SELECT * FROM api_tokens"))]
        hashes = set(session.scalars(select(TokenRow.token_hash)))
    assert len(rows) == 5
    dump = repr(rows)
    for secret in secrets:
        assert secret not in dump
        assert secret[4:20] not in dump
    assert hashes == {hashlib.sha256(s.encode()).hexdigest() for s in secrets}
