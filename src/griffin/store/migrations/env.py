"""Alembic environment: runs migrations on the connection ``griffin.store.migrate`` hands it."""

from __future__ import annotations

from alembic import context

from griffin.store.orm import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached through griffin.store.migrate
    raise RuntimeError("run migrations through `griffin db upgrade`, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
