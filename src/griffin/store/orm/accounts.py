"""Projects, users and API tokens: who may do what, where."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from griffin.store.orm.base import Base, UTCDateTime, ident


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(ident(), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(ident(), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TokenRow(Base):
    """An API token; only its SHA-256 is stored, never the secret."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(ident(), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ident(), ForeignKey("users.id", ondelete="CASCADE"))
    # NULL means every project (a site-wide token).
    project_id: Mapped[str | None] = mapped_column(
        ident(), ForeignKey("projects.id", ondelete="CASCADE"), nullable=True
    )
    role: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index(None, "project_id"),)
