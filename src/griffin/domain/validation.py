"""Names, keys and limits every interface enforces the same way."""

from __future__ import annotations

import re

from griffin.errors import InvalidArgument

__all__ = [
    "MAX_BATCH_METRICS",
    "MAX_BATCH_PARAMS",
    "MAX_BATCH_TAGS",
    "MAX_KEY_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "check_key",
    "check_name",
    "check_value",
]

MAX_KEY_LENGTH = 250
MAX_NAME_LENGTH = 256
MAX_PARAM_VALUE_LENGTH = 8000
MAX_TAG_VALUE_LENGTH = 8000
MAX_BATCH_METRICS = 10_000
MAX_BATCH_PARAMS = 1_000
MAX_BATCH_TAGS = 1_000

# Keys may nest with '/', like MLflow's ("train/loss"), but never walk paths.
_KEY = re.compile(r"^[A-Za-z0-9_\-. /:]+$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-. ]*$")


def check_key(key: str, *, field: str = "key") -> str:
    """A metric, param or tag key: 1-250 chars of letters, digits, ``_-./: ``, no ``..``."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(
            f"invalid {field} {key[:40]!r}: must be 1 to {MAX_KEY_LENGTH} characters",
            details={"field": field},
        )
    if not _KEY.match(key):
        raise InvalidArgument(
            f"invalid {field} {key[:40]!r}: only letters, digits and _ - . / : and spaces "
            "are allowed",
            details={"field": field},
        )
    parts = key.split("/")
    if key.startswith("/") or any(part in {"", ".", ".."} for part in parts):
        raise InvalidArgument(
            f"invalid {field} {key[:40]!r}: no empty, '.' or '..' path segments",
            details={"field": field},
        )
    return key


def check_name(name: str, *, field: str = "name") -> str:
    """An experiment or project name: starts with a letter or digit, at most 256 chars."""
    if not name or len(name) > MAX_NAME_LENGTH or not _NAME.match(name):
        raise InvalidArgument(
            f"invalid {field} {name[:40]!r}: use 1 to {MAX_NAME_LENGTH} letters, digits, "
            "spaces and _ - . , starting with a letter or digit",
            details={"field": field},
        )
    return name


def check_value(value: str, *, limit: int, field: str) -> str:
    """A param or tag value no longer than ``limit`` characters."""
    if len(value) > limit:
        raise InvalidArgument(
            f"{field} is {len(value)} characters long; the limit is {limit}",
            details={"field": field},
        )
    return value
