"""Feature views' sources as data DuckDB can scan: the one place sources are read offline.

Training data, materialization and skew checks all read a view's history through
:func:`view_data`, which gives an Arrow table, a local parquet path or glob, or a
:class:`SqlData` (a query plus the Arrow objects it reads), and :func:`source_clause`, which
turns that into a ``FROM`` clause on a DuckDB connection:

- ``ParquetSource``: a file, a folder (all ``*.parquet`` below it), a glob, or ``s3://``
  (read through fsspec as a lazily scanned Arrow dataset, so it is never loaded whole).
- ``SqlSource`` without a connection: the query, run by DuckDB (it can read files).
- ``SqlSource`` with a SQLAlchemy URL: the query run on that database, with ``${VAR}``
  placeholders in the URL filled from the environment at run time.
- ``PushSource``: the log of pushed rows under the offline root, plus its batch source.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

import duckdb
import numpy as np
import pyarrow as pa

from griffin.config import mask_url
from griffin.errors import BackendUnavailable, ConfigError, InvalidArgument

from ..sources import ParquetSource, PushSource, SqlSource
from .inputs import POS, SEQ, SqlData

__all__ = [
    "SqlData",
    "ViewData",
    "driver_url",
    "expand_env",
    "position_probe",
    "push_log_dir",
    "source_clause",
    "view_data",
]

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


# An Arrow table, a local parquet path or glob, or a query (pyarrow is untyped: Any).
ViewData: TypeAlias = Any


def push_log_dir(offline_root: str, project: str, view: str) -> str:
    """Where the rows pushed to ``view`` are kept, as parquet files (one per push)."""
    return f"{offline_root.rstrip('/')}/push/{project}/{view}"


def expand_env(url: str, environ: Mapping[str, str] | None = None) -> str:
    """``url`` with every ``${VAR}`` replaced from the environment.

    Raises:
        ConfigError: a placeholder names a variable that is not set.
    """
    env = os.environ if environ is None else environ

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise ConfigError(
                f"the connection URL {mask_url(url)!r} uses ${{{name}}}, but the environment "
                f"variable {name} is not set where the query runs"
            )
        return env[name]

    return _PLACEHOLDER.sub(value, url)


def view_data(
    source: ParquetSource | SqlSource | PushSource,
    *,
    offline_root: str,
    project: str,
    view: str,
    environ: Mapping[str, str] | None = None,
) -> ViewData:
    """The rows of ``source`` (the source of feature view ``view``) as scannable data."""
    if isinstance(source, ParquetSource):
        return _parquet(source.path)
    if isinstance(source, SqlSource):
        return _sql(source, environ)
    if isinstance(source, PushSource):
        return _push(source, offline_root, project, view, environ)
    raise InvalidArgument(f"feature view {view!r}: a {type(source).__name__} has no history")


def _parquet(path: str) -> ViewData:
    if "://" in path and not path.startswith("file://"):
        return _remote_dataset(path)
    local = Path(path.removeprefix("file://")).expanduser()
    if local.is_dir():
        return str(local / "**" / "*.parquet")
    return str(local)


def _remote_dataset(uri: str) -> SqlData:
    import fsspec
    import pyarrow.dataset as ds
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    try:
        fs, root = fsspec.core.url_to_fs(uri)
        dataset = ds.dataset(root, filesystem=PyFileSystem(FSSpecHandler(fs)), format="parquet")
    except ImportError as exc:
        raise ConfigError(
            f"reading {uri!r} needs {exc.name}: pip install 'griffin-ml[s3]'"
        ) from None
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"cannot read {uri!r}: {exc}") from None
    return SqlData("SELECT * FROM griffin_remote", {"griffin_remote": dataset})


def _sql(source: SqlSource, environ: Mapping[str, str] | None) -> ViewData:
    if source.connection is None:
        return SqlData(f"SELECT * FROM ({source.query})")
    url = expand_env(source.connection, environ)
    import pandas as pd
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(driver_url(url))
        try:
            with engine.connect() as connection:
                frame = pd.read_sql_query(sa.text(source.query), connection)
        finally:
            engine.dispose()
    except sa.exc.OperationalError as exc:
        raise BackendUnavailable(
            f"sql source {source.name!r}: cannot reach {mask_url(url)}: {exc.orig}"
        ) from None
    except sa.exc.SQLAlchemyError as exc:
        raise InvalidArgument(f"sql source {source.name!r}: the query failed: {exc}") from None
    return pa.Table.from_pandas(frame, preserve_index=False)


def driver_url(url: str) -> str:
    # Griffin ships psycopg 3; a bare postgresql:// URL would ask SQLAlchemy for psycopg2.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _push(
    source: PushSource,
    offline_root: str,
    project: str,
    view: str,
    environ: Mapping[str, str] | None,
) -> ViewData:
    log = push_log_dir(offline_root, project, view)
    parts: list[ViewData] = []
    if _has_files(log):
        parts.append(_parquet(log))
    if source.batch_source is not None:
        parts.append(
            view_data(
                source.batch_source,
                offline_root=offline_root,
                project=project,
                view=view,
                environ=environ,
            )
        )
    if not parts:
        # Nothing pushed yet and no history: an empty relation with just the timestamp.
        return SqlData(f'SELECT NULL::TIMESTAMPTZ AS "{source.timestamp_field}" LIMIT 0')
    if len(parts) == 1:
        return parts[0]
    tables: dict[str, Any] = {}
    selects = []
    for index, part in enumerate(parts):
        if isinstance(part, SqlData):
            tables.update(part.tables)
            selects.append(f"SELECT * FROM ({part.sql})")
        elif isinstance(part, pa.Table):
            tables[f"griffin_part{index}"] = part
            selects.append(f"SELECT * FROM griffin_part{index}")
        else:
            selects.append(
                f"SELECT * FROM read_parquet('{_literal(str(part))}', union_by_name = true)"
            )
    return SqlData(" UNION ALL BY NAME ".join(selects), tables)


def _has_files(folder: str) -> bool:
    if "://" in folder and not folder.startswith("file://"):
        import fsspec

        fs, root = fsspec.core.url_to_fs(folder)
        return bool(fs.exists(root) and fs.find(root))
    local = Path(folder.removeprefix("file://"))
    return local.is_dir() and any(local.rglob("*.parquet"))


def source_clause(
    con: duckdb.DuckDBPyConnection, data: ViewData, name: str, *, position: bool
) -> tuple[str, list[str]]:
    """A ``FROM`` clause for ``data`` on ``con``, and the columns that rank later rows first.

    Args:
        con: the connection the clause will run on (tables are registered on it).
        data: what :func:`view_data` returned, or an Arrow table.
        name: a name to register ``data`` under when it is an Arrow object.
        position: also return position columns (file name, row number) that order rows by
            where they are in the data, for deterministic tie-breaks. SQL data has no stable
            position and returns none.
    """
    if isinstance(data, pa.Table):
        if position:
            data = data.append_column(SEQ, pa.array(np.arange(data.num_rows, dtype=np.int64)))
        con.register(name, data)
        return name, [SEQ] if position else []
    if isinstance(data, SqlData):
        for table_name, table in data.tables.items():
            con.register(table_name, table)
        return f"({data.sql})", []
    path = _literal(str(data))
    if position:
        # One integer per row ordered by (file in glob order, row in file): cheaper to compare
        # inside the ASOF join than the file name string.
        source = (
            f"(SELECT *, (file_index::BIGINT << 40) + file_row_number::BIGINT AS {POS} "
            f"FROM read_parquet('{path}', union_by_name = true))"
        )
        return source, [POS]
    return f"read_parquet('{path}', union_by_name = true)", []


def position_probe(data: ViewData, position: bool) -> list[str]:
    """The probe values matching :func:`source_clause`'s position columns (all maximal)."""
    if not position or isinstance(data, SqlData):
        return []
    return ["9223372036854775807::BIGINT"]


def _literal(value: str) -> str:
    return value.replace("'", "''")
