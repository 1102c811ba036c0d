"""Wire format of deployments: their configuration, revisions and the changes to them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from griffin.domain.deployments import Deployment, DeploymentRevision
from griffin.server.schemas.tracking import Wire

__all__ = [
    "ConfigOut",
    "DeploymentCreate",
    "DeploymentOut",
    "DeploymentUpdate",
    "DeploymentsOut",
    "RevisionOut",
    "RevisionsOut",
    "RollbackIn",
]

Ref = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Comment = Annotated[str, Field(max_length=2000)]


class TrafficRouteIO(Wire):
    ref: Ref
    weight: int


class ConfigFields(Wire):
    """The configuration's fields, each optional here: checked whole by the service."""

    model: Ref | None = None
    traffic: list[TrafficRouteIO] | dict[str, int] | None = None
    shadows: list[Ref] | None = None
    sticky_key: str | None = None
    feature_service: str | None = None
    backend: Literal["local", "kubernetes"] | None = None
    workers: int | None = None
    replicas: int | None = None
    max_batch_size: int | None = None
    max_latency_ms: float | None = None
    max_rows: int | None = None
    allow_degraded: bool | None = None

    def changes(self) -> dict[str, Any]:
        """The fields the request gave (a null means "not given")."""
        names = set(ConfigFields.model_fields)
        return {
            k: v
            for k, v in self.model_dump(mode="json", include=names, exclude_unset=True).items()
            if v is not None
        }


class DeploymentCreate(ConfigFields):
    name: Annotated[str, StringConstraints(min_length=1, max_length=63)]
    description: Annotated[str, Field(max_length=8000)] = ""
    tags: dict[str, str] = {}
    comment: Comment = ""


class DeploymentUpdate(ConfigFields):
    description: Annotated[str | None, Field(max_length=8000)] = None
    tags: dict[str, str] = {}
    comment: Comment = ""


class RollbackIn(Wire):
    to_revision: Annotated[int | None, Field(ge=1)] = None
    comment: Comment = ""


class ConfigOut(Wire):
    model: str
    traffic: list[TrafficRouteIO]
    shadows: list[str]
    sticky_key: str | None
    feature_service: str | None
    backend: str
    workers: int
    replicas: int
    max_batch_size: int
    max_latency_ms: float
    max_rows: int
    allow_degraded: bool


class DeploymentOut(Wire):
    id: str
    project: str
    name: str
    description: str
    config: ConfigOut
    revision: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    tags: dict[str, str]

    @classmethod
    def of_deployment(cls, deployment: Deployment) -> DeploymentOut:
        return cls.model_validate(deployment.to_json())


class DeploymentsOut(Wire):
    items: list[DeploymentOut]


class RevisionOut(Wire):
    revision: int
    action: Literal["create", "update", "rollback"]
    config: ConfigOut
    created_by: str
    created_at: datetime
    comment: str
    rolled_back_to: int | None

    @classmethod
    def of_revision(cls, revision: DeploymentRevision) -> RevisionOut:
        return cls.model_validate(revision.to_json())


class RevisionsOut(Wire):
    items: list[RevisionOut]
