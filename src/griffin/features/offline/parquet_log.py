"""Append-only logs of parquet files under the offline root: one new file per write.

The push log of each feature view and the prediction log of each deployment are such logs:
many writers append, readers scan the folder. A file appears whole or not at all: local
files are written under a hidden temporary name and renamed; object stores (``s3://``)
publish an object only when its upload completes.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from griffin.errors import BackendUnavailable

__all__ = ["append_parquet"]


def append_parquet(folder: str, table: pa.Table, *, what: str) -> str:
    """Write ``table`` as a new parquet file in ``folder`` (a path or URL); returns its path.

    ``what`` names the log in the error raised when the folder cannot be written.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"part-{stamp}-{uuid.uuid4().hex}.parquet"
    try:
        if "://" in folder and not folder.startswith("file://"):
            import fsspec

            fs, root = fsspec.core.url_to_fs(folder)
            fs.makedirs(root, exist_ok=True)
            path = f"{root.rstrip('/')}/{name}"
            with fs.open(path, "wb") as handle:
                pq.write_table(table, handle)
            return f"{folder.rstrip('/')}/{name}"
        local = Path(folder.removeprefix("file://")).expanduser()
        local.mkdir(parents=True, exist_ok=True)
        temporary = local / f".{name}.tmp"
        try:
            pq.write_table(table, temporary)
            os.replace(temporary, local / name)
        finally:
            temporary.unlink(missing_ok=True)
        return str(local / name)
    except OSError as exc:
        raise BackendUnavailable(f"cannot write {what} under {folder!r}: {exc}") from None
