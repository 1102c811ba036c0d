"""Artifact storage: validated paths and the byte stores behind runs and model versions.

Use :func:`clean_relative_path` on every client-supplied path, :func:`join_under` to build
keys, and :func:`open_artifact_store` to get the store for a configured root.
"""

from griffin.artifacts.fsspec_store import FsspecArtifactStore
from griffin.artifacts.local import LocalArtifactStore
from griffin.artifacts.paths import clean_relative_path, join_under
from griffin.artifacts.store import (
    ArtifactInfo,
    ArtifactStore,
    StagedWrite,
    StagingArtifactStore,
    open_artifact_store,
)

__all__ = [
    "ArtifactInfo",
    "ArtifactStore",
    "FsspecArtifactStore",
    "LocalArtifactStore",
    "StagedWrite",
    "StagingArtifactStore",
    "clean_relative_path",
    "join_under",
    "open_artifact_store",
]
