"""`griffin tokens` on the bootstrap path (no GRIFFIN_URL: straight to the database)."""

from __future__ import annotations

import getpass
from typing import Any

import pytest
from cli_helpers import Invoke, assert_one_line_error

from griffin.accounts.service import authenticate
from griffin.config import load_settings
from griffin.domain.accounts import Role
from griffin.platform import open_platform


def test_create_prints_the_secret_once(cli: Invoke) -> None:
    result = cli("tokens", "create", "--project", "*", "--role", "admin", "--description", "ci")
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("gft_")
    assert result.output.count(secret) == 1
    assert "will not be shown again" in result.stderr
    assert "every project" in result.stderr
    platform = open_platform(load_settings())
    try:
        principal = authenticate(platform.db, secret)
    finally:
        platform.close()
    assert principal.role is Role.ADMIN
    assert principal.project == "*"
    assert principal.user == getpass.getuser()


def test_create_list_revoke(cli: Invoke, cli_json: Any) -> None:
    created = cli_json("tokens", "create", "-p", "fraud", "--role", "EDITOR", "--user", "ci-bot")
    assert created["secret"].startswith("gft_")
    assert (created["project"], created["role"], created["user"]) == ("fraud", "editor", "ci-bot")
    listed = cli_json("tokens", "list")
    assert [t["id"] for t in listed] == [created["id"]]
    assert "secret" not in listed[0]
    table = cli("tokens", "list", "--project", "fraud")
    assert created["id"] in table.stdout
    assert "gft_" not in table.output
    assert cli_json("tokens", "revoke", created["id"]) == {"id": created["id"], "revoked": True}
    (after,) = cli_json("tokens", "list")
    assert after["status"] == "revoked"
    assert after["revoked_at"] is not None


def test_list_filters_by_project(cli_json: Any) -> None:
    cli_json("tokens", "create", "-p", "a", "--role", "viewer")
    cli_json("tokens", "create", "-p", "b", "--role", "viewer")
    assert [t["project"] for t in cli_json("tokens", "list", "--project", "b")] == ["b"]
    assert len(cli_json("tokens", "list")) == 2


def test_default_scope_is_the_active_project(cli_json: Any) -> None:
    token = cli_json("--project", "vision", "tokens", "create", "--role", "viewer")
    assert token["project"] == "vision"
    assert cli_json("tokens", "create", "--role", "viewer")["project"] == "default"


def test_revoke_unknown_token(cli: Invoke) -> None:
    assert_one_line_error(cli("tokens", "revoke", "nope"), "token nope does not exist")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--role", "owner"), "owner"),
        ((), "--role"),
    ],
)
def test_usage_errors(cli: Invoke, args: tuple[str, ...], fragment: str) -> None:
    result = cli("tokens", "create", *args)
    assert result.exit_code == 2
    assert fragment in result.output


def test_invalid_user_name(cli: Invoke) -> None:
    assert_one_line_error(
        cli("tokens", "create", "--role", "viewer", "--user", "../etc"), "invalid user"
    )
