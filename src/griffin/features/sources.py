"""Where feature rows come from: Parquet files, SQL queries, pushed rows, request-time fields.

Every source has ``kind = "source"`` and a ``type`` (``parquet``, ``sql``, ``push``,
``request``) in its spec, so one registry table holds them all; :func:`source_from_spec`
rebuilds any of them. A feature view embeds its source's spec, so changing a source makes a new
version of the views that read it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from griffin.config import mask_url

from .common import (
    FeatureType,
    check_identifier,
    check_kind,
    fail,
    fingerprint_of,
    spec_field,
    unknown_name,
)

__all__ = [
    "BatchSource",
    "ParquetSource",
    "PushSource",
    "RequestSource",
    "Source",
    "SqlSource",
    "source_from_spec",
]


def _text(value: object, *, where: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(where, field, f"must be a non-empty string, got {value!r}")
    return value


def _optional_name(value: object, *, where: str, field: str) -> str | None:
    return None if value is None else check_identifier(value, where=where, field=field)


@dataclass(frozen=True, slots=True, init=False)
class ParquetSource:
    """Parquet files on a local path, a glob or an ``s3://`` URI.

    Args:
        path: a file, a folder, a glob (``data/trips/*.parquet``) or an ``s3://`` URI.
        timestamp_field: the column with each row's event time.
        created_timestamp_field: the column with the time a row was written; it breaks ties
            between rows with the same event time and powers the ``created_before`` cutoff.
        name: optional, to refer to the source on its own in the registry.
    """

    kind: ClassVar[str] = "source"
    type: ClassVar[str] = "parquet"
    path: str
    timestamp_field: str
    created_timestamp_field: str | None
    name: str | None

    def __init__(
        self,
        path: str,
        timestamp_field: str,
        created_timestamp_field: str | None = None,
        *,
        name: str | None = None,
    ) -> None:
        where = f"parquet source {name or path!r}"
        object.__setattr__(self, "name", _optional_name(name, where=where, field="name"))
        object.__setattr__(self, "path", _text(path, where=where, field="path"))
        _set_timestamps(self, where, timestamp_field, created_timestamp_field)

    @property
    def timestamp_fields(self) -> tuple[str, ...]:
        """The event and (when set) created timestamp columns."""
        return _timestamps(self.timestamp_field, self.created_timestamp_field)

    def spec(self) -> dict[str, Any]:
        return {
            "created_timestamp_field": self.created_timestamp_field,
            "kind": self.kind,
            "name": self.name,
            "path": self.path,
            "timestamp_field": self.timestamp_field,
            "type": self.type,
        }

    def fingerprint(self) -> str:
        return fingerprint_of(self.spec())

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], resolve: object = None) -> ParquetSource:
        _check_type(spec, cls.type)
        return cls(
            spec_field(spec, "path", "source", str),
            spec_field(spec, "timestamp_field", "source", str),
            spec.get("created_timestamp_field"),
            name=spec.get("name"),
        )


def _literal_password(url: str) -> bool:
    """Whether ``url`` carries a password that is not a ``${VAR}`` placeholder."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return False
    return bool(password) and not re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", password or "")


@dataclass(frozen=True, slots=True, init=False, repr=False)
class SqlSource:
    """The rows of a SQL query.

    Args:
        query: a ``SELECT``; with no ``connection`` DuckDB runs it, so it can read files
            (``SELECT * FROM 'data/*.parquet'``).
        timestamp_field: the column with each row's event time.
        name: the source's name (SQL sources can also be defined over REST by name).
        connection: a SQLAlchemy URL (e.g. ``postgresql://user@host/db``) to run the query on
            that database instead. Prefer ``${ENV_VAR}`` placeholders to a literal password:
            the URL is stored as written in the registry, so a literal password is refused
            (write ``postgresql://user:${PGPASSWORD}@host/db``).
        created_timestamp_field: the column with the time a row was written (tie-breaker).
    """

    kind: ClassVar[str] = "source"
    type: ClassVar[str] = "sql"
    query: str
    timestamp_field: str
    created_timestamp_field: str | None
    name: str
    connection: str | None

    def __init__(
        self,
        query: str,
        timestamp_field: str,
        *,
        name: str,
        connection: str | None = None,
        created_timestamp_field: str | None = None,
    ) -> None:
        where = f"sql source {name!r}"
        object.__setattr__(self, "name", check_identifier(name, where=where, field="name"))
        object.__setattr__(self, "query", _text(query, where=where, field="query"))
        if connection is not None and (not isinstance(connection, str) or "://" not in connection):
            raise fail(
                where,
                "connection",
                "must be None (DuckDB over files) or a SQLAlchemy URL such as "
                "'postgresql://user@host/db'",
            )
        if connection is not None and _literal_password(connection):
            # The URL is stored in the registry and shown by `plan`: a password written into it
            # would end up in the metadata database, its backups and every diff.
            raise fail(
                where,
                "connection",
                "holds a literal password; write it as an environment variable placeholder, "
                "e.g. 'postgresql://user:${PGPASSWORD}@host/db', and set the variable where "
                "the query runs",
            )
        object.__setattr__(self, "connection", connection)
        _set_timestamps(self, where, timestamp_field, created_timestamp_field)

    def __repr__(self) -> str:
        # Never print a password: reprs end up in logs, tracebacks and `plan` output.
        connection = None if self.connection is None else mask_url(self.connection)
        return (
            f"SqlSource(name={self.name!r}, query={self.query!r}, "
            f"timestamp_field={self.timestamp_field!r}, "
            f"created_timestamp_field={self.created_timestamp_field!r}, connection={connection!r})"
        )

    @property
    def timestamp_fields(self) -> tuple[str, ...]:
        """The event and (when set) created timestamp columns."""
        return _timestamps(self.timestamp_field, self.created_timestamp_field)

    def spec(self) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "created_timestamp_field": self.created_timestamp_field,
            "kind": self.kind,
            "name": self.name,
            "query": self.query,
            "timestamp_field": self.timestamp_field,
            "type": self.type,
        }

    def fingerprint(self) -> str:
        return fingerprint_of(self.spec())

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], resolve: object = None) -> SqlSource:
        _check_type(spec, cls.type)
        return cls(
            spec_field(spec, "query", "source", str),
            spec_field(spec, "timestamp_field", "source", str),
            name=spec_field(spec, "name", "source", str),
            connection=spec.get("connection"),
            created_timestamp_field=spec.get("created_timestamp_field"),
        )


BatchSource = ParquetSource | SqlSource


@dataclass(frozen=True, slots=True, init=False)
class PushSource:
    """Rows sent by producers (``client.push``), optionally backed by a batch source of history.

    Args:
        name: the name producers push to.
        timestamp_field: the column with each pushed row's event time.
        batch_source: where the same rows' history lives, for training data and backfills.
    """

    kind: ClassVar[str] = "source"
    type: ClassVar[str] = "push"
    name: str
    timestamp_field: str
    batch_source: BatchSource | None

    def __init__(
        self,
        name: str,
        *,
        timestamp_field: str = "event_timestamp",
        batch_source: BatchSource | None = None,
    ) -> None:
        where = f"push source {name!r}"
        object.__setattr__(self, "name", check_identifier(name, where=where, field="name"))
        object.__setattr__(
            self,
            "timestamp_field",
            check_identifier(timestamp_field, where=where, field="timestamp_field"),
        )
        if batch_source is not None and not isinstance(batch_source, ParquetSource | SqlSource):
            raise fail(where, "batch_source", "must be a ParquetSource or a SqlSource")
        object.__setattr__(self, "batch_source", batch_source)

    @property
    def created_timestamp_field(self) -> str | None:
        """Pushed rows carry no created timestamp of their own."""
        return None

    @property
    def timestamp_fields(self) -> tuple[str, ...]:
        return (self.timestamp_field,)

    def spec(self) -> dict[str, Any]:
        batch = None if self.batch_source is None else self.batch_source.spec()
        return {
            "batch_source": batch,
            "kind": self.kind,
            "name": self.name,
            "timestamp_field": self.timestamp_field,
            "type": self.type,
        }

    def fingerprint(self) -> str:
        return fingerprint_of(self.spec())

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], resolve: object = None) -> PushSource:
        _check_type(spec, cls.type)
        batch_spec = spec.get("batch_source")
        batch = None if batch_spec is None else source_from_spec(batch_spec)
        if batch is not None and not isinstance(batch, ParquetSource | SqlSource):
            raise fail(
                f"push source {spec.get('name')!r}", "batch_source", "must be a batch source"
            )
        return cls(
            spec_field(spec, "name", "source", str),
            timestamp_field=spec_field(spec, "timestamp_field", "source", str),
            batch_source=batch,
        )


@dataclass(frozen=True, slots=True, init=False)
class RequestSource:
    """Fields sent with each online request (and columns of the entity rows offline).

    Args:
        name: the source's name.
        schema: field name -> ``FeatureType`` (or its name, e.g. ``"float64"``).
    """

    kind: ClassVar[str] = "source"
    type: ClassVar[str] = "request"
    name: str
    schema: Mapping[str, FeatureType]

    def __init__(self, name: str, schema: Mapping[str, FeatureType | str]) -> None:
        where = f"request source {name!r}"
        object.__setattr__(self, "name", check_identifier(name, where=where, field="name"))
        if not isinstance(schema, Mapping) or not schema:
            raise fail(where, "schema", "must be a non-empty dict of field name -> type")
        parsed = {
            check_identifier(field, where=where, field="schema"): FeatureType.parse(
                dtype, where=f"{where} field {field!r}"
            )
            for field, dtype in schema.items()
        }
        object.__setattr__(self, "schema", parsed)

    def __hash__(self) -> int:
        return hash((self.kind, self.type, self.name))

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(self.schema)

    def spec(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "schema": {k: str(v) for k, v in self.schema.items()},
            "type": self.type,
        }

    def fingerprint(self) -> str:
        return fingerprint_of(self.spec())

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], resolve: object = None) -> RequestSource:
        _check_type(spec, cls.type)
        return cls(
            spec_field(spec, "name", "source", str), spec_field(spec, "schema", "source", dict)
        )


Source = ParquetSource | SqlSource | PushSource | RequestSource
_TYPES: dict[str, type[Source]] = {
    cls.type: cls for cls in (ParquetSource, SqlSource, PushSource, RequestSource)
}


def source_from_spec(spec: Mapping[str, Any], resolve: object = None) -> Source:
    """Rebuild any source from its ``spec()``."""
    check_kind(spec, "source")
    found = spec_field(spec, "type", "source", str)
    if found not in _TYPES:
        raise unknown_name("source spec", "source type", found, _TYPES)
    return _TYPES[found].from_spec(spec)


def _check_type(spec: Mapping[str, Any], expected: str) -> None:
    check_kind(spec, "source")
    found = spec_field(spec, "type", "source", str)
    if found != expected:
        raise fail("source spec", "type", f"is {found!r}, expected {expected!r}")


def _set_timestamps(obj: object, where: str, event: object, created: object) -> None:
    object.__setattr__(
        obj, "timestamp_field", check_identifier(event, where=where, field="timestamp_field")
    )
    created = _optional_name(created, where=where, field="created_timestamp_field")
    if created is not None and created == event:
        raise fail(
            where, "created_timestamp_field", f"is the same column as timestamp_field ({event!r})"
        )
    object.__setattr__(obj, "created_timestamp_field", created)


def _timestamps(event: str, created: str | None) -> tuple[str, ...]:
    return (event,) if created is None else (event, created)
