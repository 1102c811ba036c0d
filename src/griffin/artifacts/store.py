"""The artifact-store protocol and the factory that picks an implementation by URI scheme.

An :class:`ArtifactStore` maps '/'-separated keys to immutable byte blobs. Callers build keys
with :func:`griffin.artifacts.paths.clean_relative_path` / ``join_under``; implementations
still re-validate every key so that a bug upstream cannot turn into a path traversal.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast
from urllib.parse import urlsplit

import anyio
import anyio.to_thread

from griffin import plugins
from griffin.errors import ConfigError, PayloadTooLarge

__all__ = [
    "ArtifactInfo",
    "ArtifactStore",
    "open_artifact_store",
]

# Writes are handed to worker threads in pieces of about this size: big enough that thread
# hops are rare, small enough that memory per upload stays bounded.
_OFFLOAD_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """One stored artifact.

    Attributes:
        path: relative to the prefix passed to :meth:`ArtifactStore.list`; for a write, the key.
        size: size in bytes.
        sha256: hex digest when known (always after a write; ``None`` from a listing, which
            would otherwise have to read every file).
    """

    path: str
    size: int
    sha256: str | None = None


class ArtifactStore(ABC):
    """Where artifact bytes live: a local directory, an object store, anything fsspec reaches.

    Implementations must never expose partially written data under a key, must refuse keys
    that resolve outside :attr:`root`, and must stream (never hold a whole artifact in memory).

    Implementations are constructed as ``cls(root)`` by :func:`open_artifact_store`.

    Attributes:
        root: the path or URI this store serves, as given by the configuration.
    """

    root: str

    @abstractmethod
    def write_stream(self, key: str, chunks: Iterable[bytes], *, max_bytes: int) -> ArtifactInfo:
        """Store ``chunks`` under ``key``, replacing any existing artifact atomically.

        Args:
            key: a cleaned relative key.
            chunks: the content; consumed once, chunk by chunk.
            max_bytes: upper bound on the total size.

        Returns:
            The key, its size and sha256.

        Raises:
            PayloadTooLarge: the content exceeds ``max_bytes``; nothing is left behind.
            InvalidArgument: the key is not clean or resolves outside the root.
            Conflict: something other than a file is in the way (a directory at ``key``).
        """

    @abstractmethod
    async def awrite_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int
    ) -> ArtifactInfo:
        """Async twin of :meth:`write_stream` for the server; must not block the event loop."""

    @abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """Open the artifact at ``key`` for binary reading; the caller closes it.

        Raises:
            NotFound: no artifact at ``key`` (directories are not artifacts).
        """

    def iter_read(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Yield the artifact at ``key`` in chunks of at most ``chunk_size`` bytes.

        The artifact is opened before this returns, so :class:`~griffin.errors.NotFound` is
        raised here and not at the first iteration (a server can still answer 404 then).
        """
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        return _iter_handle(self.open_read(key), chunk_size)

    @abstractmethod
    def list(self, prefix: str) -> list[ArtifactInfo]:
        """All artifacts under ``prefix`` (``""`` for the whole store), recursively.

        Returns:
            Files only, with paths relative to ``prefix``, sorted by path; ``[]`` when the
            prefix does not exist or names a file.
        """

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete one artifact.

        Raises:
            NotFound: no artifact at ``key``.
        """

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Delete ``prefix`` and everything under it; a missing prefix is not an error."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an artifact (a file, not a directory) is stored at ``key``."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Size in bytes of the artifact at ``key``.

        Raises:
            NotFound: no artifact at ``key``.
        """


def _iter_handle(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(chunk_size):
            yield chunk


class StagedWrite(ABC):
    """One in-flight upload: bytes go to a staging place until :meth:`commit` publishes them."""

    @abstractmethod
    def write(self, data: bytes | bytearray) -> None:
        """Append ``data`` to the staged content."""

    @abstractmethod
    def commit(self) -> None:
        """Publish the staged content under the target key, replacing what was there."""

    @abstractmethod
    def abort(self) -> None:
        """Remove the staged content; best effort, never raises, safe to call twice."""


class _Meter:
    """Counts and hashes an upload, refusing it as soon as it crosses ``max_bytes``."""

    def __init__(self, key: str, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.key = key
        self.max_bytes = max_bytes
        self.size = 0
        self._sha = hashlib.sha256()

    def admit(self, n: int) -> None:
        # Checked before the bytes are written, so an over-limit upload never costs more than
        # max_bytes of disk.
        if self.size + n > self.max_bytes:
            raise PayloadTooLarge(
                f"artifact {self.key!r} is larger than the limit of {self.max_bytes} bytes",
                details={"path": self.key, "max_bytes": self.max_bytes},
            )
        self.size += n

    def digest(self, data: bytes | bytearray) -> None:
        self._sha.update(data)

    def info(self) -> ArtifactInfo:
        return ArtifactInfo(path=self.key, size=self.size, sha256=self._sha.hexdigest())


class StagingArtifactStore(ArtifactStore):
    """Shared write path for stores that stage an upload and then publish it in one step.

    Subclasses implement :meth:`_stage`; this class does the streaming, limit, hashing and
    the clean-up on every failure path (including cancellation and ``GeneratorExit``).
    """

    @abstractmethod
    def _stage(self, key: str) -> StagedWrite:
        """Validate ``key`` and start a staged write to it."""

    def write_stream(self, key: str, chunks: Iterable[bytes], *, max_bytes: int) -> ArtifactInfo:
        meter = _Meter(key, max_bytes)
        staged = self._stage(key)
        try:
            for chunk in chunks:
                meter.admit(len(chunk))
                meter.digest(chunk)
                staged.write(chunk)
            staged.commit()
        except BaseException:
            staged.abort()
            raise
        return meter.info()

    async def awrite_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int
    ) -> ArtifactInfo:
        meter = _Meter(key, max_bytes)
        staged = await anyio.to_thread.run_sync(self._stage, key)

        def flush(data: bytearray) -> None:
            # Hashing happens in the worker too: hashlib drops the GIL for large buffers.
            meter.digest(data)
            staged.write(data)

        try:
            buffer = bytearray()
            async for chunk in chunks:
                meter.admit(len(chunk))
                buffer += chunk
                if len(buffer) >= _OFFLOAD_BYTES:
                    data, buffer = buffer, bytearray()
                    await anyio.to_thread.run_sync(flush, data)
            if buffer:
                await anyio.to_thread.run_sync(flush, buffer)
            await anyio.to_thread.run_sync(staged.commit)
        except BaseException:
            # Shielded so that a cancelled request (client went away) still cleans up.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(staged.abort)
            raise
        return meter.info()


def _scheme(root: str) -> str:
    scheme = urlsplit(root).scheme.lower()
    # "C:\\data" parses with scheme "c": a one-letter scheme is a Windows drive, not a URL.
    return "" if len(scheme) == 1 else scheme


def open_artifact_store(root: str) -> ArtifactStore:
    """Open the store for ``root`` (a path, ``file://`` URL or any fsspec URL).

    Raises:
        ConfigError: ``root`` is empty or its registered class cannot be loaded.
        BackendUnavailable: the fsspec driver for the scheme is not installed.
    """
    if not root or not root.strip():
        raise ConfigError("artifact root must not be empty", details={"field": "artifact_root"})
    scheme = _scheme(root)
    try:
        cls = plugins.resolve("artifact_store", scheme)
    except ConfigError as exc:
        raise ConfigError(exc.message, details={"field": "artifact_root"}) from None
    # Every store takes its root as the one positional argument; that is the plug-in contract.
    return cast(Callable[[str], ArtifactStore], cls)(root)
