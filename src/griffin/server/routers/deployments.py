"""Deployments: create, list, show, update, roll back, and their revisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from griffin.server.deps import CurrentPlatform, CurrentPrincipal
from griffin.server.schemas.deployments import (
    DeploymentCreate,
    DeploymentOut,
    DeploymentsOut,
    DeploymentUpdate,
    RevisionOut,
    RevisionsOut,
    RollbackIn,
)
from griffin.serving import deployments as service

router = APIRouter(prefix="/projects/{project}/deployments", tags=["deployments"])

Name = Annotated[str, Path(max_length=63)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_deployment(
    project: str, body: DeploymentCreate, platform: CurrentPlatform, principal: CurrentPrincipal
) -> DeploymentOut:
    """A new deployment (editor); every model reference in it must name a version now."""
    deployment = service.create_deployment(
        platform.db,
        principal,
        project,
        body.name,
        body.changes(),
        description=body.description,
        tags=body.tags,
        comment=body.comment,
    )
    return DeploymentOut.of_deployment(deployment)


@router.get("")
def list_deployments(
    project: str, platform: CurrentPlatform, principal: CurrentPrincipal
) -> DeploymentsOut:
    """The project's deployments, by name."""
    found = service.list_deployments(platform.db, principal, project)
    return DeploymentsOut(items=[DeploymentOut.of_deployment(d) for d in found])


@router.get("/{name}")
def get_deployment(
    project: str, name: Name, platform: CurrentPlatform, principal: CurrentPrincipal
) -> DeploymentOut:
    return DeploymentOut.of_deployment(
        service.get_deployment(platform.db, principal, project, name)
    )


@router.patch("/{name}")
def update_deployment(
    project: str,
    name: Name,
    body: DeploymentUpdate,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> DeploymentOut:
    """Change the configuration (a new revision, unless nothing changed), the description or
    the tags (merged)."""
    deployment = service.update_deployment(
        platform.db,
        principal,
        project,
        name,
        body.changes(),
        description=body.description,
        tags=body.tags,
        comment=body.comment,
    )
    return DeploymentOut.of_deployment(deployment)


@router.post("/{name}/rollback")
def rollback_deployment(
    project: str,
    name: Name,
    body: RollbackIn,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> DeploymentOut:
    """Make an earlier revision's configuration current again (by default the previous one),
    as a new revision."""
    deployment = service.rollback_deployment(
        platform.db, principal, project, name, to_revision=body.to_revision, comment=body.comment
    )
    return DeploymentOut.of_deployment(deployment)


@router.get("/{name}/revisions")
def deployment_revisions(
    project: str,
    name: Name,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RevisionsOut:
    """Every change of the deployment, newest first."""
    found = service.deployment_history(platform.db, principal, project, name, limit=limit)
    return RevisionsOut(items=[RevisionOut.of_revision(r) for r in found])
