"""Where a served version's features come from: the online store, and its own on-demand code.

A version trained on a feature service gets its features by its rows' entity keys from the
online store, and its on-demand views run with the code that built its training set: the
``features.py`` of the code package its lineage names (``code_digest``), overlaid on the
registry's definitions exactly as the training job did. Each package is downloaded once,
verified, and kept under ``<home>/packages/<project>/<digest>``; versions of one package share
one reader.

``griffin serve --definitions PATH`` overrides the packages for every version: for a version
logged from a notebook, which has no package, or to try a fix without retraining.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from griffin.errors import GriffinError, InvalidArgument

if TYPE_CHECKING:
    from griffin.client import Client
    from griffin.domain.registry import ModelVersion
    from griffin.features.online.base import OnlineStore
    from griffin.features.project import Definitions
    from griffin.features.serving import ProjectReaders
    from griffin.store.session import Database

__all__ = ["FEATURES_FILE", "FeatureReads"]

log = logging.getLogger(__name__)

# Where a training job finds a project's feature definitions in its package (training/runner).
FEATURES_FILE = "features.py"


class FeatureReads:
    """One :class:`ProjectReaders` per feature code: the override, a package, or none.

    Args:
        client: downloads code packages (the server's own client).
        db: the metadata database (the registry's definitions).
        store: the online store.
        definitions: definitions that replace every version's package (``--definitions``).
        cache: where packages are extracted (default ``<home>/packages/<project>``).
    """

    def __init__(
        self,
        client: Client,
        db: Database,
        store: OnlineStore,
        *,
        definitions: Definitions | None = None,
        cache: Path | None = None,
    ) -> None:
        self.client = client
        self.db = db
        self.store = store
        self.definitions = definitions
        self.cache = cache or client.settings.home / "packages" / client.project
        self._readers: dict[str | None, ProjectReaders] = {}
        self._lock = threading.Lock()  # versions load in worker threads

    def for_version(self, version: ModelVersion) -> ProjectReaders:
        """The reader for ``version``'s features (blocking: may download its package).

        Raises:
            GriffinError: its package cannot be downloaded, or its ``features.py`` fails to
                import; the version does not load, and the one serving now stays.
        """
        digest = None if self.definitions is not None else version.lineage.code_digest
        with self._lock:
            reader = self._readers.get(digest)
            if reader is None:
                reader = self._readers[digest] = self._reader(digest, version)
        return reader

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

        folder = self._extracted(digest)
        features = folder / FEATURES_FILE
        if not features.is_file():
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

    def _extracted(self, digest: str) -> Path:
        """The package's files, downloaded and verified once (into a staging folder renamed
        into place, so a crash or a second worker process never leaves half a package)."""
        target = self.cache / digest
        if target.is_dir():
            return target
        self.cache.mkdir(parents=True, exist_ok=True)
        staging = self.cache / f".{digest}.{uuid.uuid4().hex}"
        try:
            self.client.download_package(digest, staging)
            try:
                os.rename(staging, target)
            except OSError:
                if not target.is_dir():  # not another worker's copy of the same package
                    raise
        except InvalidArgument as exc:
            raise GriffinError(f"code package {digest[:12]}: {exc.message}") from None
        finally:
            with contextlib.suppress(OSError):
                shutil.rmtree(staging)
        return target
