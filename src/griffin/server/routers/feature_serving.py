"""The feature server: online feature values over HTTP."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/projects/{project}/features", tags=["features"])
