"""Wire format of the model registry: registered models, versions, aliases, lineage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from griffin.server.schemas.tracking import Description, Key, Params, Tags, Wire

__all__ = [
    "AliasChangeOut",
    "AliasEventOut",
    "AliasEventsOut",
    "AliasSet",
    "FeatureUseOut",
    "LineageOut",
    "ModelCreate",
    "ModelOut",
    "ModelUpdate",
    "ModelVersionOut",
    "ModelsOut",
    "PromoteIn",
    "VersionCreate",
    "VersionUpdate",
    "VersionsOut",
    "ViewUseOut",
    "ViewUsesOut",
]

Requirement = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Ref = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Metrics = Annotated[dict[Key, float], Field(max_length=10_000)]


class FeatureUseOut(Wire):
    view: str
    version: int | None
    features: list[str]


class LineageOut(Wire):
    job_id: str | None
    run_id: str | None
    dataset: str | None
    dataset_version: int | None
    feature_service: str | None
    feature_service_version: int | None
    features: list[FeatureUseOut]
    model_definition: str | None
    model_definition_version: int | None
    code_digest: str | None
    git_commit: str | None
    runtime: str | None


class ModelVersionOut(Wire):
    name: str
    version: int
    source: str
    flavor: str
    signature: dict[str, Any]
    metrics: dict[str, float]
    params: dict[str, str]
    lineage: LineageOut
    tags: dict[str, str]
    description: str
    created_by: str
    created_at: datetime
    aliases: list[str]


class VersionsOut(Wire):
    items: list[ModelVersionOut]
    next_cursor: str | None = None


class ModelOut(Wire):
    project: str
    name: str
    description: str
    tags: dict[str, str]
    latest_version: int
    aliases: dict[str, int]
    created_by: str
    created_at: datetime
    updated_at: datetime


class ModelsOut(Wire):
    items: list[ModelOut]
    next_cursor: str | None = None


class ModelCreate(Wire):
    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    description: Description = ""
    tags: Tags = {}


class ModelUpdate(Wire):
    description: Description | None = None
    tags: Tags = {}


class VersionCreate(Wire):
    """A new version: its files (``runs:/<run_id>/<path>``), flavor, signature and lineage."""

    source: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    flavor: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    signature: dict[str, Any] = {}
    metrics: Metrics = {}
    params: Params = {}
    lineage: dict[str, Any] = {}
    tags: Tags = {}
    description: Description = ""


class VersionUpdate(Wire):
    description: Description | None = None
    tags: Tags = {}
    metrics: Metrics = {}


class AliasSet(Wire):
    version: int | Ref
    require: list[Requirement] = Field(default=[], max_length=50)


class PromoteIn(Wire):
    version: int | Ref
    alias: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    require: list[Requirement] = Field(default=[], max_length=50)


class AliasChangeOut(Wire):
    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    changed: bool


class AliasEventOut(Wire):
    alias: str
    action: str
    from_version: int | None
    to_version: int | None
    user: str
    at: datetime


class AliasEventsOut(Wire):
    items: list[AliasEventOut]


class ViewUseOut(Wire):
    model: str
    version: int
    view: str
    view_version: int


class ViewUsesOut(Wire):
    items: list[ViewUseOut]
