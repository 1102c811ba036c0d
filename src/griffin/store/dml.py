"""Dialect-specific DML that the ORM does not spell portably: ``INSERT ... ON CONFLICT``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

__all__ = ["dialect_insert", "insert_missing"]


def dialect_insert(session: Session) -> Any:
    """The ``insert`` construct of the session's dialect (it has ``on_conflict_*``)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def insert_missing(session: Session, table: Any, values: dict[str, Any], unique: list[str]) -> None:
    """Insert one row unless a row with the same ``unique`` columns exists.

    Unlike "select, then insert if absent", this is safe when concurrent transactions create
    the same row: the loser waits for the winner and then inserts nothing, instead of failing.
    """
    stmt = dialect_insert(session)(table).values(**values)
    session.execute(stmt.on_conflict_do_nothing(index_elements=unique))
