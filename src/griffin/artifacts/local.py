"""Artifact store on a local (or network-mounted) directory, using plain ``os`` calls."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import uuid
from typing import BinaryIO
from urllib.parse import urlsplit
from urllib.request import url2pathname

from griffin.artifacts.paths import TEMP_PREFIX, clean_relative_path, is_reserved_name
from griffin.artifacts.store import ArtifactInfo, StagedWrite, StagingArtifactStore
from griffin.errors import Conflict, InvalidArgument, NotFound

__all__ = ["LocalArtifactStore"]

# Where the platform has it, O_NOFOLLOW closes the window between our realpath() check and
# the open(): a symlink swapped in as the last component at that moment makes open() fail.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)
# Opening a FIFO for reading blocks until a writer appears; non-blocking open lets us look at
# what we opened first (regular files ignore the flag, and we clear it again anyway).
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)

# (directory, its path relative to the listed prefix); an alias because inside the class body
# the name ``list`` is the store's method.
_Pending = list[tuple[str, str]]


def _local_path(root: str) -> str:
    parts = urlsplit(root)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidArgument(f"file URL {root!r} names a remote host; mount it instead")
        return url2pathname(parts.path)
    return root


class _LocalStagedWrite(StagedWrite):
    """A hidden temp file in the target's directory, published with ``os.replace``.

    Same directory means same filesystem, so the rename is atomic: readers see the old
    artifact or the new one, never a prefix of it.
    """

    def __init__(self, target: str, created_dirs: list[str], fsync: bool) -> None:
        self._target = target
        self._created_dirs = created_dirs
        self._fsync = fsync
        self._temp = os.path.join(os.path.dirname(target), f"{TEMP_PREFIX}{uuid.uuid4().hex}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY
        self._file: BinaryIO | None = os.fdopen(os.open(self._temp, flags, 0o666), "wb")

    def write(self, data: bytes | bytearray) -> None:
        assert self._file is not None, "write after commit/abort"
        self._file.write(data)

    def commit(self) -> None:
        assert self._file is not None, "commit after commit/abort"
        handle, self._file = self._file, None
        with handle:
            handle.flush()
            if self._fsync:
                os.fsync(handle.fileno())
        try:
            os.replace(self._temp, self._target)
        except IsADirectoryError as exc:
            raise Conflict(
                f"cannot write artifact: {self._target!r} is a directory",
                details={"field": "path"},
            ) from exc

    def abort(self) -> None:
        if self._file is not None:
            handle, self._file = self._file, None
            with contextlib.suppress(OSError):
                handle.close()
        with contextlib.suppress(OSError):
            os.unlink(self._temp)
        # Directories this upload created are removed again so a refused upload leaves no
        # trace; rmdir fails harmlessly if a concurrent upload has put something there.
        for directory in reversed(self._created_dirs):
            try:
                os.rmdir(directory)
            except OSError:
                break


class LocalArtifactStore(StagingArtifactStore):
    """Artifacts as files under a local directory.

    Args:
        root: a directory path or ``file://`` URL; created if missing.
        fsync: flush each artifact to stable storage before publishing it (slower; worth it
            when the directory is the only copy and power loss is a concern).

    Every key is resolved with ``os.path.realpath`` and refused unless the result is inside
    the root, so symlinks (planted by someone with shell access) cannot be used to read,
    write or list outside it. Listing never follows directory symlinks.
    """

    def __init__(self, root: str, *, fsync: bool = False) -> None:
        self.root = root
        self._fsync = fsync
        base = os.path.abspath(_local_path(root))
        os.makedirs(base, exist_ok=True)
        self._base = os.path.realpath(base)

    def _resolve(self, key: str, *, allow_root: bool = False) -> str:
        if allow_root and key == "":
            return self._base
        clean = clean_relative_path(key)
        real = os.path.realpath(os.path.join(self._base, *clean.split("/")))
        if real == self._base or not self._inside(real):
            raise InvalidArgument(
                f"artifact path {key!r} resolves outside the artifact root",
                details={"field": "path"},
            )
        return real

    def _inside(self, real: str) -> bool:
        return os.path.commonpath([self._base, real]) == self._base

    def _stage(self, key: str) -> StagedWrite:
        target = self._resolve(key)
        if os.path.isdir(target):
            raise Conflict(
                f"cannot write artifact {key!r}: it is a directory", details={"field": "path"}
            )
        created: list[str] = []
        parent = os.path.dirname(target)
        missing = parent
        while not os.path.isdir(missing) and missing != self._base:
            created.append(missing)
            missing = os.path.dirname(missing)
        created.reverse()
        try:
            os.makedirs(parent, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise Conflict(
                f"cannot write artifact {key!r}: a file is in the way of its directory",
                details={"field": "path"},
            ) from exc
        try:
            return _LocalStagedWrite(target, created, self._fsync)
        except FileNotFoundError:
            # A concurrent upload that failed removed the directory it had created, between
            # our makedirs and our open; creating it once more settles that race.
            os.makedirs(parent, exist_ok=True)
            return _LocalStagedWrite(target, created, self._fsync)

    def open_read(self, key: str) -> BinaryIO:
        real = self._resolve(key)
        try:
            fd = os.open(real, os.O_RDONLY | _NOFOLLOW | _BINARY | _NONBLOCK)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(f"artifact {key!r} not found", details={"path": key}) from None
        # Only regular files: a directory would fail later, and a FIFO or device could hang a
        # server worker forever.
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise NotFound(f"artifact {key!r} not found", details={"path": key})
        if _NONBLOCK:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")

    def list(self, prefix: str) -> list[ArtifactInfo]:
        top = self._resolve(prefix, allow_root=True)
        if not os.path.isdir(top):
            return []
        found: list[ArtifactInfo] = []
        pending: _Pending = [(top, "")]
        while pending:
            directory, rel = pending.pop()
            try:
                entries = list(os.scandir(directory))
            except (FileNotFoundError, NotADirectoryError):
                continue  # removed while we walked
            for entry in entries:
                if is_reserved_name(entry.name):
                    continue  # staging files and Griffin's own data are not artifacts
                path = f"{rel}{entry.name}"
                info = self._list_entry(entry, path, pending)
                if info is not None:
                    found.append(info)
        found.sort(key=lambda item: item.path)
        return found

    def _list_entry(
        self, entry: os.DirEntry[str], path: str, pending: _Pending
    ) -> ArtifactInfo | None:
        try:
            if entry.is_symlink():
                # A file symlink is listed only if it stays inside the root (it is then
                # readable through open_read too); directory symlinks are never descended,
                # which also rules out cycles.
                real = os.path.realpath(entry.path)
                if not self._inside(real) or not os.path.isfile(real):
                    return None
                return ArtifactInfo(path=path, size=os.stat(real).st_size)
            if entry.is_dir(follow_symlinks=False):
                pending.append((entry.path, f"{path}/"))
                return None
            if entry.is_file(follow_symlinks=False):
                return ArtifactInfo(path=path, size=entry.stat(follow_symlinks=False).st_size)
        except FileNotFoundError:
            pass  # deleted while listing
        return None

    def delete(self, key: str) -> None:
        real = self._resolve(key)
        if not os.path.isfile(real):
            raise NotFound(f"artifact {key!r} not found", details={"path": key})
        try:
            os.unlink(real)
        except FileNotFoundError:
            raise NotFound(f"artifact {key!r} not found", details={"path": key}) from None

    def delete_prefix(self, prefix: str) -> None:
        # The empty prefix is refused by _resolve: wiping the whole store is never a prefix
        # delete. rmtree unlinks symlinks without following them.
        real = self._resolve(prefix)
        lexical = os.path.join(self._base, *prefix.split("/"))
        if os.path.islink(lexical):
            os.unlink(lexical)  # drop the link itself, not the (inside-root) tree it names
        elif os.path.isdir(real):
            shutil.rmtree(real)
        elif os.path.lexists(real):
            os.unlink(real)

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._resolve(key))

    def size(self, key: str) -> int:
        real = self._resolve(key)
        try:
            st = os.stat(real)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"artifact {key!r} not found", details={"path": key}) from None
        if not stat.S_ISREG(st.st_mode):
            raise NotFound(f"artifact {key!r} not found", details={"path": key})
        return st.st_size
