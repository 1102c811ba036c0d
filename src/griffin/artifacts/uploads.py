"""Streaming an upload to a temporary file under a size limit (datasets, code packages)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterable
from pathlib import Path

import anyio.to_thread

from griffin.errors import PayloadTooLarge

__all__ = ["spool"]


async def spool(
    chunks: AsyncIterable[bytes], max_bytes: int, *, what: str, prefix: str, suffix: str
) -> Path:
    """Stream an upload into a temporary file, refusing it beyond ``max_bytes``.

    ``what`` names the upload in the error (``"the dataset file"``). The caller deletes the
    file; nothing is left behind when the upload fails.
    """
    fd, name = await anyio.to_thread.run_sync(
        lambda: tempfile.mkstemp(prefix=prefix, suffix=suffix)
    )
    path = Path(name)
    handle = os.fdopen(fd, "wb")
    try:
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(
                    f"{what} is larger than the limit of {max_bytes} bytes",
                    details={"max_bytes": max_bytes},
                )
            await anyio.to_thread.run_sync(handle.write, chunk)
        await anyio.to_thread.run_sync(handle.close)
    except BaseException:
        handle.close()
        path.unlink(missing_ok=True)
        raise
    return path
