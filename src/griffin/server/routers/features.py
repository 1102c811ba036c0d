"""The feature registry of a project: plan and apply definitions, list and show objects.

Definitions arrive as specs and are rebuilt with ``Definitions.from_specs``; an on-demand
view's function is only source text here: the server stores it and never runs it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from griffin.features import registry as service
from griffin.features.project import Definitions
from griffin.features.sources import SqlSource
from griffin.server.deps import CurrentPlatform, CurrentPrincipal
from griffin.server.schemas.features import (
    DefinitionsIn,
    FeatureObjectOut,
    FeatureObjectsOut,
    PlanOut,
    SqlSourceIn,
)

router = APIRouter(prefix="/projects/{project}/features", tags=["features"])

Text = Annotated[str | None, Query(max_length=256)]


@router.post("/plan")
def plan(
    project: str, body: DefinitionsIn, platform: CurrentPlatform, principal: CurrentPrincipal
) -> PlanOut:
    definitions = Definitions.from_specs(body.specs)
    return PlanOut.of(service.plan(platform.db, principal, project, definitions))


@router.post("/apply")
def apply(
    project: str, body: DefinitionsIn, platform: CurrentPlatform, principal: CurrentPrincipal
) -> PlanOut:
    definitions = Definitions.from_specs(body.specs)
    return PlanOut.of(service.apply(platform.db, principal, project, definitions))


@router.put("/sources/{name}")
def put_sql_source(
    project: str,
    name: str,
    body: SqlSourceIn,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> FeatureObjectOut:
    """Define (or change) a SQL source by name; an unchanged definition writes nothing."""
    source = SqlSource(
        body.query,
        body.timestamp_field,
        name=name,
        connection=body.connection,
        created_timestamp_field=body.created_timestamp_field,
    )
    service.apply(platform.db, principal, project, Definitions([source]))
    return FeatureObjectOut.of(service.get_object(platform.db, principal, project, "source", name))


@router.get("")
def list_objects(
    project: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    q: Text = None,
    owner: Text = None,
    tag: Text = None,
    entity: Text = None,
) -> FeatureObjectsOut:
    found = service.list_objects(
        platform.db, principal, project, kind=kind, query=q, owner=owner, tag=tag, entity=entity
    )
    return FeatureObjectsOut(items=[FeatureObjectOut.of(o) for o in found])


@router.get("/{kind}/{name}")
def get_object(
    project: str,
    kind: str,
    name: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> FeatureObjectOut:
    found = service.get_object(platform.db, principal, project, kind, name, version)
    return FeatureObjectOut.of(found)
