"""Artifact store on any fsspec filesystem (``s3://``, ``gs://``, ``memory://``, ...).

Atomicity: uploads are written to a hidden staging key next to the target and published with
``fs.mv``. On object stores ``mv`` is a server-side copy plus a delete, so a publish costs one
extra copy inside the store; we accept that rather than writing the final key directly,
because fsspec drivers differ in whether an aborted direct write is discarded or committed
(``memory://`` shows writes immediately; a buffered file's ``close()`` uploads what it has).
With staging, a failed or over-limit upload can at worst leave a hidden staging object, which
listing skips and ``delete_prefix`` removes, and the old artifact stays intact.
"""

from __future__ import annotations

import contextlib
import posixpath
import uuid
from typing import Any, BinaryIO, cast

from griffin.artifacts.paths import TEMP_PREFIX, clean_relative_path, is_reserved_name
from griffin.artifacts.store import ArtifactInfo, StagedWrite, StagingArtifactStore
from griffin.errors import BackendUnavailable, ConfigError, Conflict, NotFound

__all__ = ["FsspecArtifactStore"]

# The optional extra that brings each scheme's driver, for the "pip install" hint.
_EXTRAS: dict[str, str] = {"s3": "s3", "s3a": "s3"}


def _filesystem(root: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    import fsspec  # lazily: the local store, and `griffin --help`, should not pay for it

    scheme = root.split("://", 1)[0]
    try:
        fs, path = fsspec.core.url_to_fs(root, **storage_options)
    except ImportError as exc:
        extra = _EXTRAS.get(scheme)
        hint = (
            f"pip install 'griffin-ml[{extra}]'"
            if extra
            else f"install the fsspec driver for {scheme}://"
        )
        raise BackendUnavailable(
            f"artifact root {root!r} needs a storage driver that is not installed: {hint} ({exc})",
            details={"scheme": scheme},
        ) from exc
    except ValueError as exc:
        raise ConfigError(
            f"artifact root {root!r} uses an unknown scheme {scheme!r}: {exc}",
            details={"field": "artifact_root"},
        ) from exc
    return fs, str(path).rstrip("/")


class _FsspecStagedWrite(StagedWrite):
    def __init__(self, fs: Any, target: str) -> None:
        self._fs = fs
        self._target = target
        self._temp = posixpath.join(posixpath.dirname(target), f"{TEMP_PREFIX}{uuid.uuid4().hex}")
        self._file: Any = fs.open(self._temp, "wb")
        self._done = False

    def write(self, data: bytes | bytearray) -> None:
        self._file.write(data)

    def commit(self) -> None:
        self._file.close()
        size = self._fs.size(self._temp)
        self._fs.mv(self._temp, self._target)
        self._done = True
        # mv is copy+delete on object stores; a size check catches a truncated copy cheaply.
        if self._fs.size(self._target) != size:
            self._fs.rm_file(self._target)
            raise BackendUnavailable(
                f"artifact store did not keep {self._target!r} intact; retry the upload"
            )

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        # Best effort: the error that made us abort is the one the caller needs to see.
        with contextlib.suppress(Exception):
            self._file.close()
        with contextlib.suppress(Exception):
            self._fs.rm_file(self._temp)


class FsspecArtifactStore(StagingArtifactStore):
    """Artifacts under any fsspec URL.

    Args:
        root: the base URL, e.g. ``s3://bucket/griffin`` or ``memory://tests/abc``.
        storage_options: passed to the fsspec filesystem (credentials, endpoint URL, ...).

    Raises:
        BackendUnavailable: the scheme's driver (e.g. ``s3fs``) is not installed.
        ConfigError: fsspec does not know the scheme.
    """

    def __init__(self, root: str, **storage_options: Any) -> None:
        self.root = root
        self._fs, self._base = _filesystem(root, storage_options)

    def _key(self, key: str, *, allow_root: bool = False) -> str:
        if allow_root and key == "":
            return self._base
        # Object stores have no symlinks, so a clean relative key cannot leave the base.
        return f"{self._base}/{clean_relative_path(key)}"

    def _not_found(self, key: str) -> NotFound:
        return NotFound(f"artifact {key!r} not found", details={"path": key})

    def _stage(self, key: str) -> StagedWrite:
        target = self._key(key)
        if self._fs.isdir(target):
            raise Conflict(
                f"cannot write artifact {key!r}: it is a directory", details={"field": "path"}
            )
        try:
            return _FsspecStagedWrite(self._fs, target)
        except (FileExistsError, NotADirectoryError) as exc:
            raise Conflict(
                f"cannot write artifact {key!r}: a file is in the way of its directory",
                details={"field": "path"},
            ) from exc

    def open_read(self, key: str) -> BinaryIO:
        path = self._key(key)
        try:
            if not self._fs.isfile(path):
                raise self._not_found(key)
            return cast(BinaryIO, self._fs.open(path, "rb"))
        except (FileNotFoundError, IsADirectoryError):
            raise self._not_found(key) from None

    def list(self, prefix: str) -> list[ArtifactInfo]:
        top = self._key(prefix, allow_root=True)
        if not self._fs.isdir(top):
            return []
        start = len(top) + 1
        found: list[ArtifactInfo] = []
        for name, info in self._fs.find(top, detail=True).items():
            rel = str(name)[start:]
            if not rel or any(is_reserved_name(part) for part in rel.split("/")):
                continue
            if info.get("type", "file") == "file":
                found.append(ArtifactInfo(path=rel, size=int(info.get("size") or 0)))
        found.sort(key=lambda item: item.path)
        return found

    def delete(self, key: str) -> None:
        path = self._key(key)
        if not self._fs.isfile(path):
            raise self._not_found(key)
        try:
            self._fs.rm_file(path)
        except FileNotFoundError:
            raise self._not_found(key) from None

    def delete_prefix(self, prefix: str) -> None:
        path = self._key(prefix)  # "" refused: wiping the whole store is never a prefix delete
        if self._fs.exists(path):
            self._fs.rm(path, recursive=True)

    def exists(self, key: str) -> bool:
        return bool(self._fs.isfile(self._key(key)))

    def size(self, key: str) -> int:
        path = self._key(key)
        try:
            info = self._fs.info(path)
        except FileNotFoundError:
            raise self._not_found(key) from None
        if info.get("type") != "file":
            raise self._not_found(key)
        return int(info["size"])
