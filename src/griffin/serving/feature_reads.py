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

import logging
import threading
from typing import TYPE_CHECKING

from griffin.errors import GriffinError
from griffin.training.packages import FEATURES_FILE

if TYPE_CHECKING:
    from griffin.client import Client
    from griffin.domain.registry import ModelVersion
    from griffin.features.online.base import OnlineStore
    from griffin.features.project import Definitions
    from griffin.features.serving import ProjectReaders
    from griffin.store.session import Database

__all__ = ["FeatureReads"]

log = logging.getLogger(__name__)


class FeatureReads:
    """One :class:`ProjectReaders` per feature code: the override, a package, or none.

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

        folder = self.client.package_folder(digest)
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
