"""The rows a batch prediction reads, and the model's inputs for them.

Entity rows are a ``.parquet`` file (or a folder of them), a ``.csv``, ``.json`` or ``.jsonl``
file, or a SQL query (text starting with SELECT or WITH) run by DuckDB exactly as the entity
queries of training data are (:func:`griffin.features.training.read_entity_rows`).

Rows that carry every input column of the version's signature are the model's inputs as they
are. Otherwise the version's feature service is joined on by the join that builds training
data (:meth:`griffin.Client.get_training_data`), so a prediction sees what training saw:

- ``point-in-time``: as of each row's own event timestamp (the column of the version's
  training data, ``event_timestamp`` by default), when the rows have it;
- ``as-of``: as of one given time for every row, even over the rows' own timestamps;
- ``latest``: as of now (the newest values offline), recorded in the result;
- ``online``: the online store's newest values (what ``griffin serve`` reads), when asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from griffin.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    import pyarrow as pa

    from griffin.client import Client
    from griffin.domain.registry import ModelVersion

__all__ = [
    "ENTITY_FORMATS",
    "Inputs",
    "check_entities",
    "is_sql",
    "model_inputs",
    "parse_as_of",
    "read_entities",
]

ENTITY_FORMATS = (".parquet", ".csv", ".json", ".jsonl")
DEFAULT_TIMESTAMP_COLUMN = "event_timestamp"
# The one time of ``as_of`` (or now), a column of the join's input only.
_AS_OF = "__griffin_as_of"


@dataclass(frozen=True, slots=True)
class Inputs:
    """The model's input columns for every entity row, in the rows' order, and their origin.

    Attributes:
        features: ``given``, ``point-in-time``, ``as-of``, ``latest`` or ``online``.
        as_of: the time the features were read as of (``as-of`` and ``latest``).
        rows_without_features: rows for which no feature view had a fresh value.
    """

    table: pa.Table
    features: str
    as_of: datetime | None
    rows_without_features: int = 0


def is_sql(text: str) -> bool:
    """Whether ``text`` is a query: it starts with SELECT or WITH (the rule entity rows of
    training data follow)."""
    head = text.lstrip().split(None, 1)
    return bool(head) and head[0].upper() in ("SELECT", "WITH")


def check_entities(source: str) -> str:
    """``source`` as a job reads it: a query as it is, a file or folder as an absolute path.

    Raises:
        InvalidArgument: (field ``entities``) an unknown file type, or no such file.
    """
    if is_sql(source):
        return source.strip()
    path = Path(source).expanduser()
    if path.is_dir():
        return str(path.resolve())  # a folder of parquet files
    if path.suffix.lower() not in ENTITY_FORMATS:
        raise InvalidArgument(
            f"entities {source!r}: give a .parquet, .csv, .json or .jsonl file, a folder of "
            "parquet files, or a SQL query (SELECT ... or WITH ...)",
            details={"field": "entities"},
        )
    if not path.is_file():
        raise InvalidArgument(f"entities: no such file: {path}", details={"field": "entities"})
    return str(path.resolve())


def parse_as_of(value: str | datetime | None) -> datetime | None:
    """An ISO 8601 time (a date means its midnight) in UTC; a time without a zone is UTC.

    Raises:
        InvalidArgument: (field ``as_of``) text that is not such a time.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidArgument(
                f"as_of {value!r} is not an ISO 8601 time, such as 2026-03-01 or "
                "2026-03-01T12:00:00Z",
                details={"field": "as_of"},
            ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_entities(source: str) -> pa.Table:
    """The entity rows of ``source`` (a path or a SQL query) as an Arrow table.

    Raises:
        InvalidArgument: (field ``entities``) an unknown file type, no such file, an
            unreadable file or a failing query.
    """
    import pyarrow as pa

    if is_sql(source):
        from griffin.features.training import read_entity_rows

        try:
            table = read_entity_rows(source)
        except InvalidArgument as exc:
            raise InvalidArgument(exc.message, details={"field": "entities"}) from None
    else:
        path = Path(check_entities(source))
        suffix = path.suffix.lower()
        try:
            if path.is_dir() or suffix == ".parquet":
                import pyarrow.parquet as pq

                table = pq.read_table(path)
            elif suffix == ".csv":
                import pyarrow.csv as pacsv

                table = pacsv.read_csv(path)
            else:
                import pandas as pd

                frame = pd.read_json(path, lines=suffix == ".jsonl")
                table = pa.Table.from_pandas(frame, preserve_index=False)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise InvalidArgument(
                f"entities {path}: cannot read it: {exc}", details={"field": "entities"}
            ) from None
    # The writer's schema is the output's: pandas metadata of the input's own columns would
    # describe a different table.
    return table.replace_schema_metadata(None)


# -- the model's inputs -------------------------------------------------------------------------


def _input_names(version: ModelVersion) -> list[str]:
    return [str(c["name"]) for c in (version.signature or {}).get("inputs", [])]


def model_inputs(
    client: Client,
    version: ModelVersion,
    rows: pa.Table,
    *,
    as_of: datetime | None = None,
    online_features: bool | None = None,
    chunk_size: int,
) -> Inputs:
    """The model's input columns for ``rows``: from the rows, or with the version's feature
    service joined on (see the module's description for which time the features are as of).

    Raises:
        InvalidArgument: the rows lack inputs and there is no feature service to read them
            from (or ``online_features=False``), lack a join key (field ``entities``), or
            ``as_of`` is given with ``online_features=True`` (field ``as_of``).
    """
    needed = _input_names(version)
    missing = [c for c in needed if c not in rows.column_names]
    service = version.lineage.feature_service
    if online_features is False or (online_features is None and not missing):
        if missing:
            raise InvalidArgument(
                f"entities: the rows lack the input column(s) {', '.join(missing)} of "
                f"{version.name} v{version.version}; give them, or let Griffin read them from "
                "the feature service (leave out --no-online-features)",
                details={"field": "entities", "missing": missing},
            )
        return Inputs(_only(rows, needed), "given", None)
    if service is None:
        raise InvalidArgument(
            f"entities: the rows lack the input column(s) {', '.join(missing)} of "
            f"{version.name} v{version.version}, which was not trained on a feature service "
            "to read them from: give every input column",
            details={"field": "entities", "missing": missing},
        )
    if rows.num_rows == 0:
        return Inputs(rows, "given", None)
    if online_features:
        if as_of is not None:
            raise InvalidArgument(
                "as_of: the online store holds only the newest values; leave out "
                "--online-features to read the features as of a time",
                details={"field": "as_of"},
            )
        features = _online(client, version, service, rows, chunk_size)
        kind, moment = "online", None
    else:
        features, kind, moment = _offline(client, version, service, rows, as_of)
    combined = rows
    for name in features.column_names:
        if name not in combined.column_names:  # the rows' own values win
            combined = combined.append_column(name, features[name])
    absent = [c for c in needed if c not in combined.column_names]
    if absent:
        raise InvalidArgument(
            f"feature service {service!r} no longer gives the input column(s) "
            f"{', '.join(absent)} of {version.name} v{version.version}; give them in the rows",
            details={"field": "entities", "missing": absent},
        )
    return Inputs(_only(combined, needed), kind, moment, _rows_without(features))


def _only(table: pa.Table, columns: list[str]) -> pa.Table:
    """The model's input columns (all columns when its signature is unknown)."""
    return table.select(columns) if columns else table


def _rows_without(features: pa.Table) -> int:
    """How many rows got no feature value at all (no fresh row in any view)."""
    import pyarrow.compute as pc

    mask = None
    for column in features.columns:
        null = pc.is_null(column)
        mask = null if mask is None else pc.and_(mask, null)
    return 0 if mask is None else int(pc.sum(mask).as_py() or 0)


def _timestamp_column(client: Client, version: ModelVersion) -> str:
    """The event time column of the version's training data (``event_timestamp`` if unknown)."""
    lineage = version.lineage
    if lineage.dataset is None:
        return DEFAULT_TIMESTAMP_COLUMN
    try:
        return client.get_dataset(lineage.dataset, lineage.dataset_version).event_timestamp_column
    except NotFound:  # the dataset was deleted since
        return DEFAULT_TIMESTAMP_COLUMN


def _offline(
    client: Client,
    version: ModelVersion,
    service: str,
    rows: pa.Table,
    as_of: datetime | None,
) -> tuple[pa.Table, str, datetime | None]:
    """The service's feature columns for ``rows`` from the offline sources, point-in-time."""
    import numpy as np
    import pyarrow as pa

    from griffin.features.selection import select

    selection = select(client.feature_definitions(), service)
    absent = [k for k in selection.join_keys if k not in rows.column_names]
    if absent:
        raise InvalidArgument(
            f"entities: the rows have no join key column {', '.join(map(repr, absent))} of "
            f"feature service {service!r}",
            details={"field": "entities", "missing": absent},
        )
    # The rows go in without columns the join adds (they would collide); their values win later.
    join = rows.select([c for c in rows.column_names if c not in selection.columns])
    column = _timestamp_column(client, version)
    if as_of is None and column in rows.column_names:
        kind = "point-in-time"
        join = join.set_column(
            join.column_names.index(column), column, _timestamps(join[column], column)
        )
    else:
        kind = "latest" if as_of is None else "as-of"
        as_of = as_of or datetime.now(UTC)
        moment = np.datetime64(as_of.replace(tzinfo=None), "us")
        column = _AS_OF
        join = join.append_column(
            column, pa.array(np.full(join.num_rows, moment), pa.timestamp("us", tz="UTC"))
        )
    built = client.get_training_data(
        join, service, event_timestamp_column=column, definitions=client.version_features(version)
    )
    return built.table.select(list(built.lineage.feature_columns)), kind, as_of


def _timestamps(values: Any, column: str) -> Any:
    """The rows' event times as timestamps (ISO 8601 text from a CSV or JSON file is parsed)."""
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_timestamp(values.type):
        return values
    if pa.types.is_date(values.type):
        return values.cast(pa.timestamp("us"))
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        try:
            parsed = pd.to_datetime(values.to_pandas(), utc=True, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise InvalidArgument(
                f"entities: column {column!r} holds text that is not an ISO 8601 time: {exc}",
                details={"field": column},
            ) from None
        return pa.array(parsed, pa.timestamp("us", tz="UTC"))
    raise InvalidArgument(
        f"entities: column {column!r} must hold timestamps (or ISO 8601 text), got {values.type}",
        details={"field": column},
    )


def _online(
    client: Client, version: ModelVersion, service: str, rows: pa.Table, chunk_size: int
) -> pa.Table:
    """The service's newest feature values from the online store, ``chunk_size`` rows a read
    (on-demand views run the version's own code, as in :func:`_offline`)."""
    import pyarrow as pa

    code = client.version_features(version)
    parts = []
    for offset in range(0, rows.num_rows, chunk_size):
        chunk = rows.slice(offset, chunk_size)
        found = client.get_online_features(service, chunk, definitions=code).to_arrow()
        parts.append(found.select([c for c in found.column_names if c not in rows.column_names]))
    return pa.concat_tables(parts)
