"""`griffin db` on SQLite and PostgreSQL, and the checks `griffin server` makes before starting."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cli_helpers import PG_ADMIN_URL, Invoke, assert_one_line_error
from sqlalchemy import create_engine, text

from griffin.cli.server import is_loopback
from griffin.store.migrate import head_revision

UNREACHABLE = "postgresql://u:secret@127.0.0.1:1/x"


def test_db_upgrade_sqlite(cli: Invoke, cli_json: Any) -> None:
    before = cli_json("db", "current")
    assert before["current"] is None
    assert before["up_to_date"] is False
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert f"empty → {head_revision()}" in result.stdout
    again = cli_json("db", "upgrade")
    assert again["from"] == again["to"] == head_revision()
    assert again["changed"] is False
    assert cli_json("db", "current")["up_to_date"] is True


@pytest.fixture
def empty_pg() -> Iterator[str]:
    """A PostgreSQL database with no Griffin schema, dropped afterwards."""
    name = f"griffin_cli_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"{PG_ADMIN_URL.rpartition('/')[0]}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
def test_db_upgrade_postgresql(cli: Invoke, cli_json: Any, empty_pg: str) -> None:
    env = {"GRIFFIN_DATABASE_URL": empty_pg}
    assert cli_json("db", "current", env=env)["current"] is None
    # The server refuses a database without the schema instead of changing it.
    assert_one_line_error(cli("server", env=env), "no Griffin schema yet", "griffin db upgrade")
    upgraded = cli_json("db", "upgrade", env=env)
    assert upgraded == {
        "database": empty_pg,
        "from": None,
        "to": head_revision(),
        "changed": True,
    }
    assert cli_json("db", "current", env=env)["up_to_date"] is True


@pytest.mark.postgres
def test_db_current_on_shared_scratch_database(cli_json: Any, pg_database: str) -> None:
    current = cli_json("db", "current", env={"GRIFFIN_DATABASE_URL": pg_database})
    assert current["current"] == head_revision()


@pytest.mark.parametrize(
    "args", [("db", "current"), ("db", "upgrade"), ("server",), ("tokens", "list")]
)
def test_postgresql_unreachable(cli: Invoke, args: tuple[str, ...]) -> None:
    result = cli(*args, env={"GRIFFIN_DATABASE_URL": UNREACHABLE})
    assert_one_line_error(result, "cannot reach the metadata database", "u:***@127.0.0.1:1")
    assert "secret" not in result.output


def test_server_refuses_public_address_without_auth(cli: Invoke) -> None:
    result = cli("server", "--host", "0.0.0.0")
    line = assert_one_line_error(result, "refusing to serve on 0.0.0.0", "--auth")
    assert "griffin tokens create" in line


def test_server_refuses_public_address_from_settings(cli: Invoke) -> None:
    result = cli("server", env={"GRIFFIN_HOST": "192.168.1.10", "GRIFFIN_AUTH": "off"})
    assert_one_line_error(result, "refusing to serve on 192.168.1.10")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("griffin.example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
