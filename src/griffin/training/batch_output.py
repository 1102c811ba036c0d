"""Where a batch prediction's rows go: a file written chunk by chunk, or a table in memory.

A file is written to a hidden temporary file beside the output (``.NAME.<random>.partial``)
and renamed over the output only once every row is in it, so a crash never leaves a half file
at the output path. Parquet (with the run's model, version, job and feature time as JSON in
the schema metadata, key ``griffin.predict``), CSV and JSON Lines.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from griffin.errors import InvalidArgument

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "METADATA_KEY",
    "OUTPUT_FORMATS",
    "VERSION_COLUMN",
    "FileSink",
    "Sink",
    "TableSink",
    "check_output",
    "output_chunk",
]

VERSION_COLUMN = "model_version"
METADATA_KEY = "griffin.predict"
OUTPUT_FORMATS = (".parquet", ".csv", ".jsonl")


def check_output(path: Path) -> Path:
    """``path`` when it names a file type Griffin writes (``InvalidArgument`` otherwise)."""
    if path.suffix.lower() not in OUTPUT_FORMATS:
        raise InvalidArgument(
            f"output {path}: write a .parquet, .csv or .jsonl file", details={"field": "output"}
        )
    return path


def output_chunk(rows: pa.Table, predictions: pa.Table, version: int) -> pa.Table:
    """The rows' own columns, then the predictions and the version (replacing columns of the
    same names: a file scored before can be scored again)."""
    import numpy as np
    import pyarrow as pa

    added = {*predictions.column_names, VERSION_COLUMN}
    out = rows.drop_columns([c for c in rows.column_names if c in added])
    for name in predictions.column_names:
        out = out.append_column(name, predictions[name])
    return out.append_column(
        VERSION_COLUMN, pa.array(np.full(out.num_rows, version, dtype=np.int64))
    )


class Sink(Protocol):
    """Where output chunks go, in order."""

    def write(self, table: pa.Table) -> None: ...


class FileSink:
    """Appends chunks to a hidden temporary file beside ``path``; :meth:`commit` renames it."""

    def __init__(self, path: Path, metadata: dict[str, Any]) -> None:
        self.path = path
        self.suffix = path.suffix.lower()
        self.temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.partial")
        self.metadata = metadata
        self.schema: pa.Schema | None = None
        self.writer: Any = None
        self.file: Any = None

    def write(self, table: pa.Table) -> None:
        if self.schema is None:
            self._open(table.schema)
        else:
            table = _conform(table, self.schema)
        if self.suffix == ".jsonl":
            frame = table.to_pandas()
            self.file.write(frame.to_json(orient="records", lines=True, date_format="iso"))
        else:
            self.writer.write_table(table)

    def _open(self, schema: pa.Schema) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.suffix == ".parquet":
            import pyarrow.parquet as pq

            tagged = schema.with_metadata({METADATA_KEY: orjson.dumps(self.metadata)})
            self.writer = pq.ParquetWriter(self.temporary, tagged)
            schema = tagged
        elif self.suffix == ".csv":
            import pyarrow.csv as pacsv

            self.writer = pacsv.CSVWriter(self.temporary, schema)
        else:
            self.file = self.temporary.open("w", encoding="utf-8")
        self.schema = schema

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.file is not None:
            self.file.close()
            self.file = None

    def commit(self) -> None:
        self._close()
        os.replace(self.temporary, self.path)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._close()
        self.temporary.unlink(missing_ok=True)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A later chunk in the types of the first (a model may return ints, then floats)."""
    if table.schema.equals(schema, check_metadata=False):
        return table
    try:
        return table.cast(schema.remove_metadata())
    except (ValueError, TypeError, NotImplementedError) as exc:  # ArrowInvalid and kin
        raise InvalidArgument(
            f"a chunk of predictions does not fit the columns of the first: {exc}"
        ) from None


class TableSink:
    """Keeps the chunks in memory (a preview, printed rather than written)."""

    def __init__(self) -> None:
        self.parts: list[pa.Table] = []

    def write(self, table: pa.Table) -> None:
        self.parts.append(table if not self.parts else _conform(table, self.parts[0].schema))
