"""The inference server of ``griffin serve``: deployments answering predictions over HTTP.

A bare ASGI application, like the feature server: a predict request is a JSON parse, a route
choice, a batched ``predict`` and a JSON answer, and framework layers would cost more than
that. Routes:

- ``POST /v1/deployments/{name}/predict``: ``{"rows": [{column: value, ...}, ...]}`` (or
  ``{"columns": {column: [values]}}``), and ``"key"`` for a sticky deployment (else the
  first row's value of the sticky field). The answer: ``{"request_id", "deployment",
  "model", "version", "predictions"}`` (and ``"degraded": true`` when the online store was
  down and the deployment allows predicting without it). Shadow versions predict the same
  rows after the answer is sent; their results are only logged. Every prediction goes to the
  prediction log (:mod:`griffin.serving.prediction_log`).
- ``GET /v1/deployments``: what is served, version by route.
- ``GET /healthz``: the process is up. ``GET /readyz``: every deployment is loaded (503 with
  the reason until then, or while one failed to load).
- ``GET /metrics``: Prometheus text (requests, errors and latency by deployment and
  version; batches and their sizes).

Every ``poll_s`` seconds each deployment is read again (its revision) and its references
resolved again (aliases, conditional requests): on a change the new versions are loaded
beside the old, and the deployment is swapped in one assignment (:mod:`griffin.serving.live`).
A version that fails to load leaves the previous one serving; the error is logged and shown
by ``/readyz`` and ``/v1/deployments``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

from griffin._version import __version__
from griffin.domain.accounts import Role
from griffin.errors import (
    BackendUnavailable,
    GriffinError,
    InvalidArgument,
    MethodNotAllowed,
    NotFound,
)
from griffin.server.asgi import JSON_HEADERS, Headers, Receive, Scope, Send, respond
from griffin.server.limits import read_body
from griffin.serving.live import DeploymentLoader, LiveDeployment, LiveVersion
from griffin.serving.metrics import Metrics
from griffin.serving.prediction_log import PredictionLog

if TYPE_CHECKING:
    from griffin.client import Client
    from griffin.features.project import Definitions
    from griffin.platform import Platform
    from griffin.server.principals import Principals
    from griffin.serving.feature_reads import FeatureReads

__all__ = ["InferenceServer"]

log = logging.getLogger(__name__)

MAX_BODY = 32 * 1024 * 1024
_PREFIX = "/v1/deployments/"
# A request's rows as columns: name -> one value per row (what JSON parsing gives, and what a
# model's signature check takes without building a DataFrame first).
Columns = dict[str, list[Any]]
_PREDICT = "/predict"


class InferenceServer:
    """Serves ``names`` (deployments of ``client``'s project).

    Args:
        client: reads deployments and resolves and downloads models (an embedded or a
            remote client); used off the request path.
        names: the deployments to serve.
        principals: who each request is (tokens, as ``griffin server``); None: no checks.
        features: where a version trained on a feature service reads its features, with
            its own on-demand code (None: requests carry the model's inputs).
        prediction_log: where every prediction is logged (None: nowhere).
        poll_s: seconds between checks for changed deployments and moved aliases.
    """

    def __init__(
        self,
        client: Client,
        names: list[str],
        *,
        principals: Principals | None = None,
        features: FeatureReads | None = None,
        prediction_log: PredictionLog | None = None,
        poll_s: float = 2.0,
    ) -> None:
        self.client = client
        self.names = list(dict.fromkeys(names))
        self.project = client.project
        self.principals = principals
        self.prediction_log = prediction_log
        self.poll_s = poll_s
        self.loader = DeploymentLoader(
            client.resolve_model,
            client.load_version,
            None if features is None else features.for_version,
        )
        self.live: dict[str, LiveDeployment] = {}
        self.problems: dict[str, str] = {}
        self.metrics = Metrics()
        self._poller: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        # What stop() closes last (a worker process's own client and platform).
        self.closers: list[Callable[[], None]] = []

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Load every deployment (a failure is kept in ``problems``), then start polling."""
        if self.prediction_log is not None:
            self.prediction_log.start()
        await self.refresh()
        self._poller = asyncio.get_running_loop().create_task(self._poll(), name="griffin-poll")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._background:  # shadows still predicting: let them finish and be logged
            await asyncio.wait(list(self._background), timeout=5)
        for task in list(self._background):
            task.cancel()
        if self.prediction_log is not None:
            await self.prediction_log.close()
        await self.loader.close()
        for close in self.closers:
            close()

    @property
    def ready(self) -> bool:
        return all(name in self.live for name in self.names) and not self.problems

    async def refresh(self) -> None:
        """Read each deployment again; swap in what changed (a failed load keeps the old)."""
        for name in self.names:
            try:
                deployment = await asyncio.to_thread(self.client.get_deployment, name)
                fresh = await self.loader.build(deployment)
            except GriffinError as exc:
                self._problem(name, exc.message)
                continue
            except Exception as exc:  # a model file that does not load: keep serving
                log.exception("deployment %s: loading failed", name)
                self._problem(name, f"{type(exc).__name__}: {exc}")
                continue
            self.problems.pop(name, None)
            current = self.live.get(name)
            if current is None or (
                current.deployment.revision,
                current.signature(),
            ) != (fresh.deployment.revision, fresh.signature()):
                if current is not None:
                    await self._warm(fresh)
                self.live[name] = fresh  # the swap: one assignment
                log.info(
                    "deployment %s revision %s serves %s",
                    name,
                    fresh.deployment.revision,
                    ", ".join(f"{v.ref} (v{v.version.version})" for v in fresh.versions),
                )
        self._spawn(self.loader.retire(lambda: list(self.live.values())))

    def _problem(self, name: str, message: str) -> None:
        if self.problems.get(name) != message:
            log.error("deployment %s: %s", name, message)
        self.problems[name] = message

    async def _warm(self, live: LiveDeployment) -> None:
        """One prediction per new version on its input example, when it saved one."""
        for version in live.versions:
            example = version.model.metadata.get("input_example")
            if example:
                with contextlib.suppress(Exception):
                    await version.predict(version.model.prepare(example))

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.refresh()
            except Exception:
                log.exception("checking the deployments failed")

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        await respond(scope, send, self._handle(scope, receive))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, bytes, Headers]:
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith(_PREFIX) and path.endswith(_PREDICT):
            name = path[len(_PREFIX) : -len(_PREDICT)]
            if method != "POST":
                raise MethodNotAllowed(f"{method} is not allowed on {path}")
            if self.principals is not None:
                principal = await self.principals.of(scope)
                principal.require(Role.VIEWER, self.project)
            return 200, await self.predict(name, await read_body(receive, MAX_BODY)), JSON_HEADERS
        if path == "/healthz" and method == "GET":
            return 200, orjson.dumps({"status": "ok", "version": __version__}), JSON_HEADERS
        if path == "/readyz" and method == "GET":
            if self.ready:
                return 200, orjson.dumps({"status": "ok"}), JSON_HEADERS
            waiting = [n for n in self.names if n not in self.live]
            reason = "; ".join(
                [f"{n}: {m}" for n, m in self.problems.items()]
                + [f"{n}: not loaded yet" for n in waiting if n not in self.problems]
            )
            return 503, orjson.dumps({"status": "unavailable", "reason": reason}), JSON_HEADERS
        if path == "/v1/deployments" and method == "GET":
            return 200, orjson.dumps(self.describe()), JSON_HEADERS
        if path == "/metrics" and method == "GET":
            text = self.metrics.render(self.live.values())
            return 200, text.encode(), [(b"content-type", b"text/plain; version=0.0.4")]
        raise NotFound(f"no such endpoint: {method} {path}")

    def describe(self) -> dict[str, Any]:
        items = []
        for name in self.names:
            live = self.live.get(name)
            item: dict[str, Any] = {"name": name, "problem": self.problems.get(name)}
            if live is not None:
                item["revision"] = live.deployment.revision
                item["traffic"] = [
                    {"ref": v.ref, "version": v.version.version, "weight": r.weight}
                    for v, r in zip(live.traffic, live.deployment.config.traffic, strict=True)
                ]
                item["shadows"] = [
                    {"ref": v.ref, "version": v.version.version} for v in live.shadows
                ]
            items.append(item)
        return {"items": items}

    # -- predictions --------------------------------------------------------------------------

    async def predict(self, name: str, body: bytes) -> bytes:
        started = time.perf_counter()
        live = self.live.get(name)
        if live is None:
            if name in self.names:
                raise BackendUnavailable(
                    f"deployment {name!r} is not loaded: {self.problems.get(name, 'loading')}"
                )
            raise NotFound(
                f"this server does not serve deployment {name!r}; it serves "
                f"{', '.join(self.names)}",
                details={"deployment": name},
            )
        request = _parse(body)
        config = live.deployment.config
        rows = _rows(request)
        count = _count(rows)
        if count > config.max_rows:
            raise InvalidArgument(
                f"{count} rows in one request; deployment {name!r} takes at most "
                f"{config.max_rows} (max_rows)",
                details={"field": "rows", "limit": config.max_rows},
            )
        index = live.router.choose(key=_sticky(request, rows, config.sticky_key))
        chosen = live.traffic[index]
        degraded = False
        try:
            frame, degraded = await self._inputs(live, chosen, rows)
            values = await chosen.predict(frame)
        except GriffinError:
            self.metrics.observe(name, chosen, time.perf_counter() - started, error=True)
            raise
        except Exception as exc:
            self.metrics.observe(name, chosen, time.perf_counter() - started, error=True)
            if degraded:  # not the request's fault: the store is down
                raise BackendUnavailable(
                    f"the online store is down and version {chosen.version.version} cannot "
                    f"predict without its features: {type(exc).__name__}: {exc}",
                    details={"deployment": name},
                ) from None
            raise InvalidArgument(
                f"the model could not predict these rows: {type(exc).__name__}: {exc}"
            ) from None
        request_id = uuid.uuid4().hex
        answer = orjson.dumps(
            {
                "request_id": request_id,
                "deployment": name,
                "model": chosen.version.name,
                "version": chosen.version.version,
                "predictions": values,
                **({"degraded": True} if degraded else {}),
            },
            option=orjson.OPT_SERIALIZE_NUMPY,
            default=_jsonable,
        )
        self._done(name, request_id, chosen, "traffic", rows, frame, values, started)
        for shadow in live.shadows:
            self._spawn(self._shadow(live, request_id, shadow, rows))
        return answer

    async def _inputs(
        self, live: LiveDeployment, version: LiveVersion, rows: Columns
    ) -> tuple[pd.DataFrame, bool]:
        """The model's input for ``rows``, and whether it is degraded.

        Read from the online store when the version was trained on a feature service (the
        deployment's, or its lineage's), else the rows themselves. When the store cannot be
        reached and the deployment allows it (``allow_degraded``), the features the rows do
        not carry are null, as for an entity the store does not know.
        """
        config = live.deployment.config
        service = config.feature_service or version.version.lineage.feature_service
        degraded = False
        if service is not None and version.features is not None:
            try:
                started = time.perf_counter()
                rows = await version.features.read(rows, _count(rows))
                self.metrics.observe_fetch(live.name, time.perf_counter() - started)
            except BackendUnavailable as exc:
                signature = version.model.signature
                if not config.allow_degraded or signature is None:
                    raise BackendUnavailable(
                        f"deployment {live.name!r} cannot read its features: {exc.message}",
                        details={"deployment": live.name},
                    ) from None
                count = _count(rows)
                missing = [c.name for c in signature.inputs if c.name not in rows]
                rows = {**rows, **{name: [None] * count for name in missing}}
                degraded = True
        return version.model.prepare(rows), degraded

    async def _shadow(
        self, live: LiveDeployment, request_id: str, shadow: LiveVersion, rows: Columns
    ) -> None:
        name = live.name
        started = time.perf_counter()
        try:
            frame, _ = await self._inputs(live, shadow, rows)
            values = await shadow.predict(frame)
        except Exception as exc:
            self.metrics.observe(name, shadow, time.perf_counter() - started, error=True)
            log.warning("deployment %s shadow %s failed: %s", name, shadow.ref, exc)
            return
        self._done(name, request_id, shadow, "shadow", rows, frame, values, started)

    def _done(
        self,
        name: str,
        request_id: str,
        version: LiveVersion,
        role: str,
        rows: Columns,
        frame: pd.DataFrame,
        values: np.ndarray[Any, Any],
        started: float,
    ) -> None:
        """A prediction made: into the metrics and the prediction log."""
        elapsed = time.perf_counter() - started
        self.metrics.observe(name, version, elapsed, batcher=version.batcher)
        if self.prediction_log is not None:
            model = version.version
            self.prediction_log.add(
                request_id, name, model.name, model.version, role, rows, frame, values, elapsed
            )


def _parse(body: bytes) -> dict[str, Any]:
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(request, dict):
        raise InvalidArgument('the request body must be a JSON object: {"rows": [...]}')
    unknown = sorted(set(request) - {"rows", "columns", "key"})
    if unknown:
        raise InvalidArgument(
            f"unknown request field(s): {', '.join(unknown)}; use rows (or columns) and key",
            details={"field": unknown[0]},
        )
    return request


def _rows(request: dict[str, Any]) -> Columns:
    """The request's rows as columns (a row that lacks a field has null there)."""
    rows, columns = request.get("rows"), request.get("columns")
    if (rows is None) == (columns is None):
        raise InvalidArgument('give "rows" (a list of objects) or "columns", not both or none')
    if rows is not None:
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            raise InvalidArgument(
                '"rows" must be a non-empty list of objects', details={"field": "rows"}
            )
        names = dict.fromkeys(name for row in rows for name in row)
        return {str(name): [row.get(name) for row in rows] for name in names}
    if not isinstance(columns, dict) or not columns:
        raise InvalidArgument('"columns" must be an object of lists', details={"field": "columns"})
    lengths = {len(v) if isinstance(v, list) else -1 for v in columns.values()}
    if len(lengths) != 1 or -1 in lengths or 0 in lengths:
        raise InvalidArgument(
            '"columns" must map each column to a list, all of the same non-zero length',
            details={"field": "columns"},
        )
    return {str(name): values for name, values in columns.items()}


def _count(rows: Columns) -> int:
    return len(next(iter(rows.values()), ()))


def _sticky(request: dict[str, Any], rows: Columns, field: str | None) -> str | None:
    if field is None:
        return None
    key = request.get("key")
    if key is None and field in rows:
        key = rows[field][0]
    return None if key is None else str(key)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


def open_server(
    platform: Platform,
    names: list[str],
    poll_s: float,
    *,
    definitions: Definitions | None = None,
    log_predictions: bool = True,
) -> InferenceServer:
    """An inference server on ``platform``'s settings, checking tokens as ``griffin server``
    and reading features from its online store. On-demand views run each version's own code
    (from its code package), or ``definitions`` for every version when given."""
    from griffin.client import Client
    from griffin.server.principals import Principals
    from griffin.serving.feature_reads import FeatureReads

    client = Client(settings=platform.settings)
    features = FeatureReads(client, platform.db, platform.online_store(), definitions=definitions)
    prediction_log = (
        PredictionLog(platform.settings.resolved_offline_root, client.project)
        if log_predictions
        else None
    )
    return InferenceServer(
        client,
        names,
        principals=Principals(platform),
        features=features,
        prediction_log=prediction_log,
        poll_s=poll_s,
    )


# How `griffin serve --workers N` tells its worker processes what to serve (not a GRIFFIN_*
# variable: those are settings, and unknown ones are refused).
SERVE_ENV = "_GRIFFIN_SERVE"


def app_from_env() -> InferenceServer:
    """The app each uvicorn worker builds (``--workers`` > 1): GRIFFIN_* settings, and what to
    serve as JSON in ``_GRIFFIN_SERVE`` (``names``, ``poll_s``, ``definitions``, ``log``)."""
    import os

    from griffin.config import load_settings
    from griffin.platform import open_platform

    spec = orjson.loads(os.environ.get(SERVE_ENV, "{}"))
    definitions = None
    if spec.get("definitions"):
        from griffin.features.project import load_definitions

        definitions = load_definitions(spec["definitions"])
    platform = open_platform(load_settings())
    server = open_server(
        platform,
        list(spec.get("names", [])),
        float(spec.get("poll_s", 2.0)),
        definitions=definitions,
        log_predictions=bool(spec.get("log", True)),
    )
    server.closers += [server.client.close, platform.close]
    return server
