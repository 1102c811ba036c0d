"""Saved training datasets of a project: register, list and show snapshots."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/projects/{project}/features", tags=["features"])
