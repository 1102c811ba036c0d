"""Schema migrations: fresh upgrades on both backends, the ORM/migration match, ensure_schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from griffin.config import load_settings
from griffin.errors import Conflict
from griffin.platform import open_platform
from griffin.store.migrate import (
    HEAD_REVISION,
    current_revision,
    ensure_schema,
    head_revision,
    scripts_head,
    upgrade,
)
from griffin.store.orm import Base
from griffin.store.session import Database

PG_ADMIN_URL = os.environ.get("GRIFFIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def scratch_pg_url() -> Iterator[str]:
    """A PostgreSQL database of this module's own, dropped at the end."""
    name = f"griffin_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def empty_pg_url(scratch_pg_url: str) -> str:
    """The scratch database emptied: no tables at all (cheaper than a new database)."""
    engine = create_engine(scratch_pg_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return scratch_pg_url


def _tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names())


EXPECTED_TABLES = {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"}


def _check_fresh_upgrade(url: str) -> None:
    db = Database(url)
    try:
        assert current_revision(db) is None
        assert _tables(db) == set()
        before, after = upgrade(db)
        assert (before, after) == (None, head_revision())
        assert current_revision(db) == head_revision()
        assert _tables(db) == EXPECTED_TABLES
        # Upgrading again is a no-op.
        assert upgrade(db) == (head_revision(), head_revision())
    finally:
        db.dispose()


def test_fresh_sqlite_upgrades_to_head(tmp_path: Path) -> None:
    _check_fresh_upgrade(f"sqlite:///{tmp_path / 'fresh.db'}")


@pytest.mark.postgres
def test_fresh_postgresql_upgrades_to_head(empty_pg_url: str) -> None:
    _check_fresh_upgrade(empty_pg_url)


def test_migrations_match_the_orm(database_url: str) -> None:
    """Autogenerate finds nothing to change: the migration chain builds exactly the ORM schema."""
    db = Database(database_url)
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        db.dispose()
    assert diff == []


def test_head_revision_is_single() -> None:
    assert head_revision() == "0008"  # one head: the chain has no branches


def test_head_revision_constant_matches_the_migration_scripts() -> None:
    # HEAD_REVISION spares every process from importing alembic; a new migration must bump it.
    assert scripts_head() == HEAD_REVISION


@pytest.mark.postgres
def test_ensure_schema_refuses_an_unmigrated_postgresql(empty_pg_url: str) -> None:
    db = Database(empty_pg_url.replace("postgres@", "postgres:pw@"))
    try:
        with pytest.raises(Conflict) as info:
            ensure_schema(db)
    finally:
        db.dispose()
    message = info.value.message
    assert "has no Griffin schema yet" in message
    assert "run `griffin db upgrade`" in message
    assert "postgres:***@" in message
    assert ":pw@" not in message
    check = Database(empty_pg_url)
    try:
        assert _tables(check) == set()  # nothing was created behind the user's back
    finally:
        check.dispose()


@pytest.mark.postgres
def test_ensure_schema_refuses_a_postgresql_at_another_revision(empty_pg_url: str) -> None:
    db = Database(empty_pg_url)
    try:
        upgrade(db)
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'ffffffff'"))
        with pytest.raises(
            Conflict, match=rf"is at schema ffffffff, this Griffin needs {head_revision()}"
        ):
            ensure_schema(db)
    finally:
        db.dispose()


@pytest.mark.postgres
def test_open_platform_on_unmigrated_postgresql(empty_pg_url: str, tmp_path: Path) -> None:
    settings = load_settings(
        home=str(tmp_path), database_url=empty_pg_url, artifact_root=str(tmp_path / "a")
    )
    with pytest.raises(Conflict, match="griffin db upgrade"):
        open_platform(settings)


def test_sqlite_migrates_itself(tmp_path: Path) -> None:
    path = tmp_path / "new" / "embedded.db"
    settings = load_settings(
        home=str(tmp_path), database_url=f"sqlite:///{path}", artifact_root=str(tmp_path / "a")
    )
    platform = open_platform(settings)
    try:
        assert path.is_file()
        assert current_revision(platform.db) == head_revision()
        assert _tables(platform.db) == EXPECTED_TABLES
        with platform.db.session() as session:
            names = list(session.execute(text("SELECT name FROM projects")).scalars())
        assert names == ["default"]
        ensure_schema(platform.db)  # already current: nothing to do
    finally:
        platform.close()


def test_embedded_default_database_lives_in_home(tmp_path: Path) -> None:
    settings = load_settings(home=str(tmp_path / "h"), artifact_root=str(tmp_path / "a"))
    platform = open_platform(settings)
    try:
        assert (tmp_path / "h" / "griffin.db").is_file()
        assert platform.db.is_sqlite
    finally:
        platform.close()
