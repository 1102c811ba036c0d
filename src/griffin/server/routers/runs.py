"""Runs: create, read, update, log, search, artifacts."""

from __future__ import annotations

from operator import itemgetter
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from griffin.domain.tracking import Metric, RunStatus
from griffin.errors import InvalidArgument, PayloadTooLarge
from griffin.server.deps import CurrentPlatform, CurrentPrincipal
from griffin.server.errors import validation_to_error
from griffin.server.limits import MAX_JSON_BODY
from griffin.server.schemas.tracking import (
    ArtifactOut,
    LogBatch,
    MetricHistory,
    MetricIn,
    MetricOut,
    Paged,
    RunCreate,
    RunOut,
    RunSearch,
    RunUpdate,
    Status,
)
from griffin.tracking import artifacts, runs

router = APIRouter(tags=["runs"])


@router.post("/projects/{project}/runs", status_code=status.HTTP_201_CREATED)
def create_run(
    project: str, body: RunCreate, platform: CurrentPlatform, principal: CurrentPrincipal
) -> RunOut:
    """Start a run; the experiment is created on first use."""
    return RunOut.of(
        runs.create_run(
            platform.db,
            principal,
            project,
            body.experiment,
            name=body.name,
            tags=body.tags,
            params=body.params,
            parent_run_id=body.parent_run_id,
            artifact_root=platform.settings.resolved_artifact_root,
        )
    )


@router.get("/projects/{project}/runs")
def list_runs(
    project: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    experiment: Annotated[str | None, Query(max_length=256)] = None,
    status_: Annotated[RunStatus | None, Query(alias="status")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Paged[RunOut]:
    """Runs, newest first."""
    page = runs.list_runs(
        platform.db,
        principal,
        project,
        experiment=experiment,
        status=status_,
        cursor=cursor,
        limit=limit,
    )
    return Paged[RunOut](items=[RunOut.of(r) for r in page.items], next_cursor=page.next_cursor)


@router.post("/projects/{project}/runs/search")
def search_runs(
    project: str, body: RunSearch, platform: CurrentPlatform, principal: CurrentPrincipal
) -> Paged[RunOut]:
    """Runs matching an MLflow-style filter, in the requested order."""
    page = runs.search_runs(
        platform.db,
        principal,
        project,
        experiments_=body.experiments,
        filter_=body.filter,
        order_by=body.order_by,
        limit=body.limit,
        cursor=body.cursor,
        include_deleted=body.include_deleted,
    )
    return Paged[RunOut](items=[RunOut.of(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/runs/{run_id}")
def get_run(run_id: str, platform: CurrentPlatform, principal: CurrentPrincipal) -> RunOut:
    return RunOut.of(runs.get_run(platform.db, principal, run_id))


@router.patch("/runs/{run_id}")
def update_run(
    run_id: str, body: RunUpdate, platform: CurrentPlatform, principal: CurrentPrincipal
) -> RunOut:
    """Rename a run or end it (FINISHED, FAILED, KILLED)."""
    return RunOut.of(
        runs.update_run(
            platform.db, principal, run_id, status=body.status, reason=body.reason, name=body.name
        )
    )


@router.delete("/runs/{run_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_run(run_id: str, platform: CurrentPlatform, principal: CurrentPrincipal) -> None:
    runs.delete_run(platform.db, principal, run_id)


@router.post("/runs/{run_id}/batch")
async def log_batch(
    run_id: str, request: Request, platform: CurrentPlatform, principal: CurrentPrincipal
) -> Status:
    """Log metrics, params and tags in one call (the SDK's buffered path).

    The body is parsed straight from bytes with pydantic's JSON parser: this is the hot path.
    """
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BODY:  # BodyLimit stops it earlier; this keeps the route safe
            raise PayloadTooLarge(f"a batch body is limited to {MAX_JSON_BODY} bytes")
    try:
        batch = LogBatch.model_validate_json(bytes(body))
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        raise (
            validation_to_error(errors())
            if callable(errors)
            else InvalidArgument("invalid JSON body")
        ) from None
    metrics = _metrics(batch.metrics)
    await run_in_threadpool(
        runs.log_batch,
        platform.db,
        principal,
        run_id,
        metrics=metrics,
        params=batch.params,
        tags=batch.tags,
    )
    return Status()


_POINT = itemgetter("key", "value", "step", "timestamp_ms")


def _metrics(points: list[MetricIn]) -> list[Metric]:
    """Wire points as domain metrics; C-level map() when every point names its step."""
    try:
        return list(map(Metric._make, map(_POINT, points)))
    except KeyError:  # "step" may be left out; it defaults to 0
        return [Metric(p["key"], p["value"], p.get("step", 0), p["timestamp_ms"]) for p in points]


@router.post("/runs/{run_id}/heartbeat")
def heartbeat(run_id: str, platform: CurrentPlatform, principal: CurrentPrincipal) -> Status:
    """The run's process is alive (the SDK sends this while a run is open)."""
    runs.heartbeat(platform.db, principal, run_id)
    return Status()


@router.get("/runs/{run_id}/metric-history")
def metric_history(
    run_id: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    key: Annotated[str, Query(min_length=1, max_length=250)],
) -> MetricHistory:
    """Every point of one metric, in step order."""
    points = runs.get_metric_history(platform.db, principal, run_id, key)
    return MetricHistory(run_id=run_id, key=key, points=[MetricOut.of(p) for p in points])


@router.get("/runs/{run_id}/artifacts")
def list_artifacts(
    run_id: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    prefix: Annotated[str, Query(max_length=1024)] = "",
) -> list[ArtifactOut]:
    return [
        ArtifactOut.of(a) for a in artifacts.list_artifacts(platform, principal, run_id, prefix)
    ]


@router.put("/runs/{run_id}/artifacts/{path:path}", status_code=status.HTTP_201_CREATED)
async def upload_artifact(
    run_id: str,
    path: str,
    request: Request,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> ArtifactOut:
    """Upload one file; the body is streamed to the artifact store, never held in memory."""
    return ArtifactOut.of(
        await artifacts.upload_artifact(platform, principal, run_id, path, request.stream())
    )


@router.get("/runs/{run_id}/artifacts/{path:path}")
def download_artifact(
    run_id: str, path: str, platform: CurrentPlatform, principal: CurrentPrincipal
) -> StreamingResponse:
    artifact, chunks = artifacts.download_artifact(platform, principal, run_id, path)
    headers = {"content-length": str(artifact.size)}
    if artifact.sha256:
        headers["x-griffin-sha256"] = artifact.sha256
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)
