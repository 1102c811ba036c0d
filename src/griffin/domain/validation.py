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
    "check_int64",
    "check_key",
    "check_name",
    "check_params",
    "check_tags",
    "check_user",
    "check_value",
]

MAX_KEY_LENGTH = 250
MAX_NAME_LENGTH = 256
MAX_PARAM_VALUE_LENGTH = 8000
MAX_TAG_VALUE_LENGTH = 8000
MAX_BATCH_METRICS = 10_000
MAX_BATCH_PARAMS = 1_000
MAX_BATCH_TAGS = 1_000
# Metric steps and timestamps are stored as signed 64-bit integers (BIGINT) on every backend.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# Keys may nest with '/', like MLflow's ("train/loss"), but never walk paths.
_KEY = re.compile(r"[A-Za-z0-9_\-. /:]+")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-.@+]{0,127}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-. ]*")


def check_key(key: str, *, field: str = "key") -> str:
    """A metric, param or tag key: 1-250 chars of letters, digits, ``_-./: ``, no ``..``."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(
            f"invalid {field} {key[:40]!r}: must be 1 to {MAX_KEY_LENGTH} characters",
            details={"field": field},
        )
    if not _KEY.fullmatch(key):
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
    if not name or len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise InvalidArgument(
            f"invalid {field} {name[:40]!r}: use 1 to {MAX_NAME_LENGTH} letters, digits, "
            "spaces and _ - . , starting with a letter or digit",
            details={"field": field},
        )
    return name


def check_user(name: str) -> str:
    """A user name: 1-128 letters, digits and ``_ - . @ +`` (so e-mail style logins work)."""
    if not _USER.fullmatch(name):
        raise InvalidArgument(
            f"invalid user name {name[:40]!r}: use 1 to 128 letters, digits and _ - . @ +",
            details={"field": "user"},
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


def check_int64(value: int, *, field: str, minimum: int = INT64_MIN) -> int:
    """An integer that fits the 64-bit columns it is stored in (and is at least ``minimum``)."""
    if not minimum <= value <= INT64_MAX:
        raise InvalidArgument(
            f"{field} {value} is out of range: it must be between {minimum} and {INT64_MAX}",
            details={"field": field},
        )
    return value


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    """At most 1,000 tags, each a valid key with a value of at most 8,000 characters."""
    return _check_pairs(tags, "tag", MAX_BATCH_TAGS, MAX_TAG_VALUE_LENGTH)


def check_params(params: dict[str, str]) -> dict[str, str]:
    """At most 1,000 params, each a valid key with a value of at most 8,000 characters."""
    return _check_pairs(params, "param", MAX_BATCH_PARAMS, MAX_PARAM_VALUE_LENGTH)


def _check_pairs(pairs: dict[str, str], kind: str, most: int, limit: int) -> dict[str, str]:
    if len(pairs) > most:
        raise InvalidArgument(
            f"{len(pairs)} {kind}s in one call; the limit is {most}", details={"field": f"{kind}s"}
        )
    for key, value in pairs.items():
        check_key(key, field=f"{kind} key")
        check_value(value, limit=limit, field=f"{kind} {key!r}")
    return pairs
