"""Where MLflow's API lives on the Griffin server, and the answer for what it does not serve."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, Router

from griffin.integrations.mlflow import protocol

__all__ = ["MOUNT_PREFIXES", "mount_mlflow"]

# The client appends /api/2.0/mlflow/... (and /api/3.0/..., /api/2.0/mlflow-artifacts/...) to
# the tracking URI, so a URI of http://host/projects/<name> works in that project.
MOUNT_PREFIXES = (
    "/api/2.0",
    "/api/3.0",
    "/projects/{project}/api/2.0",
    "/projects/{project}/api/3.0",
)
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


async def _not_found(request: Request) -> Response:
    return protocol.json_response(
        {
            "error_code": "ENDPOINT_NOT_FOUND",
            "message": f"Griffin does not serve MLflow's {request.method} {request.url.path}; "
            "see docs/mlflow.md for the endpoints it supports",
        },
        404,
    )


def mount_mlflow(app: Starlette) -> None:
    """Serve MLflow's REST API from ``app`` (whose ``state.platform`` is the platform)."""
    # Importing the handler modules registers their routes.
    from griffin.integrations.mlflow import (  # noqa: F401
        artifacts,
        experiments,
        logged_models,
        model_versions,
        multipart,
        registry,
        runs,
    )

    router = Router(routes=[*protocol.routes, Route("/{rest:path}", _not_found, methods=_METHODS)])
    # First in the routing table: the app tries its routes in order, and each of FastAPI's
    # costs a few microseconds to rule out; behind them all, an MLflow call paid ~4 ms.
    # No Griffin route starts with these prefixes, so the order changes no answer.
    mounts = [Mount(prefix, app=router) for prefix in MOUNT_PREFIXES]
    app.router.routes[:0] = mounts
