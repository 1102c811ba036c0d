"""Shared fixtures: a fresh metadata store per test on SQLite *and* on the real PostgreSQL.

``platform`` is parametrised over both backends, so every test that uses it runs twice. The
PostgreSQL side creates one scratch database per test session (per xdist worker) and empties
its tables between tests; the SQLite side copies a migrated template file.
"""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from griffin.config import Settings, load_settings
from griffin.platform import Platform, open_platform
from griffin.store.migrate import upgrade
from griffin.store.orm import Base
from griffin.store.session import Database

PG_ADMIN_URL = os.environ.get("GRIFFIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test reads the developer's ~/.griffin, griffin.toml or GRIFFIN_* variables."""
    for name in list(os.environ):
        # GRIFFIN_TEST_PG was read at import; as a GRIFFIN_* variable the settings would reject it.
        if name.startswith("GRIFFIN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GRIFFIN_HOME", str(tmp_path_factory.mktemp("home")))
    # An interpreter started ahead of every job would double the CPU each job test costs on
    # a 2-core machine; tests/launcher/test_launcher_prestart.py turns it on where it is tested.
    monkeypatch.setenv("GRIFFIN_JOB_PRESTART", "false")
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "griffin.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A scratch PostgreSQL database for this test session, dropped at the end."""
    name = f"griffin_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - only when PostgreSQL is down
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}")
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    url = f"{base}/{name}"
    db = Database(url)
    upgrade(db)
    db.dispose()
    yield url
    _scratch_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@functools.cache
def _scratch_engine(url: str) -> Engine:
    return Database(url).engine


def _truncate(url: str) -> None:
    # DELETE in reverse dependency order is several times faster than TRUNCATE on small tables.
    with _scratch_engine(url).begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated, empty metadata database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "griffin.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        home=str(tmp_path / "home"),
        database_url=database_url,
        artifact_root=str(tmp_path / "artifacts"),
    )


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    opened = open_platform(settings)
    yield opened
    opened.close()
