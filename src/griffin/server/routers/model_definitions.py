"""The Model Store of a project: plan and apply model definitions, read them, and their code.

Every route lives under ``/projects/{project}/model-definitions`` or
``/projects/{project}/packages``. ``PUT .../packages/{digest}`` takes the ``tar.gz`` as the raw
body; the server recomputes the digest from the archive's contents and refuses a mismatch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from griffin.domain.model_definitions import ModelDefinitionSpec
from griffin.server.deps import CurrentPlatform, CurrentPrincipal
from griffin.server.schemas.model_definitions import (
    DefinitionDiffOut,
    DefinitionVersionOut,
    DefinitionVersionsOut,
    ModelDefinitionOut,
    ModelDefinitionsIn,
    ModelDefinitionsOut,
    ModelPlanOut,
    PackageOut,
)
from griffin.training import model_store as service

router = APIRouter(prefix="/projects/{project}", tags=["model_definitions"])

Version = Annotated[int | None, Query(ge=1)]


def _specs(body: ModelDefinitionsIn) -> list[ModelDefinitionSpec]:
    return [ModelDefinitionSpec.from_json(spec) for spec in body.specs]


@router.get("/model-definitions")
def list_definitions(
    project: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    q: Annotated[str | None, Query(max_length=256)] = None,
) -> ModelDefinitionsOut:
    """Every definition at its latest version, by name (``q``: free-text filter)."""
    found = service.list_definitions(platform.db, principal, project, query=q)
    return ModelDefinitionsOut(items=[ModelDefinitionOut.of(d) for d in found])


@router.post("/model-definitions/plan")
def plan(
    project: str, body: ModelDefinitionsIn, platform: CurrentPlatform, principal: CurrentPrincipal
) -> ModelPlanOut:
    """What ``apply`` would write; writes nothing."""
    found = service.plan(
        platform,
        principal,
        project,
        _specs(body),
        code_digest=body.code_digest,
        git_commit=body.git_commit,
    )
    return ModelPlanOut.of(found)


@router.post("/model-definitions/apply")
def apply(
    project: str, body: ModelDefinitionsIn, platform: CurrentPlatform, principal: CurrentPrincipal
) -> ModelPlanOut:
    """Write a new version of every changed definition, in one transaction (editor)."""
    found = service.apply(
        platform,
        principal,
        project,
        _specs(body),
        code_digest=body.code_digest,
        git_commit=body.git_commit,
    )
    return ModelPlanOut.of(found)


@router.get("/model-definitions/{name}")
def get_definition(
    project: str,
    name: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    version: Version = None,
) -> ModelDefinitionOut:
    """One definition at ``version`` (default: latest), with every version's history."""
    found = service.get_definition(platform.db, principal, project, name, version)
    return ModelDefinitionOut.of(found)


@router.get("/model-definitions/{name}/versions")
def definition_versions(
    project: str, name: str, platform: CurrentPlatform, principal: CurrentPrincipal
) -> DefinitionVersionsOut:
    """Every version of a definition, oldest first."""
    found = service.definition_versions(platform.db, principal, project, name)
    return DefinitionVersionsOut(items=[DefinitionVersionOut.of(v) for v in found])


@router.get("/model-definitions/{name}/diff")
def diff(
    project: str,
    name: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    from_version: Annotated[int | None, Query(alias="from", ge=1)] = None,
    to_version: Annotated[int | None, Query(alias="to", ge=1)] = None,
) -> DefinitionDiffOut:
    """Spec, code and file changes from ``from`` (default: the one before ``to``) to ``to``
    (default: latest)."""
    found = service.diff(platform, principal, project, name, from_version, to_version)
    return DefinitionDiffOut.of(found)


@router.put("/packages/{digest}")
async def put_package(
    project: str,
    digest: str,
    request: Request,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> PackageOut:
    """Store a code package (raw ``tar.gz`` body) under its digest; idempotent (editor)."""
    service.check_upload(principal, project, digest)
    path = await service.spool(request.stream(), service.max_upload_bytes(platform))
    try:
        stored = await run_in_threadpool(
            service.store_package, platform, principal, project, path, digest
        )
        size = await run_in_threadpool(service.has_package, platform, principal, project, stored)
    finally:
        await run_in_threadpool(Path.unlink, path, True)
    return PackageOut(project=project, digest=stored, size_bytes=size)


@router.head("/packages/{digest}")
def head_package(
    project: str, digest: str, platform: CurrentPlatform, principal: CurrentPrincipal
) -> Response:
    """200 with ``content-length`` when the package is stored, 404 otherwise."""
    size = service.has_package(platform, principal, project, digest)
    return Response(status_code=200, headers={"content-length": str(size)})


@router.get("/packages/{digest}")
def get_package(
    project: str, digest: str, platform: CurrentPlatform, principal: CurrentPrincipal
) -> StreamingResponse:
    """The package archive, with the sha256 of its bytes in ``x-griffin-sha256``."""
    size, sha256, chunks = service.open_package(platform, principal, project, digest)
    headers = {"content-length": str(size), "x-griffin-sha256": sha256}
    return StreamingResponse(chunks, media_type="application/gzip", headers=headers)
