"""Wire format of the feature registry: definition specs in, plans and stored objects out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from griffin.domain.features import FeatureObject, ObjectVersion, Plan, PlanItem, SpecChange
from griffin.server.schemas.tracking import Wire

__all__ = ["DefinitionsIn", "FeatureObjectOut", "FeatureObjectsOut", "PlanOut"]

MAX_SPECS = 10_000


class DefinitionsIn(Wire):
    """A project's definitions as ``Definitions.specs()`` (one spec per object)."""

    specs: Annotated[list[dict[str, Any]], Field(max_length=MAX_SPECS)]


class SpecChangeOut(Wire):
    path: str
    op: Literal["added", "removed", "changed"]
    old: Any = None
    new: Any = None

    @classmethod
    def of(cls, c: SpecChange) -> SpecChangeOut:
        return cls(path=c.path, op=c.op, old=c.old, new=c.new)


class PlanItemOut(Wire):
    action: Literal["create", "update", "unchanged", "not_in_definitions"]
    kind: str
    name: str
    version: int | None
    new_version: int | None
    changes: list[SpecChangeOut]

    @classmethod
    def of(cls, i: PlanItem) -> PlanItemOut:
        return cls(
            action=i.action,
            kind=i.kind,
            name=i.name,
            version=i.version,
            new_version=i.new_version,
            changes=[SpecChangeOut.of(c) for c in i.changes],
        )


class PlanOut(Wire):
    project: str
    applied: bool
    items: list[PlanItemOut]

    @classmethod
    def of(cls, p: Plan) -> PlanOut:
        return cls(project=p.project, applied=p.applied, items=[PlanItemOut.of(i) for i in p.items])


class ObjectVersionOut(Wire):
    version: int
    fingerprint: str
    created_by: str
    created_at: datetime
    change: str

    @classmethod
    def of(cls, v: ObjectVersion) -> ObjectVersionOut:
        return cls(
            version=v.version,
            fingerprint=v.fingerprint,
            created_by=v.created_by,
            created_at=v.created_at,
            change=v.change,
        )


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

    @classmethod
    def of(cls, o: FeatureObject) -> FeatureObjectOut:
        return cls(
            project=o.project,
            kind=o.kind,
            name=o.name,
            version=o.version,
            latest_version=o.latest_version,
            owner=o.owner,
            description=o.description,
            tags=o.tags,
            fingerprint=o.fingerprint,
            spec=o.spec,
            created_at=o.created_at,
            updated_at=o.updated_at,
            versions=[ObjectVersionOut.of(v) for v in o.versions],
        )


class FeatureObjectsOut(Wire):
    items: list[FeatureObjectOut]
