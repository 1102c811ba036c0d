"""Saved training datasets of a project: register, list and show snapshots, download files.

``POST .../features/datasets/{name}`` takes the parquet file as the raw body (its schema
metadata carries the lineage) and registers it as the next version of ``name``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from griffin.features import datasets as service
from griffin.server.deps import CurrentPlatform, CurrentPrincipal
from griffin.server.schemas.feature_data import DatasetOut, DatasetsOut

router = APIRouter(prefix="/projects/{project}/features", tags=["features"])

Version = Annotated[int | None, Query(ge=1)]


@router.post("/datasets/{name}", status_code=status.HTTP_201_CREATED)
async def save_dataset(
    project: str,
    name: str,
    request: Request,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    description: Annotated[str, Query(max_length=10_000)] = "",
) -> DatasetOut:
    """Register the parquet body as the next version of dataset ``name`` (editor)."""
    service.check_save(principal, project, name)
    path = await service.spool(request.stream(), platform.settings.max_artifact_bytes)
    try:
        dataset = await run_in_threadpool(
            service.save_dataset,
            platform,
            principal,
            project,
            name,
            path,
            description=description,
        )
    finally:
        await run_in_threadpool(Path.unlink, path, True)
    return DatasetOut.of(dataset)


@router.get("/datasets")
def list_datasets(
    project: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    name: Annotated[str | None, Query(max_length=256)] = None,
) -> DatasetsOut:
    """The newest version of every dataset; with ``name``, all its versions, newest first."""
    found = service.list_datasets(platform.db, principal, project, name)
    return DatasetsOut(items=[DatasetOut.of(d) for d in found])


@router.get("/datasets/{name}")
def get_dataset(
    project: str,
    name: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    version: Version = None,
) -> DatasetOut:
    return DatasetOut.of(service.get_dataset(platform.db, principal, project, name, version))


@router.get("/datasets/{name}/data")
def download_dataset(
    project: str,
    name: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    version: Version = None,
) -> StreamingResponse:
    """The dataset's parquet file, with its sha256 in ``x-griffin-sha256``."""
    dataset, chunks = service.open_dataset(platform, principal, project, name, version)
    headers = {
        "content-length": str(dataset.size_bytes),
        "x-griffin-sha256": dataset.sha256,
        "x-griffin-dataset-version": str(dataset.version),
    }
    return StreamingResponse(chunks, media_type="application/vnd.apache.parquet", headers=headers)
