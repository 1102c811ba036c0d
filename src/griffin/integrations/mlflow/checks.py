"""MLflow's input rules, applied as MLflow's server applies them: the same limits, the same
error codes, messages in MLflow's words (``mlflow/utils/validation.py``), so a request MLflow
refuses is refused here too."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any

from griffin.domain.tracking import Metric
from griffin.errors import InvalidArgument
from griffin.integrations.mlflow.protocol import Call, Params, to_float

__all__ = [
    "batch_limit",
    "check_key",
    "check_value",
    "metric",
    "metrics",
    "offset",
    "params",
    "run_id",
    "tags",
    "view_type",
]

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_KEY_LENGTH = 250
MAX_EXPERIMENTS_PER_PAGE = 50_000
_KEY = re.compile(r"[/\w.\- :]*")


def check_key(key: str, path: str) -> str:
    if not _KEY.fullmatch(key):
        raise InvalidArgument(
            f"Invalid value {key!r} for parameter '{path}' supplied: Names may only contain "
            "alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and "
            "slashes (/).",
            details={"field": path},
        )
    norm = posixpath.normpath(key)
    if norm != key or norm == "." or norm.startswith("..") or norm.startswith("/"):
        raise InvalidArgument(
            f"Invalid value {key!r} for parameter '{path}' supplied: Names may be treated as "
            "files in certain cases, and must not resolve to other names when treated as such. "
            "This name would resolve to " + repr(norm),
            details={"field": path},
        )
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(
            f"'{path}' exceeds the maximum length of {MAX_KEY_LENGTH} characters",
            details={"field": path},
        )
    return key


def check_value(value: str, limit: int, path: str) -> str:
    if len(value) > limit:
        raise InvalidArgument(
            f"'{path}' exceeds the maximum length of {limit} characters",
            details={"field": path},
        )
    return value


def batch_limit(entity: str, limit: int, length: int) -> None:
    if length > limit:
        raise InvalidArgument(
            f"A batch logging request can contain at most {limit} {entity}. Got {length} "
            f"{entity}. Please split up {entity} across multiple requests and try again.",
            details={"field": entity},
        )


def metric(item: Mapping[str, Any], path: str) -> Metric:
    def at(name: str) -> str:
        return f"{path}.{name}" if path else name

    entry = Params(item)
    if entry.text("key") is None:
        raise entry.missing(at("key"))
    key = check_key(entry.required("key"), at("key"))
    raw = item.get("value")
    if raw is None:
        raise entry.missing(at("value"))
    value = to_float(at("value"), raw)
    timestamp = entry.integer("timestamp") if "timestamp" in item else None
    if timestamp is None:
        raise entry.missing(at("timestamp"))
    if timestamp < 0:
        raise InvalidArgument(
            f"Invalid value {timestamp} for parameter '{at('timestamp')}' supplied: metric "
            f"'{key}'. Timestamp must be a nonnegative long (64-bit integer)",
            details={"field": at("timestamp")},
        )
    step = entry.integer("step", 0) or 0
    return Metric(key, value, step, timestamp)


def metrics(items: list[Mapping[str, Any]]) -> list[Metric]:
    """A batch's metrics. Well-typed points take one cheap check each and each distinct key
    is checked once; anything else goes through :func:`metric`, which names the problem."""
    out: list[Metric] = []
    keys: set[str] = set()
    for index, item in enumerate(items):
        key = item.get("key")
        value = item.get("value")
        timestamp = item.get("timestamp")
        step = item.get("step", 0)
        if (
            type(key) is str
            and isinstance(value, float | int)
            and type(value) is not bool
            and type(timestamp) is int
            and type(step) is int
            and timestamp >= 0
        ):
            keys.add(key)
            out.append(Metric(key, float(value), step, timestamp))
        else:
            out.append(metric(item, f"metrics[{index}]"))
    for key in keys:
        check_key(key, "metrics.key")
    return out


def params(items: list[Mapping[str, Any]], path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for index, item in enumerate(items):
        entry = Params(item)
        key = check_key(entry.required("key"), f"{path}[{index}].key")
        value = entry.text("value", "") or ""
        out[key] = check_value(value, MAX_PARAM_VALUE_LENGTH, f"{path}[{index}].value")
    return out


def tags(items: list[Mapping[str, Any]], path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for index, item in enumerate(items):
        entry = Params(item)
        key = check_key(entry.required("key"), f"{path}[{index}].key")
        value = entry.text("value", "") or ""
        out[key] = check_value(value, MAX_TAG_VALUE_LENGTH, f"{path}[{index}].value")
    return out


def run_id(call: Call) -> str:
    """``run_id``, or ``run_uuid`` from clients before MLflow 1.0."""
    run_id = call.params.text("run_id") or call.params.text("run_uuid")
    if not run_id:
        raise call.params.missing("run_id")
    return run_id


_VIEW_TYPES = {"ACTIVE_ONLY": "active", "DELETED_ONLY": "deleted", "ALL": "all"}


def view_type(call: Call, name: str = "view_type") -> str:
    value = (call.params.text(name) or "ACTIVE_ONLY").upper()
    if value not in _VIEW_TYPES:
        raise InvalidArgument(
            f"Invalid value {value!r} for parameter '{name}' supplied.", details={"field": name}
        )
    return _VIEW_TYPES[value]


def offset(token: str | None) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise InvalidArgument("Invalid page token", details={"field": "page_token"})
    return int(token)
