"""Where a served version's features come from: the online store, and its own on-demand code.

A version trained on a feature service gets its features by its rows' entity keys from the
online store, and its on-demand views run with the code that built its training set: the
``features.py`` of the code package its lineage names (``code_digest``), overlaid on the
registry's definitions exactly as the training job did. Each package is downloaded once,
verified, and kept under ``<home>/packages/<project>/<digest>``
(:meth:`griffin.Client.package_folder`); versions of one package share one reader.

``griffin serve --definitions PATH`` overrides the packages for every version: for a version
logged from a notebook, which has no package, or to try a fix without retraining.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.errors import GriffinError, InvalidArgument, NotSupported
from griffin.training.packages import FEATURES_FILE

if TYPE_CHECKING:
    from griffin.client import Client
    from griffin.domain.registry import ModelVersion
    from griffin.features.online.base import OnlineStore
    from griffin.features.project import Definitions
    from griffin.features.serving import ProjectReaders
    from griffin.store.session import Database

__all__ = ["FeatureReads", "ReadBatcher"]

log = logging.getLogger(__name__)


# The server reads features as itself: each request's caller was checked against the
# deployment's project already.
SERVER = Principal(user="griffin-serve", project=ALL_PROJECTS, role=Role.VIEWER)


class FeatureReads:
    """One :class:`ProjectReaders` per feature code (the override, a package, or none), and
    one :class:`ReadBatcher` per code and feature service, shared by the versions using them.

    Args:
        client: downloads code packages (the server's own client).
        db: the metadata database (the registry's definitions).
        store: the online store.
        definitions: definitions that replace every version's package (``--definitions``).
    """

    def __init__(
        self,
        client: Client,
        db: Database,
        store: OnlineStore,
        *,
        definitions: Definitions | None = None,
    ) -> None:
        self.client = client
        self.db = db
        self.store = store
        self.definitions = definitions
        self._readers: dict[str | None, ProjectReaders] = {}
        self._batchers: dict[tuple[str | None, str], ReadBatcher] = {}
        self._lock = threading.Lock()  # versions load in worker threads

    def for_version(self, version: ModelVersion, service: str) -> ReadBatcher:
        """Where ``version`` reads the features of ``service`` (blocking: may download its
        package).

        Raises:
            GriffinError: its package cannot be downloaded, or its ``features.py`` fails to
                import; the version does not load, and the one serving now stays.
        """
        digest = None if self.definitions is not None else version.lineage.code_digest
        with self._lock:
            reader = self._readers.get(digest)
            if reader is None:
                reader = self._readers[digest] = self._reader(digest, version)
            batcher = self._batchers.get((digest, service))
            if batcher is None:
                batcher = ReadBatcher(reader, self.client.project, service, SERVER)
                self._batchers[digest, service] = batcher
        return batcher

    def _reader(self, digest: str | None, version: ModelVersion) -> ProjectReaders:
        from griffin.features.serving import ProjectReaders

        local, hint = (
            self.definitions,
            (
                "the version was logged without a code package (its lineage names no "
                "code_digest): start the server with `griffin serve --definitions PATH` to run "
                "on-demand views"
            ),
        )
        if self.definitions is not None:
            hint = "the server's --definitions do not define this view: add it there"
        elif digest is not None:
            local = self._package_definitions(digest, version)
            if local is None:
                hint = (
                    f"the code package of version {version.version} of {version.name!r} has "
                    f"no {FEATURES_FILE}; start the server with `griffin serve --definitions "
                    "PATH` to run on-demand views"
                )
        return ProjectReaders(self.db, self.store, local=local, udf_hint=hint)

    def _package_definitions(self, digest: str, version: ModelVersion) -> Definitions | None:
        from griffin.features.project import load_definitions

        features = self.client.version_features(version)
        if features is None:
            return None
        try:
            definitions = load_definitions(features)
        except GriffinError as exc:
            raise GriffinError(
                f"version {version.version} of {version.name!r}: the {FEATURES_FILE} of its "
                f"code package {digest[:12]} does not load: {exc.message}"
            ) from None
        except Exception as exc:  # the user's module raised while importing
            raise GriffinError(
                f"version {version.version} of {version.name!r}: importing the "
                f"{FEATURES_FILE} of its code package {digest[:12]} failed: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        log.info(
            "version %s of %s runs the feature code of package %s",
            version.version,
            version.name,
            digest[:12],
        )
        return definitions


Columns = dict[str, list[Any]]


@dataclass
class _Waiting:
    rows: Columns
    count: int
    future: asyncio.Future[Columns]


class ReadBatcher:
    """Concurrent requests' feature reads of one service, merged into one store round trip.

    The first request to arrive schedules a flush for the event loop's next turn; requests
    that reach here before it (those that arrived together, under load) join it. Requests with
    the same columns are read in one call, and each gets back its own rows. A lone request
    pays one loop turn, far less than a round trip. When a merged read fails on the input
    (a bad value, a missing field), each request is read alone, so only the faulty one fails,
    with its own message.

    Args:
        readers: where the features are read (a version's :class:`ProjectReaders`).
        project: the deployments' project.
        service: the feature service.
        principal: who reads (the server itself).
    """

    def __init__(
        self, readers: ProjectReaders, project: str, service: str, principal: Principal
    ) -> None:
        self.readers = readers
        self.project = project
        self.service = service
        self.principal = principal
        self._waiting: list[_Waiting] = []
        self._loading: asyncio.Future[Any] | None = None

    async def read(self, rows: Columns, count: int) -> Columns:
        """The service's features for ``rows`` (entity keys and request fields), with the
        rows' own columns the store does not give."""
        if self.readers.cached(self.principal, self.project) is None:
            # The registry's definitions, read when due (every few seconds), off the loop,
            # once for all the requests that find them due.
            if self._loading is None or self._loading.done():
                self._loading = asyncio.ensure_future(
                    asyncio.to_thread(self.readers.load, self.principal, self.project)
                )
            await asyncio.shield(self._loading)
        loop = asyncio.get_running_loop()
        waiting = _Waiting(rows, count, loop.create_future())
        self._waiting.append(waiting)
        if len(self._waiting) == 1:
            loop.call_soon(self._flush)
        return await waiting.future

    def _flush(self) -> None:
        batch, self._waiting = self._waiting, []
        groups: dict[tuple[str, ...], list[_Waiting]] = {}
        for waiting in batch:
            groups.setdefault(tuple(waiting.rows), []).append(waiting)
        for group in groups.values():
            if len(group) == 1:
                self._read_one(group[0])
                continue
            merged = {name: [v for w in group for v in w.rows[name]] for name in group[0].rows}
            try:
                found = self._fetch(merged)
            except (InvalidArgument, NotSupported):
                for waiting in group:  # whose fault? each alone says
                    self._read_one(waiting)
                continue
            except Exception as exc:  # the store: the same for all
                for waiting in group:
                    _fail(waiting, exc)
                continue
            start = 0
            for waiting in group:
                end = start + waiting.count
                if not waiting.future.done():
                    part = {name: values[start:end] for name, values in found.items()}
                    waiting.future.set_result(part)
                start = end

    def _read_one(self, waiting: _Waiting) -> None:
        try:
            found = self._fetch(waiting.rows)
        except Exception as exc:
            _fail(waiting, exc)
            return
        if not waiting.future.done():
            waiting.future.set_result(found)

    def _fetch(self, rows: Columns) -> Columns:
        """One read, on the event loop with the store's blocking client: for a process that
        serves, redis-py's asyncio client costs more CPU per call than the round trip."""
        from griffin.features.serving import OnlineRequest

        request = OnlineRequest(features=self.service, entities=rows)
        features: Columns = self.readers.read(self.principal, self.project, request).to_dict()
        return {**features, **{k: v for k, v in rows.items() if k not in features}}


def _fail(waiting: _Waiting, exc: BaseException) -> None:
    if not waiting.future.done():
        waiting.future.set_exception(exc)
