"""Experiments of a project."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from griffin.server.deps import CurrentPlatform, CurrentPrincipal
from griffin.server.schemas.tracking import (
    ExperimentCreate,
    ExperimentOut,
    ExperimentUpdate,
    Paged,
)
from griffin.tracking import experiments as service

router = APIRouter(prefix="/projects/{project}/experiments", tags=["experiments"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_experiment(
    project: str, body: ExperimentCreate, platform: CurrentPlatform, principal: CurrentPrincipal
) -> ExperimentOut:
    return ExperimentOut.of(
        service.create_experiment(
            platform.db, principal, project, body.name, body.description, body.tags
        )
    )


@router.get("")
def list_experiments(
    project: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    name_contains: Annotated[str | None, Query(max_length=256)] = None,
    include_deleted: bool = False,
) -> Paged[ExperimentOut]:
    page = service.list_experiments(
        platform.db,
        principal,
        project,
        cursor=cursor,
        limit=limit,
        name_contains=name_contains,
        include_deleted=include_deleted,
    )
    return Paged[ExperimentOut](
        items=[ExperimentOut.of(e) for e in page.items], next_cursor=page.next_cursor
    )


@router.get("/{experiment}")
def get_experiment(
    project: str, experiment: str, platform: CurrentPlatform, principal: CurrentPrincipal
) -> ExperimentOut:
    return ExperimentOut.of(service.get_experiment(platform.db, principal, project, experiment))


@router.patch("/{experiment}")
def update_experiment(
    project: str,
    experiment: str,
    body: ExperimentUpdate,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> ExperimentOut:
    return ExperimentOut.of(
        service.update_experiment(
            platform.db,
            principal,
            project,
            experiment,
            new_name=body.name,
            description=body.description,
            tags=body.tags,
        )
    )


@router.delete("/{experiment}", status_code=status.HTTP_204_NO_CONTENT)
def delete_experiment(
    project: str, experiment: str, platform: CurrentPlatform, principal: CurrentPrincipal
) -> None:
    service.delete_experiment(platform.db, principal, project, experiment)
