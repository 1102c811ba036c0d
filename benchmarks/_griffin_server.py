"""The app factory the tracking benchmark serves with uvicorn.

``python -m uvicorn --factory _griffin_server:create`` (run from this folder) builds Griffin's
REST API from the ``GRIFFIN_*`` environment the benchmark sets, exactly as ``griffin server``
would from the same settings.
"""

from __future__ import annotations

from fastapi import FastAPI

from griffin.config import load_settings
from griffin.server import create_app

__all__ = ["create"]


def create() -> FastAPI:
    """Griffin's app over the settings in the environment (``GRIFFIN_HOME``, ...)."""
    return create_app(load_settings())
