"""The metadata database: engine setup and the one transactional session helper.

``Database.session()`` is read-only unless asked (``write=True``): a read-only session that tries
to flush raises, which catches a service writing where it meant to read. Every SQLAlchemy error
is translated here, once, into a Griffin error; nothing above the store sees a driver exception.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine, create_engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.pool import StaticPool

from griffin.config import mask_url
from griffin.errors import (
    AlreadyExists,
    BackendUnavailable,
    ConfigError,
    Conflict,
    GriffinError,
)

__all__ = ["Database"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class _ReadOnlyFlush(GriffinError):
    code = "INTERNAL"


class Database:
    """One metadata database (SQLite or PostgreSQL), its engine and its sessions."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.masked_url = mask_url(url)
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError) as exc:
            raise ConfigError(
                f"invalid database_url {self.masked_url!r}: {exc}; use sqlite:///path/to/file.db "
                "or postgresql://user:password@host:5432/database",
                details={"field": "database_url"},
            ) from None
        self.dialect = parsed.get_backend_name()
        if self.dialect not in {"sqlite", "postgresql"}:
            raise BackendUnavailable(
                f"unsupported metadata database {self.masked_url}: use sqlite:/// or postgresql://"
            )
        self.engine = self._create_engine(url, echo=echo)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._read_sessions = _read_only(
            sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        )
        # The pool of read_now(): PostgreSQL connections in autocommit mode, never pinged.
        self._lean_engine: Engine | None = None
        self._lean_sessions: sessionmaker[Session] | None = None
        self._lean_lock = threading.Lock()
        self._echo = echo

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _create_engine(self, url: str, *, echo: bool) -> Engine:
        parsed = make_url(url)
        if self.dialect == "sqlite":
            database = parsed.database or ""
            kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
            if database in {"", ":memory:"}:
                # One shared connection, or each session would see its own empty database.
                kwargs["poolclass"] = StaticPool
            else:
                folder = Path(database).expanduser().parent
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise BackendUnavailable(
                        f"cannot create the folder {folder} of the metadata database "
                        f"{self.masked_url}: {exc.strerror or exc}",
                        details={"url": self.masked_url},
                    ) from None
            engine = create_engine(url, echo=echo, **kwargs)
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        if parsed.drivername == "postgresql":
            # psycopg 3 is the supported driver; plain postgresql:// would pick psycopg2.
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return create_engine(
            url,
            echo=echo,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=20,
            connect_args=_PG_CONNECT_ARGS,
        )

    def _lean(self) -> sessionmaker[Session]:
        """Sessions of read_now() on PostgreSQL, created on first use."""
        with self._lean_lock:
            if self._lean_sessions is None:
                self._lean_engine = create_engine(
                    self.engine.url,
                    echo=self._echo,
                    isolation_level="AUTOCOMMIT",
                    pool_size=10,
                    max_overflow=20,
                    connect_args=_PG_CONNECT_ARGS,
                )
                self._lean_sessions = _read_only(sessionmaker(self._lean_engine, autoflush=False))
            return self._lean_sessions

    def read_now(self, read: Callable[[Session], T]) -> T:
        """``read(session)`` for a hot path's single-statement read, at the least cost.

        A plain read-only :meth:`session` on PostgreSQL makes four round trips: the pool's
        liveness ping, BEGIN, the statement, ROLLBACK. One statement needs no transaction
        (it sees one snapshot by itself), so this runs it on a connection in autocommit mode
        from a pool that is not pinged: one round trip. What the ping was for, a connection
        the server dropped (a restart, an idle timeout), is handled after the fact: the dead
        connection is discarded and ``read`` runs once more on a fresh one. On SQLite, where
        none of this costs a round trip, it is a read-only session.
        """
        if self.is_sqlite:
            with self.session() as session:
                return read(session)
        sessions = self._lean()
        for attempt in (1, 2):
            session = sessions()
            try:
                return read(session)
            except DBAPIError as exc:
                if attempt == 1 and exc.connection_invalidated:
                    continue
                raise self.translate(exc) from exc
            except SQLAlchemyError as exc:
                raise self.translate(exc) from exc
            finally:
                session.close()
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A transaction: committed on success (when ``write``), rolled back on any error."""
        session = self._sessions() if write else self._read_sessions()
        try:
            yield session
            if write:
                session.commit()
            # A read-only transaction ends in close() below: it rolls back without expiring
            # the loaded rows, so callers may still read their attributes after the block.
        except GriffinError:
            session.rollback()
            raise
        except SQLAlchemyError as exc:
            session.rollback()
            raise self.translate(exc) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def translate(self, exc: SQLAlchemyError) -> GriffinError:
        """Map a database error to the Griffin error a user can act on."""
        if isinstance(exc, IntegrityError):
            text = str(exc.orig).lower()
            if "unique" in text or "duplicate" in text:
                return AlreadyExists("an object with this name already exists")
            return Conflict(f"the change conflicts with existing data: {_first_line(exc.orig)}")
        if isinstance(exc, OperationalError | InterfaceError) and _is_connection_error(exc):
            return BackendUnavailable(
                f"cannot reach the metadata database at {self.masked_url}: {_first_line(exc.orig)}",
                details={"url": self.masked_url},
            )
        if isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower():
            return BackendUnavailable(f"the metadata database {self.masked_url} is busy (locked)")
        log.exception("unexpected database error")
        return GriffinError(f"database error: {_first_line(getattr(exc, 'orig', exc))}")

    def ping(self) -> None:
        """Raise ``BackendUnavailable`` unless a trivial query succeeds."""
        from sqlalchemy import text

        with self.session() as session:
            session.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self._lean_engine is not None:
            self._lean_engine.dispose()


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


def _is_connection_error(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    text = str(exc.orig).lower()
    return any(
        marker in text
        for marker in (
            "connection refused",
            "could not connect",
            "connection failed",
            "timeout expired",
            "server closed the connection",
            "unable to open database",
            "name or service not known",
            "does not exist",
            "terminating connection",
        )
    )


# random_page_cost=1.1 (the usual value for SSDs and cached data) for Griffin's own sessions:
# with the default of 4, PostgreSQL scans a whole params or metrics table instead of probing
# its primary key for the 100 runs of a search page (3-4x slower).
_PG_CONNECT_ARGS = {"connect_timeout": 5, "options": "-c random_page_cost=1.1"}


def _read_only(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Make every session of ``sessions`` refuse to write (listening on the factory once
    costs nothing per session; listening on each session cost ~50 us per read)."""
    event.listen(sessions, "before_flush", _refuse_flush)
    event.listen(sessions, "do_orm_execute", _refuse_dml)
    return sessions


def _refuse_flush(session: Session, flush_context: Any, instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise _ReadOnlyFlush("a read-only session tried to write; open it with write=True")


def _refuse_dml(state: ORMExecuteState) -> None:
    # Bulk INSERT/UPDATE/DELETE statements bypass the flush: without this they would run and
    # then be silently rolled back.
    if state.is_insert or state.is_update or state.is_delete:
        raise _ReadOnlyFlush("a read-only session tried to write; open it with write=True")


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the server read while a run is writing; NORMAL sync is safe under WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # LIKE is case-sensitive on PostgreSQL (and in the search grammar); SQLite's default is not.
    cursor.execute("PRAGMA case_sensitive_like=ON")
    cursor.close()
