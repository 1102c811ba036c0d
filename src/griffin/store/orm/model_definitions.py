"""The Model Store: definitions of untrained models, one row each, plus one row per version.

A version keeps the definition's spec (entry point, runtime, feature service, target, default
params) and the digest of the code package it was applied with, so a training job can name
exactly what code and settings it ran.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from griffin.store.orm.base import Base, UTCDateTime, ident


class ModelDefinitionRow(Base):
    __tablename__ = "model_definitions"

    id: Mapped[str] = mapped_column(ident(), primary_key=True)
    project_id: Mapped[str] = mapped_column(ident(), ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(ident(128))
    latest_version: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(256), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("project_id", "name"),)


class ModelDefinitionVersionRow(Base):
    __tablename__ = "model_definition_versions"

    definition_id: Mapped[str] = mapped_column(
        ident(), ForeignKey("model_definitions.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(ident(64))
    # sha256 of the code package in the artifact store; empty when applied without code.
    code_digest: Mapped[str] = mapped_column(ident(64), default="")
    git_commit: Mapped[str] = mapped_column(String(64), default="")
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    change: Mapped[str] = mapped_column(Text, default="")
