"""Liveness and readiness probes (outside /api/v1, unauthenticated)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from griffin._version import __version__
from griffin.errors import GriffinError
from griffin.server.deps import CurrentPlatform

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz", response_model=None)
def readyz(platform: CurrentPlatform) -> JSONResponse | dict[str, str]:
    """The metadata database answers."""
    try:
        platform.db.ping()
    except GriffinError as exc:
        return JSONResponse({"status": "unavailable", "reason": exc.message}, status_code=503)
    return {"status": "ok", "database": platform.db.dialect}
