"""Schema migrations: ``griffin db upgrade`` and the embedded store's self-upgrade."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError

from griffin.errors import Conflict
from griffin.store.session import Database

__all__ = ["current_revision", "ensure_schema", "head_revision", "upgrade"]

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision this Griffin version knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    """The revision the database is at, or ``None`` for an empty database."""
    try:
        with db.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise db.translate(exc) from exc


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str]:
    """Migrate the database to ``revision``; returns (before, after)."""
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
