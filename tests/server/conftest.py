"""Fixtures for the REST API tests: the app over the per-test platform, called in-process.

Every test that uses ``client`` runs on SQLite and on PostgreSQL (through ``platform``).
``sqlite_client`` is for tests of request validation, which never reaches the database: they
run once, on SQLite, to keep the suite fast.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from griffin.config import Settings, load_settings
from griffin.platform import Platform, open_platform
from griffin.server import create_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def app(platform: Platform) -> FastAPI:
    return create_app(platform=platform)


@pytest.fixture
async def client(app: FastAPI, anyio_backend: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
def auth_platform(settings: Settings) -> Iterator[Platform]:
    """The platform of a server that requires API tokens."""
    opened = open_platform(settings.model_copy(update={"auth": "required"}))
    yield opened
    opened.close()


@pytest.fixture
async def auth_client(
    auth_platform: Platform, anyio_backend: str
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(platform=auth_platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
def sqlite_platform(sqlite_template: Path, tmp_path: Path) -> Iterator[Platform]:
    path = tmp_path / "griffin.db"
    shutil.copy(sqlite_template, path)
    opened = open_platform(
        load_settings(
            home=str(tmp_path / "home"),
            database_url=f"sqlite:///{path}",
            artifact_root=str(tmp_path / "artifacts"),
        )
    )
    yield opened
    opened.close()


@pytest.fixture
async def sqlite_client(
    sqlite_platform: Platform, anyio_backend: str
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(platform=sqlite_platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
