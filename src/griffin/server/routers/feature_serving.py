"""Online feature values over HTTP, as a route of ``griffin server``.

``griffin features serve`` runs the same read (``ProjectReaders``) in a leaner app
(:mod:`griffin.server.feature_server`) for the lowest latency; this route is for teams that run
one server. Bodies are parsed and answered with orjson, not pydantic (see the schemas module).
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request, Response

from griffin.features.serving import ProjectReaders
from griffin.platform import Platform
from griffin.server.deps import CurrentPlatform, CurrentPrincipal
from griffin.server.schemas.feature_serving import (
    OnlineFeaturesIn,
    encode_online_result,
    parse_online_request,
)

router = APIRouter(prefix="/projects/{project}/features", tags=["features"])

_lock = threading.Lock()


def readers_of(request: Request, platform: Platform) -> ProjectReaders:
    """The app's per-project readers, made on first use (the online store opens then)."""
    state = request.app.state
    readers: ProjectReaders | None = getattr(state, "feature_readers", None)
    if readers is None:
        with _lock:
            readers = getattr(state, "feature_readers", None)
            if readers is None:
                readers = ProjectReaders(platform.db, platform.online_store())
                state.feature_readers = readers
    return readers


_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": OnlineFeaturesIn.model_json_schema()}},
    },
    "responses": {
        "200": {
            "description": '`{"columns": {column: [values]}}`: join keys, then the features',
        }
    },
}


@router.post("/online", openapi_extra=_BODY, response_class=Response)
async def online_features(
    project: str, request: Request, platform: CurrentPlatform, principal: CurrentPrincipal
) -> Response:
    """The latest feature values of some entities, read from the online store."""
    parsed = parse_online_request(await request.body())
    result = await readers_of(request, platform).aread(principal, project, parsed)
    return Response(encode_online_result(result), media_type="application/json")
