"""Wire format of the feature registry: definition specs in, plans and stored objects out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from griffin.server.schemas.tracking import Wire

__all__ = ["DefinitionsIn", "FeatureObjectOut", "FeatureObjectsOut", "PlanOut", "SqlSourceIn"]

MAX_SPECS = 10_000


class DefinitionsIn(Wire):
    """A project's definitions as ``Definitions.specs()`` (one spec per object)."""

    specs: Annotated[list[dict[str, Any]], Field(max_length=MAX_SPECS)]


class SqlSourceIn(Wire):
    """A SQL source defined by name: its query and timestamp column (and optional extras)."""

    query: Annotated[str, Field(min_length=1, max_length=100_000)]
    timestamp_field: Annotated[str, Field(min_length=1, max_length=256)]
    created_timestamp_field: Annotated[str | None, Field(max_length=256)] = None
    connection: Annotated[str | None, Field(max_length=2048)] = None


class SpecChangeOut(Wire):
    path: str
    op: Literal["added", "removed", "changed"]
    old: Any = None
    new: Any = None


class PlanItemOut(Wire):
    action: Literal["create", "update", "unchanged", "not_in_definitions"]
    kind: str
    name: str
    version: int | None
    new_version: int | None
    changes: list[SpecChangeOut]


class PlanOut(Wire):
    project: str
    applied: bool
    items: list[PlanItemOut]


class ObjectVersionOut(Wire):
    version: int
    fingerprint: str
    created_by: str
    created_at: datetime
    change: str


class FeatureObjectOut(Wire):
    project: str
    kind: str
    name: str
    version: int
    latest_version: int
    owner: str
    description: str
    tags: dict[str, str]
    fingerprint: str
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    versions: list[ObjectVersionOut]


class FeatureObjectsOut(Wire):
    items: list[FeatureObjectOut]
