"""The one place errors become HTTP responses."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from griffin.errors import (
    GriffinError,
    InvalidArgument,
    MethodNotAllowed,
    NotFound,
)

__all__ = ["install_error_handlers"]

log = logging.getLogger(__name__)


def _response(error: GriffinError) -> JSONResponse:
    return JSONResponse(error.to_payload(), status_code=error.http_status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GriffinError)
    async def griffin_error(request: Request, exc: GriffinError) -> JSONResponse:
        if exc.http_status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.message)
        return _response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _response(validation_to_error(exc.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _response(NotFound(f"no such endpoint: {request.method} {request.url.path}"))
        if exc.status_code == 405:
            return _response(
                MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
            )
        return JSONResponse(GriffinError(str(exc.detail)).to_payload(), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in %s %s", request.method, request.url.path)
        return _response(GriffinError("internal server error; see the server log"))


def validation_to_error(errors: object) -> InvalidArgument:
    """A pydantic validation failure as one message naming the field."""
    items = list(errors) if isinstance(errors, list | tuple) else []
    if not items:
        return InvalidArgument("invalid request")
    first = items[0]
    if first.get("type") == "json_invalid":
        # FastAPI puts the character offset where a field name would be: say what it is.
        at = [p for p in first.get("loc", ()) if isinstance(p, int)]
        where = f" at position {at[0]}" if at else ""
        reason = (first.get("ctx") or {}).get("error") or first.get("msg", "")
        return InvalidArgument(f"invalid JSON body{where}: {reason}", details={"field": "body"})
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc) or "request"
    message = f"invalid {field}: {first.get('msg', 'invalid value')}"
    if len(items) > 1:
        message += f" (and {len(items) - 1} more problem{'s' if len(items) > 2 else ''})"
    return InvalidArgument(message, details={"field": field})
