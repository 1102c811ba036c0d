"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from griffin._version import __version__
from griffin.config import Settings
from griffin.errors import GriffinError
from griffin.platform import Platform, open_platform
from griffin.server.errors import install_error_handlers
from griffin.server.limits import BodyLimit
from griffin.server.routers import (
    deployments,
    experiments,
    feature_data,
    feature_materialization,
    feature_serving,
    features,
    health,
    jobs,
    model_definitions,
    models,
    projects,
    runs,
)
from griffin.tracking.runs import fail_stale_runs

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/api/v1"
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, platform: Platform | None = None) -> FastAPI:
    """Build the Griffin REST API over an opened platform (opened from settings if not given)."""
    platform = platform or open_platform(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reaper = asyncio.create_task(_reap_stale_runs(platform))
        # The job dispatcher runs in its own thread: launching and polling processes blocks.
        stop_dispatcher = threading.Event()
        dispatcher_thread: threading.Thread | None = None
        if platform.settings.server_dispatcher:
            from griffin.training.dispatcher import Dispatcher

            dispatcher = Dispatcher(platform)
            dispatcher_thread = threading.Thread(
                target=dispatcher.run_forever,
                args=(stop_dispatcher,),
                name="griffin-dispatcher",
                daemon=True,
            )
            dispatcher_thread.start()
            app.state.dispatcher = dispatcher
        try:
            yield
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            stop_dispatcher.set()
            if dispatcher_thread is not None:
                app.state.dispatcher.wake()
                await run_in_threadpool(dispatcher_thread.join, 30)

    app = FastAPI(
        title="Griffin",
        version=__version__,
        description="Griffin's REST API: tracking, and (soon) features, training, registry and "
        "serving. Every route is under /api/v1.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.platform = platform
    install_error_handlers(app)
    app.add_middleware(BodyLimit)
    app.include_router(health.router)
    # Each router is included in the app itself, not in an /api/v1 router of its own: FastAPI
    # matches nested routers again at each level, which cost ~0.5 ms a request. A request is
    # matched against the routes in this order, so the hot paths come first: alias
    # resolution, run logging, online features.
    for module in (
        models,
        runs,
        # Before ``features``: its GET /features/{kind}/{name} would shadow their routes.
        feature_serving,
        feature_data,
        feature_materialization,
        features,
        projects,
        experiments,
        model_definitions,
        jobs,
        deployments,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    # MLflow's REST API, for existing MLflow code pointed at this server (docs/mlflow.md).
    # Imported here: its handlers use the server's modules, which import this one.
    from griffin.integrations.mlflow.app import mount_mlflow

    mount_mlflow(app)
    return app


async def _reap_stale_runs(platform: Platform) -> None:
    """Fail RUNNING runs whose process stopped sending heartbeats."""
    timeout = platform.settings.heartbeat_timeout_s
    interval = max(1.0, min(30.0, timeout / 4))
    while True:
        try:
            failed = await run_in_threadpool(fail_stale_runs, platform.db, timeout)
            if failed:
                log.warning("marked %d run(s) FAILED after a lapsed heartbeat", len(failed))
        except GriffinError as exc:
            log.warning("heartbeat check failed: %s", exc.message)
        await asyncio.sleep(interval)
