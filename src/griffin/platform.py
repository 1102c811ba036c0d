"""The opened platform: settings, metadata database and artifact store, built once.

``griffin server``, the in-process SDK transport and the CLI's direct commands all open the same
``Platform``; nothing else opens databases or stores.
"""

from __future__ import annotations

from dataclasses import dataclass

from griffin.artifacts import ArtifactStore, open_artifact_store
from griffin.config import Settings, load_settings
from griffin.store import projects
from griffin.store.migrate import ensure_schema
from griffin.store.session import Database

__all__ = ["Platform", "open_platform"]


@dataclass
class Platform:
    settings: Settings
    db: Database
    artifacts: ArtifactStore

    def close(self) -> None:
        self.db.dispose()


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
