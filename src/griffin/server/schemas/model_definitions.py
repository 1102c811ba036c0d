"""Wire format of the Model Store: specs in, plans, definitions, versions and diffs out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from griffin.server.schemas.features import SpecChangeOut
from griffin.server.schemas.tracking import Wire

__all__ = [
    "DefinitionDiffOut",
    "DefinitionVersionOut",
    "DefinitionVersionsOut",
    "ModelDefinitionOut",
    "ModelDefinitionsIn",
    "ModelDefinitionsOut",
    "ModelPlanOut",
    "PackageOut",
]

MAX_SPECS = 10_000


class ModelDefinitionsIn(Wire):
    """A project's definitions (``ModelDefinitionSpec.to_json()`` each) and their code."""

    specs: Annotated[list[dict[str, Any]], Field(max_length=MAX_SPECS)]
    code_digest: Annotated[str, Field(max_length=64)] = ""
    git_commit: Annotated[str, Field(max_length=64)] = ""


class ModelPlanItemOut(Wire):
    action: Literal["create", "update", "unchanged", "not_in_definitions"]
    name: str
    version: int | None
    new_version: int | None
    changes: list[SpecChangeOut]
    code_changed: bool
    old_code_digest: str
    code_digest: str


class ModelPlanOut(Wire):
    project: str
    applied: bool
    code_digest: str
    git_commit: str
    items: list[ModelPlanItemOut]


class DefinitionVersionOut(Wire):
    version: int
    fingerprint: str
    code_digest: str
    git_commit: str
    created_by: str
    created_at: datetime
    change: str


class DefinitionVersionsOut(Wire):
    items: list[DefinitionVersionOut]


class ModelDefinitionOut(Wire):
    project: str
    name: str
    version: int
    latest_version: int
    entry: str
    runtime: str | None
    features: str | None
    target: str | None
    task: str | None
    entity_rows: str | None
    params: dict[str, Any]
    owner: str
    description: str
    tags: dict[str, str]
    fingerprint: str
    code_digest: str
    git_commit: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    versions: list[DefinitionVersionOut]


class ModelDefinitionsOut(Wire):
    items: list[ModelDefinitionOut]


class FileChangeOut(Wire):
    path: str
    op: Literal["added", "removed", "modified"]
    old_size: int | None
    new_size: int | None


class DefinitionDiffOut(Wire):
    project: str
    name: str
    from_version: int
    to_version: int
    changes: list[SpecChangeOut]
    code_changed: bool
    from_code_digest: str
    to_code_digest: str
    files_compared: bool
    files: list[FileChangeOut]


class PackageOut(Wire):
    project: str
    digest: str
    size_bytes: int
