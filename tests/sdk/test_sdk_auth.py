"""Tokens, roles and project scopes as the SDK sees them (auth="required")."""

from __future__ import annotations

import pytest
from sdk_helpers import Connect

import griffin
from griffin.accounts import service
from griffin.config import Settings
from griffin.domain.accounts import Principal, Role
from griffin.platform import open_platform


@pytest.fixture
def secrets(settings: Settings) -> dict[str, str]:
    """Bootstrap tokens straight in the database, as `griffin tokens create` does."""
    platform = open_platform(settings)
    try:
        _, admin = service.create_token(
            platform.db, None, user="ada", project="default", role=Role.ADMIN
        )
        _, beta = service.create_token(
            platform.db, None, user="bea", project="beta", role=Role.ADMIN
        )
    finally:
        platform.close()
    return {"admin": admin, "beta": beta}


def test_no_or_unknown_token_is_unauthenticated(connect: Connect) -> None:
    with pytest.raises(griffin.Unauthenticated, match="GRIFFIN_TOKEN"):
        connect(auth="required").list_experiments()
    with pytest.raises(griffin.Unauthenticated, match="not valid"):
        connect("gft_not-a-real-token", auth="required").whoami()


def test_roles_and_project_scopes(connect: Connect, secrets: dict[str, str]) -> None:
    admin = connect(secrets["admin"], auth="required")
    assert admin.whoami() == Principal(user="ada", project="default", role=Role.ADMIN)
    run = admin.create_run("secured")
    assert run.user == "ada"  # the token's user, not the OS user

    viewer_info, viewer_secret = admin.create_token("vic", "viewer", description="dashboards")
    assert viewer_info.role is Role.VIEWER
    assert viewer_info.project == "default"
    viewer = connect(viewer_secret, auth="required")
    assert viewer.get_run(run.id).id == run.id  # viewers read
    with pytest.raises(griffin.PermissionDenied, match=r"'viewer'.*needs 'editor'"):
        viewer.create_run("secured")
    with pytest.raises(griffin.PermissionDenied):
        griffin.start_run("secured", client=viewer)
    assert griffin.active_run() is None
    with pytest.raises(griffin.PermissionDenied):
        viewer.create_token("eve", "admin")

    beta = connect(secrets["beta"], project="beta", auth="required")
    beta.create_experiment("beta-only")
    with pytest.raises(griffin.PermissionDenied, match="for project 'beta', not 'default'"):
        beta.get_run(run.id)
    with pytest.raises(griffin.PermissionDenied, match="not 'beta'"):
        connect(secrets["admin"], project="beta", auth="required").get_experiment("beta-only")
    assert [p.name for p in beta.list_projects()] == ["beta"]

    assert sorted(t.user for t in admin.list_tokens()) == ["ada", "vic"]
    admin.revoke_token(viewer_info.id)
    with pytest.raises(griffin.Unauthenticated, match="revoked"):
        viewer.get_run(run.id)
    revoked = [t for t in admin.list_tokens() if t.id == viewer_info.id]
    assert revoked[0].revoked_at is not None
