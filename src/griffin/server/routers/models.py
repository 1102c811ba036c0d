"""The model registry: registered models, versions, aliases, promotion and lineage.

Reading a version or resolving an alias is the hot path (model servers and batch jobs resolve
on every start and poll for changes): both answer with an ``ETag``, and a request whose
``If-None-Match`` still matches gets ``304 Not Modified`` with no body.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from griffin.domain.registry import Lineage, ModelVersion
from griffin.registry import aliases, lineage, versions
from griffin.server.deps import CurrentPlatform, CurrentPrincipal
from griffin.server.schemas.models import (
    AliasChangeOut,
    AliasEventOut,
    AliasEventsOut,
    AliasSet,
    ModelCreate,
    ModelOut,
    ModelsOut,
    ModelUpdate,
    ModelVersionOut,
    PromoteIn,
    VersionCreate,
    VersionsOut,
    VersionUpdate,
    ViewUseOut,
    ViewUsesOut,
)

router = APIRouter(tags=["models"])

MODELS = "/projects/{project}/models"
Name = Annotated[str, Path(max_length=128)]
Alias = Annotated[str, Path(max_length=64)]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
Cursor = Annotated[str | None, Query(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=1000)]


def _conditional(request: Request, version: ModelVersion) -> Response:
    """The version as JSON with a strong ETag, or 304 when the client's copy is current."""
    body = ModelVersionOut.of(version).model_dump_json().encode()
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {"etag": etag, "cache-control": "no-cache"}
    wanted = request.headers.get("if-none-match", "")
    if wanted and etag in {t.strip().removeprefix("W/") for t in wanted.split(",")}:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get(MODELS)
def list_models(
    project: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    prefix: Annotated[str | None, Query(max_length=128)] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> ModelsOut:
    """Registered models by name."""
    page = versions.list_models(
        platform.db, principal, project, prefix=prefix, cursor=cursor, limit=limit
    )
    return ModelsOut(items=[ModelOut.of(m) for m in page.items], next_cursor=page.next_cursor)


@router.post(MODELS, status_code=status.HTTP_201_CREATED)
def create_model(
    project: str, body: ModelCreate, platform: CurrentPlatform, principal: CurrentPrincipal
) -> ModelOut:
    """Register a model name before its first version (versions also create it)."""
    return ModelOut.of(
        versions.create_model(
            platform.db,
            principal,
            project,
            body.name,
            description=body.description,
            tags=body.tags,
        )
    )


@router.get(MODELS + "/{name}")
def get_model(
    project: str, name: Name, platform: CurrentPlatform, principal: CurrentPrincipal
) -> ModelOut:
    return ModelOut.of(versions.get_model(platform.db, principal, project, name))


@router.patch(MODELS + "/{name}")
def update_model(
    project: str,
    name: Name,
    body: ModelUpdate,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> ModelOut:
    """Replace the description; merge tags (an empty value deletes a tag)."""
    return ModelOut.of(
        versions.update_model(
            platform.db, principal, project, name, description=body.description, tags=body.tags
        )
    )


@router.post(MODELS + "/{name}/versions", status_code=status.HTTP_201_CREATED)
def create_version(
    project: str,
    name: Name,
    body: VersionCreate,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> ModelVersionOut:
    """Register the next version of ``name`` from a run's artifacts."""
    return ModelVersionOut.of(
        versions.create_version(
            platform.db,
            principal,
            project,
            name,
            source=body.source,
            flavor=body.flavor,
            signature=body.signature,
            metrics=body.metrics,
            params=body.params,
            lineage=Lineage.from_json(body.lineage),
            tags=body.tags,
            description=body.description,
        )
    )


@router.get(MODELS + "/{name}/versions")
def list_versions(
    project: str,
    name: Name,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> VersionsOut:
    """Versions of ``name``, newest first."""
    page = versions.list_versions(platform.db, principal, project, name, cursor=cursor, limit=limit)
    return VersionsOut(
        items=[ModelVersionOut.of(v) for v in page.items], next_cursor=page.next_cursor
    )


@router.get(MODELS + "/{name}/versions/{version}", response_model=ModelVersionOut)
def get_version(
    project: str,
    name: Name,
    version: Version,
    request: Request,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> Response:
    """One version (ETag; ``If-None-Match`` answers 304 when unchanged)."""
    found = aliases.resolve(platform.db, principal, project, name, str(version))
    return _conditional(request, found)


@router.patch(MODELS + "/{name}/versions/{version}")
def update_version(
    project: str,
    name: Name,
    version: Version,
    body: VersionUpdate,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> ModelVersionOut:
    """Replace the description; merge tags and metrics (evaluation results land here)."""
    return ModelVersionOut.of(
        versions.update_version(
            platform.db,
            principal,
            project,
            name,
            version,
            description=body.description,
            tags=body.tags,
            metrics=body.metrics,
        )
    )


@router.get(MODELS + "/{name}/aliases/{alias}", response_model=ModelVersionOut)
def resolve_alias(
    project: str,
    name: Name,
    alias: Alias,
    request: Request,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> Response:
    """The version ``alias`` (or ``latest``) points at now (ETag; 304 when unchanged)."""
    found = aliases.resolve(platform.db, principal, project, name, alias)
    return _conditional(request, found)


@router.put(MODELS + "/{name}/aliases/{alias}")
def set_alias(
    project: str,
    name: Name,
    alias: Alias,
    body: AliasSet,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> AliasChangeOut:
    """Point ``alias`` at a version; ``require`` gates are checked first (409 when one fails)."""
    change = aliases.promote(
        platform.db, principal, project, name, body.version, alias, body.require
    )
    return AliasChangeOut.of(change)


@router.delete(MODELS + "/{name}/aliases/{alias}")
def delete_alias(
    project: str, name: Name, alias: Alias, platform: CurrentPlatform, principal: CurrentPrincipal
) -> AliasChangeOut:
    return AliasChangeOut.of(aliases.delete_alias(platform.db, principal, project, name, alias))


@router.get(MODELS + "/{name}/alias-history")
def alias_history(
    project: str,
    name: Name,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    alias: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 100,
) -> AliasEventsOut:
    """Alias changes (set, moved, deleted), newest first."""
    events = aliases.alias_history(platform.db, principal, project, name, alias, limit=limit)
    return AliasEventsOut(items=[AliasEventOut.of(e) for e in events])


@router.post(MODELS + "/{name}/promote")
def promote(
    project: str,
    name: Name,
    body: PromoteIn,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> AliasChangeOut:
    """Point ``alias`` at ``version`` if every requirement (``auc>=0.85``) holds, else 409."""
    change = aliases.promote(
        platform.db, principal, project, name, body.version, body.alias, body.require
    )
    return AliasChangeOut.of(change)


@router.get("/projects/{project}/features/views/{view}/model-versions")
def versions_using_view(
    project: str,
    view: Annotated[str, Path(max_length=256)],
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    view_version: Annotated[int | None, Query(ge=1)] = None,
) -> ViewUsesOut:
    """Model versions trained on feature view ``view`` (at ``view_version``)."""
    found = lineage.versions_using_view(
        platform.db, principal, project, view, view_version=view_version
    )
    return ViewUsesOut(items=[ViewUseOut.of(u) for u in found])
