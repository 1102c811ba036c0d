"""Saved training datasets: store a training set's parquet file and register it.

The SDK sends one parquet file whose schema metadata carries the lineage (key
``griffin.dataset``). Here the server checks it is parquet, reads the lineage, computes the
per-column statistics itself with DuckDB (it never trusts the client's numbers), writes the
file to the artifact store under a key derived from ids, and records the next version of the
name. If the row cannot be written, the file is deleted again.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from griffin.artifacts import ArtifactInfo, join_under, uploads
from griffin.domain.accounts import Principal, Role
from griffin.domain.datasets import LINEAGE_KEY, ColumnStats, Dataset, Lineage, json_number
from griffin.domain.ids import new_id
from griffin.errors import AlreadyExists, InvalidArgument, NotFound
from griffin.platform import Platform
from griffin.store import datasets as store
from griffin.store import projects
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.base import utcnow
from griffin.store.orm.feature_data import FeatureDatasetRow
from griffin.store.session import Database

__all__ = [
    "check_name",
    "check_save",
    "column_statistics",
    "get_dataset",
    "list_datasets",
    "open_dataset",
    "save_dataset",
    "spool",
]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,255}")
_ATTEMPTS = 3  # concurrent saves of one name race for its next version; the loser retries
_CHUNK = 1 << 20


def check_save(principal: Principal, project: str, name: str) -> None:
    """Raise unless ``principal`` may save dataset ``name`` in ``project`` (a valid name).

    The router calls this before it reads the body, so a refused upload is not read first.
    """
    principal.require(Role.EDITOR, project)
    check_name(name)


def check_name(name: str) -> str:
    """A dataset name: 1 to 256 letters, digits, ``_``, ``.``, ``-``, starting alphanumeric."""
    if not _NAME.fullmatch(name):
        raise InvalidArgument(
            f"invalid dataset name {name[:60]!r}: use 1 to 256 letters, digits, '_', '.' and "
            "'-', starting with a letter or digit",
            details={"field": "name"},
        )
    return name


async def spool(chunks: AsyncIterable[bytes], max_bytes: int) -> Path:
    """Stream a dataset upload to a temporary file, refusing it beyond ``max_bytes``."""
    return await uploads.spool(
        chunks,
        max_bytes,
        what="the dataset file (max_artifact_bytes)",
        prefix="griffin-dataset-",
        suffix=".parquet",
    )


@dataclass(frozen=True)
class _Parsed:
    lineage: Lineage
    columns: tuple[ColumnStats, ...]
    row_count: int
    event_start: datetime | None
    event_end: datetime | None


def _read_lineage(path: Path) -> tuple[Lineage, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidArgument(
            f"the dataset body is not a parquet file: {exc}", details={"field": "body"}
        ) from None
    raw = (schema.metadata or {}).get(LINEAGE_KEY.encode())
    if raw is None:
        return Lineage(), schema
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(
            f"the dataset's '{LINEAGE_KEY}' metadata is not JSON: {exc}",
            details={"field": LINEAGE_KEY},
        ) from None
    return Lineage.from_json(document), schema


def _kind(arrow_type: Any) -> str:
    import pyarrow as pa

    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "numeric"
    if pa.types.is_decimal(arrow_type):
        return "numeric"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "temporal"
    return "other"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _number(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return float(value)


def column_statistics(path: Path, lineage: Lineage | None = None) -> tuple[int, list[ColumnStats]]:
    """Row count and per-column statistics of a parquet file, in one DuckDB pass.

    Every column gets its non-null count, null count and approximate distinct count; numeric
    columns also min, max, mean and sample standard deviation; timestamps and dates min and
    max (ISO 8601, UTC; naive timestamps are read as UTC).
    """
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    lineage = lineage or Lineage()
    schema = pq.read_schema(path)
    selects = ["count(*)"]
    layout: list[tuple[str, str, str, int]] = []  # name, type, kind, number of aggregates
    for field in schema:
        column = _quote(field.name)
        kind = _kind(field.type)
        aggregates = [f"count({column})", f"approx_count_distinct({column})"]
        if kind == "numeric":
            value = f"{column}::DOUBLE"
            aggregates += [
                f"min({column})",
                f"max({column})",
                f"avg({value})",
                f"stddev_samp({value})",
            ]
        elif kind == "temporal":
            # As plain TIMESTAMP (UTC wall time): DuckDB hands TIMESTAMPTZ to Python via pytz.
            cast = "::TIMESTAMP" if pa.types.is_timestamp(field.type) else ""
            aggregates += [f"min({column}){cast}", f"max({column}){cast}"]
        selects.extend(aggregates)
        layout.append((field.name, str(field.type), kind, len(aggregates)))
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        source = str(path).replace("'", "''")
        row = con.execute(f"SELECT {', '.join(selects)} FROM read_parquet('{source}')").fetchone()
    except duckdb.Error as exc:
        raise InvalidArgument(
            f"the dataset file cannot be read: {exc}", details={"field": "body"}
        ) from None
    finally:
        con.close()
    assert row is not None
    total = int(row[0])
    stats: list[ColumnStats] = []
    index = 1
    for name, type_, kind, width in layout:
        values = row[index : index + width]
        index += width
        count = int(values[0])
        extra: dict[str, Any] = {}
        if kind == "numeric":
            extra = {
                "min": _number(values[2]),
                "max": _number(values[3]),
                "mean": _number(values[4]),
                "stddev": _number(values[5]),
            }
        elif kind == "temporal":
            extra = {"min": _iso(values[2]), "max": _iso(values[3])}
        stats.append(
            ColumnStats(
                name=name,
                type=type_,
                role=lineage.role(name),
                count=count,
                nulls=total - count,
                distinct=int(values[1]),
                **extra,
            )
        )
    return total, stats


def _parse(path: Path) -> _Parsed:
    lineage, _ = _read_lineage(path)
    total, columns = column_statistics(path, lineage)
    start = end = None
    for column in columns:
        if column.name == lineage.event_timestamp_column and column.role == "timestamp":
            start = _time(column.min)
            end = _time(column.max)
    return _Parsed(lineage, tuple(columns), total, start, end)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _artifact_key(project_id: str, dataset_id: str) -> str:
    """Where a dataset's file lives under the artifact root: derived from ids, never input."""
    return join_under(f"{project_id}/datasets/{dataset_id}", "data.parquet")


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


def save_dataset(
    platform: Platform,
    principal: Principal,
    project: str,
    name: str,
    path: Path,
    *,
    description: str = "",
) -> Dataset:
    """Register the parquet file at ``path`` as the next version of dataset ``name``.

    Raises:
        InvalidArgument: a bad name, a body that is not parquet, malformed lineage.
        PayloadTooLarge: the file is over ``max_artifact_bytes``.
        PermissionDenied: the principal cannot edit the project.
    """
    check_save(principal, project, name)
    with platform.db.session() as session:
        project_id = projects.get_row(session, project).id
    parsed = _parse(path)
    dataset_id = new_id()
    key = _artifact_key(project_id, dataset_id)
    info = platform.artifacts.write_stream(
        key, _file_chunks(path), max_bytes=platform.settings.max_artifact_bytes
    )
    try:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return _insert(
                    platform.db,
                    principal,
                    project,
                    name,
                    (dataset_id, key, info),
                    parsed,
                    description,
                )
            except AlreadyExists:
                if attempt == _ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover
    except BaseException:
        with contextlib.suppress(Exception):
            platform.artifacts.delete(key)
        raise


def _insert(
    db: Database,
    principal: Principal,
    project: str,
    name: str,
    stored: tuple[str, str, ArtifactInfo],
    parsed: _Parsed,
    description: str,
) -> Dataset:
    dataset_id, key, info = stored
    lineage = parsed.lineage
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        row = FeatureDatasetRow(
            id=dataset_id,
            project_id=project_row.id,
            name=name,
            version=store.next_version(session, project_row, name),
            uri=key,
            format="parquet",
            row_count=parsed.row_count,
            size_bytes=info.size,
            sha256=info.sha256 or "",
            columns=[_clean_json(c.to_json()) for c in parsed.columns],
            features=[f.to_json() for f in lineage.features],
            feature_service=lineage.feature_service,
            feature_service_version=lineage.feature_service_version,
            entity_source=lineage.entity_source,
            event_timestamp_column=lineage.event_timestamp_column,
            event_start=parsed.event_start,
            event_end=parsed.event_end,
            created_before=lineage.created_before,
            description=description,
            created_by=principal.user,
            created_at=utcnow(),
        )
        store.add(session, row)
        return store.to_domain(project, row)


def _clean_json(document: dict[str, Any]) -> dict[str, Any]:
    # Statistics can be NaN or infinite; JSON (and PostgreSQL's json type) has neither.
    return {k: json_number(v) if isinstance(v, float) else v for k, v in document.items()}


def _not_found(session: Any, project_row: ProjectRow, project: str, name: str) -> NotFound:
    known = store.names(session, project_row)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return NotFound(
        f"dataset '{name}' does not exist in project '{project}'{hint}",
        details={"name": name, "project": project, "close_matches": close},
    )


def _find(
    session: Any, project: str, name: str, version: int | None
) -> tuple[ProjectRow, FeatureDatasetRow]:
    project_row = projects.get_row(session, project)
    row = store.find(session, project_row, name, version)
    if row is None:
        if version is None or store.find(session, project_row, name) is None:
            raise _not_found(session, project_row, project, name)
        latest = store.find(session, project_row, name)
        assert latest is not None
        raise NotFound(
            f"dataset '{name}' has no version {version} (versions 1 to {latest.version})",
            details={"name": name, "version": version},
        )
    return project_row, row


def get_dataset(
    db: Database, principal: Principal, project: str, name: str, version: int | None = None
) -> Dataset:
    """Version ``version`` of dataset ``name`` (the newest when None).

    Raises:
        NotFound: no such dataset (naming the closest names) or version.
    """
    principal.require(Role.VIEWER, project)
    with db.session() as session:
        _, row = _find(session, project, name, version)
        return store.to_domain(project, row)


def list_datasets(
    db: Database, principal: Principal, project: str, name: str | None = None
) -> list[Dataset]:
    """The newest version of every dataset by name; with ``name``, its versions newest first."""
    principal.require(Role.VIEWER, project)
    with db.session() as session:
        project_row = projects.get_row(session, project)
        if name is None:
            rows = store.latest_of_each(session, project_row)
        else:
            rows = store.versions_of(session, project_row, name)
            if not rows:
                raise _not_found(session, project_row, project, name)
        return [store.to_domain(project, r) for r in rows]


def open_dataset(
    platform: Platform,
    principal: Principal,
    project: str,
    name: str,
    version: int | None = None,
) -> tuple[Dataset, Iterator[bytes]]:
    """A dataset's record and a chunked reader of its parquet file."""
    principal.require(Role.VIEWER, project)
    with platform.db.session() as session:
        _, row = _find(session, project, name, version)
        dataset, key = store.to_domain(project, row), row.uri
    return dataset, platform.artifacts.iter_read(key)
