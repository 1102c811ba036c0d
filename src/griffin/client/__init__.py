"""The Python SDK: :class:`Client`, speaking only Griffin's REST API.

With a server URL (``GRIFFIN_URL``) it talks HTTP; without one it runs the same REST app
in-process on the embedded store (SQLite and a local artifact folder by default), so scripts
work unchanged on a laptop and against a team server.
"""

from __future__ import annotations

import atexit
import logging
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from griffin.client import wire
from griffin.client._base import segment
from griffin.client.accounts import AccountsMixin
from griffin.client.artifacts import ArtifactsMixin
from griffin.client.deployments import DeploymentsMixin
from griffin.client.evaluation import EvaluationMixin
from griffin.client.experiments import ExperimentsMixin
from griffin.client.feature_data import FeatureDataMixin
from griffin.client.feature_online import FeatureOnlineMixin
from griffin.client.feature_push import FeaturePushMixin
from griffin.client.feature_skew import FeatureSkewMixin
from griffin.client.flusher import Flusher
from griffin.client.jobs import JobsMixin
from griffin.client.model_definitions import ModelDefinitionsMixin
from griffin.client.runs import RunsMixin
from griffin.client.search import SearchMixin
from griffin.client.transport import HttpTransport, InProcessTransport, Transport

if TYPE_CHECKING:
    from griffin.config import Settings

__all__ = ["Client"]

log = logging.getLogger(__name__)


class Client(
    EvaluationMixin,  # first: it builds on the models, runs, artifacts and dataset mixins
    ExperimentsMixin,
    RunsMixin,
    SearchMixin,
    ArtifactsMixin,
    AccountsMixin,
    FeatureDataMixin,
    FeatureOnlineMixin,
    FeaturePushMixin,
    FeatureSkewMixin,
    ModelDefinitionsMixin,
    JobsMixin,
    DeploymentsMixin,
):
    """A connection to Griffin: to a server over HTTP, or to the embedded store in-process.

    Example::

        with griffin.Client() as client:
            run = client.create_run("mnist", params={"lr": 0.01})
            client.log_batch(run.id, [("loss", 0.31, 0), ("loss", 0.18, 1)])
            client.end_run(run.id)

    Args:
        url: the server's URL; ``settings.url`` (``GRIFFIN_URL``) when omitted. With neither,
            the REST app runs in-process on ``settings``' database and artifact root (no port
            is opened), and RUNNING runs whose heartbeat lapsed are marked FAILED on opening,
            since no server process is there to do it.
        token: API token; ``settings.token`` (``GRIFFIN_TOKEN``) when omitted. Without one,
            the OS user name is sent so runs record who made them (servers with auth off).
        project: the project methods act on; ``settings.project`` when omitted.
        settings: configuration; ``griffin.config.load_settings()`` when omitted.

    The client is thread-safe. Close it (or use it as a context manager) to stop its metric
    flusher thread and release connections; open clients are closed at interpreter exit.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        project: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        if settings is None:
            from griffin.config import load_settings  # pydantic-settings: import on demand

            settings = load_settings()
        url = (settings.url if url is None else url).rstrip("/")
        if token is None and settings.token is not None:
            token = settings.token.get_secret_value()
        self.settings = settings
        self.project = project or settings.project
        self.url: str | None = url or None
        self._transport: Transport = (
            HttpTransport(url, token) if url else InProcessTransport(settings, token)
        )
        # Fluent runs still open on this client, ended (and flushed) by close().
        self._before_close: dict[str, Callable[[], None]] = {}
        transport = self._transport
        self._flusher = Flusher(
            lambda run_id, points: _send_points(transport, run_id, points),
            lambda run_id: _heartbeat(transport, run_id),
            interval=settings.metric_flush_interval_s,
            heartbeat_every=min(30.0, settings.heartbeat_timeout_s / 3),
        )
        # The finalizer holds only the transport and flusher (never self), so a client that is
        # dropped without close() is still collected and releases its thread and connections.
        self._finalizer = weakref.finalize(self, _release, self._flusher, self._transport)
        self._finalizer.atexit = False  # _close_all orders exit: runs end before transports
        _OPEN.add(self)

    @property
    def where(self) -> str:
        """The server URL, or a description of the embedded store."""
        return self._transport.where

    def close(self) -> None:
        """End this client's open fluent runs as FINISHED, stop its flusher once everything
        buffered is sent, and release connections. Idempotent."""
        for run_id, end in list(self._before_close.items()):
            try:
                end()
            except Exception as exc:  # closing must go on; say what could not be saved
                log.warning("griffin: could not end run %s on close: %s", run_id, exc)
        self._close_online()  # the online store, if get_online_features opened one
        _OPEN.discard(self)
        # detach() rather than calling the finalizer: once weakref's own exit hook has run
        # (it may run before ours), calling a finalizer does nothing, and the in-process
        # event loop would be left for the garbage collector to stop after its thread died,
        # hanging the interpreter at exit.
        detached = self._finalizer.detach()
        if detached is not None:
            _, release, args, kwargs = detached
            release(*args, **kwargs)

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.where!r}, project={self.project!r})"


def _send_points(transport: Transport, run_id: str, points: list[wire.Point]) -> None:
    transport.request(
        "POST",
        f"/runs/{segment(run_id)}/batch",
        json={"metrics": wire.encode_points(points)},
        idempotent=False,  # a repeated batch would append its points twice
    )


def _heartbeat(transport: Transport, run_id: str) -> None:
    transport.request("POST", f"/runs/{segment(run_id)}/heartbeat", idempotent=True)


def _release(flusher: Flusher, transport: Transport) -> None:
    try:
        flusher.close()
    finally:
        transport.close()


_OPEN: weakref.WeakSet[Client] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # Registered when this package is imported, i.e. before griffin.client.tracking registers
    # its own hook; atexit runs hooks last-in first-out, so open runs are ended (and their
    # metrics sent) before the transports below are closed.
    for client in list(_OPEN):
        try:
            client.close()
        except Exception as exc:  # exit must go on; say what was lost
            log.warning("griffin: closing %r failed: %s", client, exc)
