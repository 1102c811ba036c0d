"""Wire format of online feature reads, shared by ``griffin server`` and the feature server.

The request is checked by hand and the response written with orjson straight from the
result's columns: on this path a pydantic model per request and per response would cost more
than the store read itself. :class:`OnlineFeaturesIn` exists only to document the body in
the OpenAPI schema.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from pydantic import Field

from griffin.errors import InvalidArgument
from griffin.features.serving import OnlineRequest, OnlineResult
from griffin.server.schemas.tracking import Wire

__all__ = [
    "MAX_ONLINE_ROWS",
    "OnlineFeaturesIn",
    "encode_online_result",
    "parse_online_request",
]

MAX_ONLINE_ROWS = 10_000  # entity rows per request
_KEYS = {"features", "feature_service", "entities", "request_data", "full_names"}


class OnlineFeaturesIn(Wire):
    """``POST /projects/{project}/features/online``: which features, for which entities."""

    features: list[str] | None = Field(
        default=None, description='"view:feature", "view" or on-demand view names'
    )
    feature_service: str | None = Field(default=None, description="a feature service's name")
    entities: dict[str, list[Any]] = Field(description="join key -> one value per entity row")
    request_data: dict[str, Any] | None = Field(
        default=None, description="request field -> a value for every row, or one per row"
    )
    full_names: bool = Field(default=False, description="name columns view__feature")


def _fail(message: str, field: str) -> InvalidArgument:
    return InvalidArgument(message, details={"field": field})


def parse_online_request(body: bytes) -> OnlineRequest:
    """The request in ``body``, checked; every problem is one InvalidArgument naming a field."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _fail(f"invalid JSON body: {exc}", "body") from None
    if not isinstance(data, dict):
        raise _fail("the body must be a JSON object", "body")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise _fail(
            f"unknown field {unknown[0]!r}; fields are {', '.join(sorted(_KEYS))}", unknown[0]
        )
    features = data.get("features")
    service = data.get("feature_service")
    if (features is None) == (service is None):
        raise _fail("give either 'features' (a list of names) or 'feature_service'", "features")
    refs: Any
    if service is not None:
        if not isinstance(service, str) or not service:
            raise _fail("'feature_service' must be a non-empty string", "feature_service")
        refs = service
    else:
        if (
            not isinstance(features, list)
            or not features
            or not all(isinstance(f, str) for f in features)
        ):
            raise _fail("'features' must be a non-empty list of strings", "features")
        refs = features
    entities = data.get("entities")
    if not isinstance(entities, dict):
        raise _fail("'entities' must be an object of join key -> list of values", "entities")
    for name, values in entities.items():
        if not isinstance(values, list):
            raise _fail(f"'entities.{name}' must be a list of values", f"entities.{name}")
        if len(values) > MAX_ONLINE_ROWS:
            raise _fail(
                f"'entities.{name}' has {len(values)} rows; at most {MAX_ONLINE_ROWS} per request",
                f"entities.{name}",
            )
    request_data = data.get("request_data")
    if request_data is not None and not isinstance(request_data, dict):
        raise _fail("'request_data' must be an object of field -> value(s)", "request_data")
    full_names = data.get("full_names", False)
    if not isinstance(full_names, bool):
        raise _fail("'full_names' must be true or false", "full_names")
    return OnlineRequest(refs, entities, request_data, full_names)


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    isoformat = getattr(value, "isoformat", None)  # pandas Timestamps and the like
    if callable(isoformat):
        return isoformat()
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_online_result(result: OnlineResult) -> bytes:
    """``{"columns": {name: [values]}}``: NaN and infinities as null, bytes as base64,
    timestamps as ISO 8601 UTC."""
    return orjson.dumps(
        {"columns": result.to_dict()},
        default=_default,
        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC,
    )
