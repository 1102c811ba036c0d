"""Schema migrations: ``griffin db upgrade`` and the embedded store's self-upgrade."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from griffin.errors import Conflict
from griffin.store.session import Database

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD_REVISION",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "scripts_head",
    "upgrade",
]

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration in MIGRATIONS (a test keeps the two in step). Knowing it here spares
# every process that opens the store from importing alembic (~0.2 s) just to learn it.
HEAD_REVISION = "0008"


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision this Griffin version knows."""
    return HEAD_REVISION


def scripts_head() -> str:
    """The head revision as alembic reads it from the migration scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    """The revision the database is at, or ``None`` for an empty database."""
    try:
        with db.engine.connect() as connection:
            if not connection.dialect.has_table(connection, "alembic_version"):
                return None
            found = sorted(connection.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError as exc:
        raise db.translate(exc) from exc
    # Several rows would mean branches; Griffin's history is linear, so no head matches them.
    return ",".join(found) if found else None


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str]:
    """Migrate the database to ``revision``; returns (before, after)."""
    from alembic import command

    before = current_revision(db)
    config = _config()
    try:
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise db.translate(exc) from exc
    return before, current_revision(db) or ""


def ensure_schema(db: Database) -> None:
    """Make sure the schema is current before use.

    The embedded SQLite store migrates itself (nobody should have to run a command on a laptop);
    a shared PostgreSQL database is migrated only by ``griffin db upgrade``, so that upgrading
    one client never changes the schema under a running server.
    """
    current = current_revision(db)
    head = head_revision()
    if current == head:
        return
    if db.is_sqlite:
        upgrade(db)
        return
    if current is None:
        raise Conflict(
            f"the metadata database {db.masked_url} has no Griffin schema yet; "
            "run `griffin db upgrade` once"
        )
    raise Conflict(
        f"the metadata database {db.masked_url} is at schema {current}, this Griffin needs "
        f"{head}; run `griffin db upgrade`"
    )
