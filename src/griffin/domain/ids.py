"""Opaque identifiers: never parse them, never rely on their shape."""

from __future__ import annotations

import uuid

__all__ = ["new_id"]


def new_id() -> str:
    """A new random 32-character id."""
    return uuid.uuid4().hex
