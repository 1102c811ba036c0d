"""MLflow's wire protocol: how a request is read, who makes it, and how answers and errors look.

The MLflow client speaks JSON renderings of MLflow's protobuf messages: snake_case fields,
int64 values as JSON numbers, GET parameters in the query string (repeated fields repeated),
everything else in a JSON body. Errors are ``{"error_code": ..., "message": ...}`` and the
client turns ``error_code`` into its exception classes, so each Griffin error maps to the code
and HTTP status MLflow's own server would use (:data:`ERROR_CODES`).

Every handler is registered with :func:`rpc` (a JSON message in, a JSON message out, run in a
worker thread since it reads the database) or :func:`raw` (an async handler that streams).
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.errors import (
    AlreadyExists,
    BackendUnavailable,
    Conflict,
    GriffinError,
    InvalidArgument,
    MethodNotAllowed,
    NotFound,
    NotSupported,
    PayloadTooLarge,
    PermissionDenied,
    Unauthenticated,
)
from griffin.platform import Platform
from griffin.server.principals import Principals
from griffin.store.session import Database

__all__ = [
    "ERROR_CODES",
    "Call",
    "MlflowError",
    "Params",
    "error_response",
    "invalid",
    "json_response",
    "ms",
    "raw",
    "routes",
    "rpc",
]

log = logging.getLogger(__name__)


class MlflowError(GriffinError):
    """An error that must reach the client with an MLflow code Griffin's tree has no class for
    (``ENDPOINT_NOT_FOUND``, ``INVALID_STATE``...)."""

    def __init__(self, error_code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.status = status


# Griffin's error classes, most specific first, as the MLflow code and status the MLflow client
# expects. MLflow answers 400 for an existing resource and for a run that is not active.
ERROR_CODES: tuple[tuple[type[GriffinError], str, int], ...] = (
    (PayloadTooLarge, "INVALID_PARAMETER_VALUE", 400),
    (InvalidArgument, "INVALID_PARAMETER_VALUE", 400),
    (NotFound, "RESOURCE_DOES_NOT_EXIST", 404),
    (AlreadyExists, "RESOURCE_ALREADY_EXISTS", 400),
    (Conflict, "INVALID_PARAMETER_VALUE", 400),
    (Unauthenticated, "UNAUTHENTICATED", 401),
    (PermissionDenied, "PERMISSION_DENIED", 403),
    (MethodNotAllowed, "ENDPOINT_NOT_FOUND", 404),
    (NotSupported, "NOT_IMPLEMENTED", 501),
    (BackendUnavailable, "TEMPORARILY_UNAVAILABLE", 503),
)


def json_response(body: Mapping[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error_response(exc: GriffinError) -> Response:
    if isinstance(exc, MlflowError):
        code, status = exc.error_code, exc.status
    else:
        code, status = "INTERNAL_ERROR", 500
        for kind, mlflow_code, mlflow_status in ERROR_CODES:
            if isinstance(exc, kind):
                code, status = mlflow_code, mlflow_status
                break
    return json_response({"error_code": code, "message": exc.message}, status)


def ms(value: datetime | None) -> int | None:
    """Milliseconds since the epoch, MLflow's timestamps."""
    return None if value is None else int(value.timestamp() * 1000)


def invalid(name: str, value: Any) -> InvalidArgument:
    """MLflow's error for a field of the wrong type or form."""
    shown = orjson.dumps(value).decode()[:200] if not isinstance(value, str) else value[:200]
    return InvalidArgument(
        f"Invalid value {shown} for parameter '{name}' supplied.", details={"field": name}
    )


class Params:
    """The fields of one request message: the JSON body, or the query string of a GET.

    Accessors check the type MLflow's protobuf parser would and name the field on failure, in
    MLflow's words, so scripts that match on messages keep working.
    """

    def __init__(self, values: Mapping[str, Any], *, from_query: bool = False) -> None:
        self.values = values
        self.from_query = from_query

    @classmethod
    def of_query(cls, request: Request) -> Params:
        values: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            values.setdefault(key, []).append(value)
        return cls(values, from_query=True)

    @classmethod
    def of_body(cls, body: bytes) -> Params:
        if not body.strip():
            return cls({})
        try:
            values = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise MlflowError("MALFORMED_REQUEST", f"invalid JSON body: {exc}", 400) from None
        if not isinstance(values, dict):
            raise MlflowError("MALFORMED_REQUEST", "the request body must be a JSON object", 400)
        return cls(values)

    def _one(self, name: str) -> Any:
        value = self.values.get(name)
        if self.from_query and isinstance(value, list):
            return value[-1] if value else None
        return value

    def has(self, name: str) -> bool:
        return self._one(name) is not None

    def missing(self, name: str) -> InvalidArgument:
        return InvalidArgument(
            f"Missing value for required parameter '{name}'. See the API docs for more "
            "information about request parameters.",
            details={"field": name},
        )

    def text(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self._one(name)
        if value is None:
            if required:
                raise self.missing(name)
            return default
        if isinstance(value, bool | dict | list):
            raise invalid(name, value)
        if isinstance(value, int | float):
            return orjson.dumps(value).decode()
        if required and value == "":
            raise self.missing(name)
        return str(value)

    def required(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def integer(
        self, name: str, default: int | None = None, *, required: bool = False
    ) -> int | None:
        value = self._one(name)
        if value is None:
            if required:
                raise self.missing(name)
            return default
        if isinstance(value, bool):
            raise invalid(name, value)
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str):
            try:
                number = int(value)
            except ValueError:
                raise invalid(name, value) from None
        else:
            raise invalid(name, value)
        if not -(2**63) <= number < 2**63:
            raise invalid(name, value)
        return number

    def number(self, name: str, *, required: bool = False) -> float | None:
        value = self._one(name)
        if value is None:
            if required:
                raise self.missing(name)
            return None
        return to_float(name, value)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self._one(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        raise invalid(name, value)

    def strings(self, name: str) -> list[str]:
        """A repeated string field (``order_by``, ``experiment_ids``...)."""
        value = self.values.get(name)
        if value is None:
            return []
        if isinstance(value, str) and not self.from_query:
            raise invalid(name, value)
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            if isinstance(item, bool | dict | list):
                raise invalid(name, value)
            out.append(item if isinstance(item, str) else orjson.dumps(item).decode())
        return out

    def objects(self, name: str) -> list[Mapping[str, Any]]:
        """A repeated message field (``tags``, ``metrics``...): a list of JSON objects."""
        value = self.values.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise invalid(name, value)
        return value

    def key_values(self, name: str) -> dict[str, str]:
        """A repeated ``{key, value}`` field as a dict; later duplicates win, as in MLflow."""
        out: dict[str, str] = {}
        for item in self.objects(name):
            entry = Params(item)
            out[entry.required("key")] = entry.text("value", "") or ""
        return out


def to_float(name: str, value: Any) -> float:
    """A double field: JSON numbers, or the strings protobuf's JSON uses for non-finite ones."""
    if isinstance(value, bool):
        raise invalid(name, value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value in {"NaN", "Infinity", "-Infinity", "nan", "inf", "-inf"}:
        return float(value.replace("Infinity", "inf"))
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise invalid(name, value) from None
        if not math.isnan(number):
            return number
    raise invalid(name, value)


@dataclass(frozen=True, slots=True)
class Call:
    """One request to an MLflow endpoint: who makes it, in which Griffin project, with what."""

    request: Request
    platform: Platform
    principal: Principal
    project: str
    params: Params

    @property
    def db(self) -> Database:
        return self.platform.db


Handler = Callable[[Call], Mapping[str, Any] | Response]
RawHandler = Callable[[Call], Awaitable[Response]]

routes: list[Route] = []


def _project(request: Request, principal: Principal, platform: Platform) -> str:
    """The Griffin project an MLflow call works in.

    MLflow has no projects, so the tracking URI names one (``http://host/projects/<name>``), or
    a project-scoped token does, or the server's default project (``GRIFFIN_PROJECT``) is used.
    """
    named = request.path_params.get("project")
    if named:
        return str(named)
    if principal.project != ALL_PROJECTS:
        return principal.project
    return platform.settings.project


def _ensure_project(platform: Platform, principal: Principal, project: str) -> bool:
    """On an open server, the default project is created on first use, as the CLI does.
    Whether it now exists (``False``: the caller may not create it; the service says so)."""
    if not principal.can(Role.ADMIN, project):
        return False
    from griffin.store import projects

    with platform.db.session(write=True) as session:
        projects.ensure(session, project)
    return True


async def _principal(request: Request) -> Principal:
    platform: Platform = request.app.state.platform
    principals: Principals | None = getattr(request.app.state, "mlflow_principals", None)
    if principals is None:
        principals = request.app.state.mlflow_principals = Principals(platform)
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() == "basic":
        # MLFLOW_TRACKING_USERNAME/PASSWORD: the password is a Griffin API token.
        try:
            decoded = base64.b64decode(secret.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("the Basic credentials are not valid base64") from None
        token = decoded.partition(":")[2].strip()
        if not token:
            raise Unauthenticated("the Basic password must be a Griffin API token")
        return await principals.of_token(token)
    return await principals.of(request.scope)


async def _call(request: Request, params: Params | None = None) -> Call:
    """The request's principal, project and message. The body's size was capped before it
    got here, by the app's ``BodyLimit``."""
    platform: Platform = request.app.state.platform
    principal = await _principal(request)
    if params is None:
        if request.method == "GET":
            params = Params.of_query(request)
        else:
            params = Params.of_body(await request.body())
            if not params.values and request.query_params:
                params = Params.of_query(request)
    project = _project(request, principal, platform)
    # Per app, not per process: each app has its own platform (and database).
    ensured: set[str] = request.app.state.__dict__.setdefault("mlflow_projects", set())
    if project not in ensured and await run_in_threadpool(
        _ensure_project, platform, principal, project
    ):
        ensured.add(project)
    return Call(request, platform, principal, project, params)


def _guarded(
    inner: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await inner(request)
        except GriffinError as exc:
            if not isinstance(exc, MlflowError) and exc.http_status >= 500:
                log.error("%s %s: %s", request.method, request.url.path, exc.message)
            return error_response(exc)
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.url.path)
            return error_response(GriffinError("internal server error; see the server log"))

    return endpoint


def rpc(method: str, *paths: str) -> Callable[[Handler], Handler]:
    """Register a JSON handler for ``method`` on each of ``paths`` (under ``/api/2.0``)."""

    def register(handler: Handler) -> Handler:
        async def inner(request: Request) -> Response:
            call = await _call(request)
            answer = await run_in_threadpool(handler, call)
            return answer if isinstance(answer, Response) else json_response(answer)

        for path in paths:
            routes.append(Route(path, _guarded(inner), methods=[method]))
        return handler

    return register


def raw(method: str, *paths: str) -> Callable[[RawHandler], RawHandler]:
    """Register an async handler that reads and answers the request itself (streaming)."""

    def register(handler: RawHandler) -> RawHandler:
        async def inner(request: Request) -> Response:
            # The body is the handler's to stream: only the query string is parsed here.
            return await handler(await _call(request, Params.of_query(request)))

        for path in paths:
            routes.append(Route(path, _guarded(inner), methods=[method]))
        return handler

    return register
