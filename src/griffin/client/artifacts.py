"""Run artifacts: streamed uploads and verified downloads.

Paths are checked on the SDK side with the server's own rule (``clean_relative_path``) before
anything is sent, so ``../x`` fails fast with the same message, and a download can never be
written outside ``dst_dir``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx

from griffin.client import wire
from griffin.client._base import ClientBase, segment
from griffin.domain.tracking import Artifact
from griffin.errors import BackendUnavailable, GriffinError, NotFound

__all__ = ["CHUNK_BYTES", "ArtifactsMixin"]

CHUNK_BYTES = 1024 * 1024  # read and sent 1 MiB at a time: memory stays flat for any size
SHA_HEADER = "x-griffin-sha256"


def _clean(path: str) -> str:
    # Imported here: griffin.artifacts pulls in fsspec, which `import griffin` must not.
    from griffin.artifacts.paths import clean_relative_path

    return clean_relative_path(path)


def _file_chunks(path: Path) -> Callable[[], Iterator[bytes]]:
    """A factory of fresh chunk iterators, so the transport can resend from the start."""

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk

    return chunks


class ArtifactsMixin(ClientBase):
    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[Artifact]:
        """Upload a file, or every file under a directory, to the run's artifacts.

        Files are streamed in 1 MiB chunks, never read whole into memory. Uploading the same
        path again replaces it.

        Args:
            run_id: the run's id.
            local_path: a file, or a directory whose files are uploaded with their paths
                relative to it.
            artifact_path: a folder under the run's artifacts to put them in (e.g.
                ``"model"``); the run's artifact root when omitted.

        Returns:
            One ``Artifact`` per uploaded file, with its size and sha256.

        Raises:
            NotFound: ``local_path`` does not exist.
            InvalidArgument: ``artifact_path`` or a resulting path is not a clean relative path.
            PayloadTooLarge: a file is over the server's ``max_artifact_bytes``.
        """
        source = Path(local_path)
        prefix = _clean(artifact_path) if artifact_path else ""
        if source.is_dir():
            files = sorted(p for p in source.rglob("*") if p.is_file())
            targets = [(p, p.relative_to(source).as_posix()) for p in files]
        elif source.is_file():
            targets = [(source, source.name)]
        else:
            raise NotFound(f"no such file or directory: {source}", details={"path": str(source)})
        # Every destination is checked before the first byte is sent: all or nothing up front.
        planned = [(p, _clean(f"{prefix}/{rel}" if prefix else rel)) for p, rel in targets]
        return [self._upload(run_id, path, dest) for path, dest in planned]

    def _upload(self, run_id: str, path: Path, dest: str) -> Artifact:
        response = self._transport.request(
            "PUT",
            f"/runs/{segment(run_id)}/artifacts/{quote(dest, safe='/')}",
            content=_file_chunks(path),
            headers={
                "content-type": "application/octet-stream",
                "content-length": str(path.stat().st_size),
            },
            idempotent=True,  # PUT replaces: sending the whole file again is safe
        )
        return wire.artifact(response.json())

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        """Artifacts of a run, optionally only those under a folder.

        Args:
            run_id: the run's id.
            prefix: a folder, e.g. ``"model"``; all artifacts when empty.

        Returns:
            The artifacts, ordered by path.
        """
        params = {"prefix": _clean(prefix)} if prefix else None
        data = self._call("GET", f"/runs/{segment(run_id)}/artifacts", params=params)
        return [wire.artifact(item) for item in data]

    def download_artifact(self, run_id: str, path: str, dst_dir: str | os.PathLike[str]) -> Path:
        """Download one artifact to ``dst_dir/<path>``, verifying its sha256.

        The bytes are streamed to a temporary file next to the destination, checked, then
        renamed into place, so an interrupted or corrupted download never leaves a partial
        file under the final name.

        Args:
            run_id: the run's id.
            path: the artifact's path, as listed by :meth:`list_artifacts`.
            dst_dir: the folder to write into (created if needed).

        Returns:
            The downloaded file's path.

        Raises:
            NotFound: the run has no such artifact.
            InvalidArgument: ``path`` is not a clean relative path.
            GriffinError: the bytes received do not match the artifact's sha256.
        """
        relative = _clean(path)
        target = Path(dst_dir) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
        digest = hashlib.sha256()
        try:
            with (
                os.fdopen(fd, "wb") as out,
                self._transport.stream(
                    "GET", f"/runs/{segment(run_id)}/artifacts/{quote(relative, safe='/')}"
                ) as response,
            ):
                expected = response.headers.get(SHA_HEADER) or None
                try:
                    for chunk in response.iter_bytes(CHUNK_BYTES):
                        digest.update(chunk)
                        out.write(chunk)
                except httpx.HTTPError as exc:
                    raise BackendUnavailable(
                        f"the download of artifact '{relative}' of run {run_id} broke off: {exc}"
                    ) from None
            if expected is not None and digest.hexdigest() != expected:
                raise GriffinError(
                    f"artifact '{relative}' of run {run_id} arrived corrupted: sha256 "
                    f"{digest.hexdigest()} instead of {expected}; download it again",
                    details={"path": relative, "sha256": expected},
                )
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        return target
