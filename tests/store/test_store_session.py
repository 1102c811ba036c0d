"""The session helper: read-only by default, every database error translated once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, text, update

from griffin.config import load_settings
from griffin.errors import AlreadyExists, BackendUnavailable, ConfigError, Conflict, GriffinError
from griffin.platform import Platform, open_platform
from griffin.store import projects
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.base import utcnow
from griffin.store.orm.tracking import RunRow
from griffin.store.session import Database

UNREACHABLE = "postgresql://u:secret@127.0.0.1:1/x"


def _project_names(platform: Platform) -> list[str]:
    with platform.db.session() as session:
        return sorted(session.scalars(select(ProjectRow.name)))


def _add_projects(platform: Platform, *names: str, write: bool) -> None:
    with platform.db.session(write=write) as session:
        for index, name in enumerate(names):
            row = ProjectRow(id=f"{index:032d}", name=name, description="", created_at=utcnow())
            session.add(row)
        session.flush()


def _execute(platform: Platform, statement: Any, *, write: bool) -> None:
    with platform.db.session(write=write) as session:
        session.execute(statement)


# Writes that bypass the ORM's flush: a read-only session must refuse them too.
WRITES = pytest.mark.parametrize(
    "statement",
    [
        insert(ProjectRow).values(id="p" * 32, name="sneaky", description="", created_at=utcnow()),
        update(ProjectRow).values(description="changed"),
    ],
    ids=["insert", "update"],
)


def test_read_only_session_refuses_orm_writes(platform: Platform) -> None:
    with pytest.raises(GriffinError, match="read-only session tried to write") as info:
        _add_projects(platform, "sneaky", write=False)
    assert info.value.http_status == 500
    assert _project_names(platform) == ["default"]


@WRITES
def test_read_only_session_refuses_core_writes(platform: Platform, statement: Any) -> None:
    with pytest.raises(GriffinError, match="read-only session tried to write"):
        _execute(platform, statement, write=False)
    with platform.db.session() as session:
        rows = list(session.scalars(select(ProjectRow)))
    assert [(r.name, r.description) for r in rows] == [("default", "")]


@WRITES
def test_read_now_refuses_writes(platform: Platform, statement: Any) -> None:
    # On PostgreSQL read_now() runs in autocommit mode: a write would stick at once.
    with pytest.raises(GriffinError, match="read-only session tried to write"):
        platform.db.read_now(lambda session: session.execute(statement))
    assert platform.db.read_now(
        lambda session: [(r.name, r.description) for r in session.scalars(select(ProjectRow))]
    ) == [("default", "")]


@pytest.mark.postgres
def test_read_now_survives_a_connection_the_server_dropped(pg_database: str) -> None:
    # read_now() skips the pool's ping: a dropped connection must cost a retry, not an error.
    db = Database(pg_database)
    try:
        names = db.read_now(lambda session: list(session.scalars(select(ProjectRow.name))))
        pid = db.read_now(lambda session: session.execute(text("SELECT pg_backend_pid()")).scalar())
        with db.session() as session:
            session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        again = db.read_now(lambda session: list(session.scalars(select(ProjectRow.name))))
        assert again == names
    finally:
        db.dispose()


def test_write_session_commits_and_rows_stay_readable(platform: Platform) -> None:
    with platform.db.session(write=True) as session:
        created = projects.create(session, "vision", "images")
    assert created.name == "vision"
    with platform.db.session() as session:
        row = projects.get_row(session, "vision")
    # Rows read in a (read-only) session can still be used once it is closed.
    assert row.description == "images"
    assert _project_names(platform) == ["default", "vision"]


def test_error_in_write_session_rolls_back_everything(platform: Platform) -> None:
    def half_done() -> None:
        with platform.db.session(write=True) as session:
            projects.create(session, "half", "")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        half_done()
    assert _project_names(platform) == ["default"]


def test_unique_violation_becomes_already_exists(platform: Platform) -> None:
    with pytest.raises(AlreadyExists) as info:
        _add_projects(platform, "twin", "twin", write=True)
    assert info.value.http_status == 409
    assert _project_names(platform) == ["default"]


def test_foreign_key_violation_becomes_conflict(platform: Platform) -> None:
    now = utcnow()
    row = RunRow(
        id="r" * 32,
        experiment_id="missing",
        project_id="missing",
        name="orphan",
        user="u",
        status="RUNNING",
        status_reason="",
        lifecycle="active",
        artifact_uri="x",
        created_at=now,
        heartbeat_at=now,
    )
    with pytest.raises(Conflict, match="conflicts with existing data"):
        _execute(platform, insert(RunRow).values(**_columns(row)), write=True)
    with platform.db.session() as session:
        assert session.scalar(select(RunRow.id)) is None


def _columns(row: RunRow) -> dict[str, Any]:
    return {
        c.key: getattr(row, c.key) for c in RunRow.__table__.columns if c.key != "parent_run_id"
    }


def test_unreachable_postgresql_is_backend_unavailable_and_masked() -> None:
    db = Database(UNREACHABLE)
    assert db.masked_url == "postgresql://u:***@127.0.0.1:1/x"
    try:
        with pytest.raises(BackendUnavailable) as info:
            db.ping()
    finally:
        db.dispose()
    error = info.value
    assert error.http_status == 503
    assert "cannot reach the metadata database at postgresql://u:***@127.0.0.1:1/x" in (
        error.message
    )
    assert error.details == {"url": "postgresql://u:***@127.0.0.1:1/x"}
    assert "secret" not in error.message
    assert "secret" not in str(error.to_payload())


def test_open_platform_on_unreachable_postgresql(tmp_path: Path) -> None:
    settings = load_settings(
        home=str(tmp_path), database_url=UNREACHABLE, artifact_root=str(tmp_path / "a")
    )
    with pytest.raises(BackendUnavailable) as info:
        open_platform(settings)
    assert "secret" not in info.value.message
    assert "u:***@127.0.0.1:1" in info.value.message


def test_unsupported_database_scheme() -> None:
    with pytest.raises(BackendUnavailable, match=r"mysql://root:\*\*\*@db/x"):
        Database("mysql://root:pw@db/x")


def test_sqlite_pragmas(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/sub/dir/g.db")  # parent folders are created
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    finally:
        db.dispose()


def test_in_memory_sqlite_shares_one_database() -> None:
    db = Database("sqlite://")
    try:
        with db.session(write=True) as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
            session.execute(text("INSERT INTO t VALUES (1)"))
        with db.session() as session:
            assert session.execute(text("SELECT x FROM t")).scalar() == 1
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "url", ["not a url", "", "postgresql://u:secret@db:notaport/griffin"], ids=repr
)
def test_malformed_database_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        Database(url)
    assert info.value.details == {"field": "database_url"}
    assert "invalid database_url" in info.value.message
    assert "secret" not in info.value.message


def test_sqlite_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(BackendUnavailable, match="cannot create the folder"):
        Database(f"sqlite:///{blocker}/sub/griffin.db")


@pytest.mark.postgres
def test_postgresql_sessions_cost_random_access_as_on_ssds(pg_database: str) -> None:
    # With the server default (4), loading a search page's params scanned whole tables.
    from griffin.store.session import Database

    db = Database(pg_database)
    with db.session() as session:
        assert session.execute(text("SHOW random_page_cost")).scalar() == "1.1"
    db.dispose()
