"""The opened platform: settings, metadata database and artifact store, built once.

``griffin server``, the in-process SDK transport and the CLI's direct commands all open the same
``Platform``; nothing else opens databases or stores.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from griffin.artifacts import ArtifactStore, open_artifact_store
from griffin.config import Settings, load_settings
from griffin.store import projects
from griffin.store.migrate import ensure_schema
from griffin.store.session import Database

if TYPE_CHECKING:
    from griffin.features.online import OnlineStore

__all__ = ["Platform", "open_platform"]


@dataclass
class Platform:
    settings: Settings
    db: Database
    artifacts: ArtifactStore
    _online: OnlineStore | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def online_store(self) -> OnlineStore:
        """The configured online store, opened on first use (most commands never need it)."""
        with self._lock:
            if self._online is None:
                from griffin.features.online import open_online_store

                self._online = open_online_store(self.settings.resolved_online_store)
            return self._online

    def close(self) -> None:
        self.db.dispose()
        with self._lock:
            if self._online is not None:
                self._online.close()
                self._online = None


def open_platform(settings: Settings | None = None, *, migrate: bool = True) -> Platform:
    """Open the configured database and artifact store.

    The embedded SQLite database migrates itself; PostgreSQL must be at the current schema
    (``griffin db upgrade``). The default project is created on first use.
    """
    settings = settings or load_settings()
    db = Database(settings.resolved_database_url)
    if migrate:
        ensure_schema(db)
        with db.session(write=True) as session:
            projects.ensure(session, settings.project)
    return Platform(
        settings=settings, db=db, artifacts=open_artifact_store(settings.resolved_artifact_root)
    )
