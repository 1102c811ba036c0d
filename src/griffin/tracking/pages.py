"""Cursor pagination: an opaque cursor a client hands back to get the next page."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import orjson

from griffin.errors import InvalidArgument

__all__ = ["Page", "decode_cursor", "encode_cursor"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None


def encode_cursor(values: list[object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[object]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != size:
        raise InvalidArgument(
            "invalid page cursor: pass back the next_cursor of the previous page unchanged",
            details={"field": "cursor"},
        )
    return values
