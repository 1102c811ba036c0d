"""What is online per feature view: materialization state, freshness, and pushed rows."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/projects/{project}/features", tags=["features"])
