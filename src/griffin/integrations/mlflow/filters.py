"""SQL for MLflow's searches of the registry and logged models: filters, order_by, page tokens.

Filters are parsed by :func:`griffin.domain.search.parse_filter` (over each search's
:class:`~griffin.domain.search.Fields`); here its comparisons become SQL conditions. Tags and
params are JSON columns, read with the dialect's JSON operator (``->>`` on PostgreSQL,
``json_extract`` on SQLite).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, false, func, not_, or_, true

from griffin.domain.search import Comparison
from griffin.errors import InvalidArgument
from griffin.tracking.pages import decode_cursor, encode_cursor

__all__ = [
    "condition",
    "json_text",
    "key_condition",
    "max_results",
    "next_token",
    "offset",
    "order_by",
    "timestamp",
]

# Tag and param keys as Griffin stores them (griffin.domain.validation); any other key matches
# nothing, and could not be put in a JSON path safely on every backend.
_STORED_KEY = re.compile(r"[A-Za-z0-9_\-. /:]{1,250}")
_ORDER = re.compile(r"\s*(.+?)(?:\s+(?i:(asc|desc)))?\s*")


def json_text(column: Any, key: str) -> Any:
    """The text under ``key`` of a JSON object column, NULL when absent."""
    return column[key].as_string()


def condition(column: Any, op: str, value: object, *, nullable: bool = False) -> Any:
    """``column op value`` in SQL. With ``nullable`` (a JSON key that may be absent), ``!=`` and
    ``NOT IN`` also match rows without the key, as MLflow's searches do: the client excludes
    prompts with ``tags.`mlflow.prompt.is_prompt` != 'true'``, which every plain model meets."""
    cond: ColumnElement[bool]
    if op == "IN":
        assert isinstance(value, tuple)
        cond = column.in_(value) if value else false()
    elif op == "NOT IN":
        assert isinstance(value, tuple)
        cond = not_(column.in_(value)) if value else true()
    elif op == "LIKE":
        cond = column.like(value, escape="\\")
    elif op == "ILIKE":
        cond = func.lower(column).like(func.lower(value), escape="\\")
    else:
        cond = {
            "=": column.__eq__,
            "!=": column.__ne__,
            "<": column.__lt__,
            "<=": column.__le__,
            ">": column.__gt__,
            ">=": column.__ge__,
        }[op](value)
    if nullable and op in ("!=", "NOT IN"):
        return or_(column.is_(None), cond)
    return cond


def key_condition(column: Any, comparison: Comparison) -> Any:
    """``comparison`` (on a tag or param) over the text under its key in the JSON ``column``."""
    key = comparison.key
    if not _STORED_KEY.fullmatch(key):
        raise InvalidArgument(
            f"invalid filter: invalid {comparison.entity} key {key[:80]!r}: keys hold letters, "
            "digits, spaces and _ - . / :",
            details={"field": "filter"},
        )
    text = json_text(column, key)
    return condition(text, comparison.op, comparison.value, nullable=True)


def timestamp(value: object) -> datetime:
    """Epoch milliseconds (MLflow's timestamps) as the aware datetime the store compares."""
    assert isinstance(value, float)
    return datetime.fromtimestamp(value / 1000, UTC)


def order_by(clauses: Sequence[str], columns: Mapping[str, Any]) -> list[Any]:
    """``["name ASC", "creation_timestamp DESC"]`` as ORDER BY terms over ``columns``."""
    terms = []
    for clause in clauses:
        match = _ORDER.fullmatch(clause)
        field = match.group(1).strip() if match else ""
        field = field.removeprefix("attributes.").removeprefix("attribute.")
        if field not in columns:
            raise InvalidArgument(
                f"Invalid order_by clause '{clause[:100]}': order by one of "
                f"{', '.join(sorted(columns))}, optionally followed by ASC or DESC",
                details={"field": "order_by"},
            )
        descending = bool(match and match.group(2) and match.group(2).upper() == "DESC")
        terms.append(columns[field].desc() if descending else columns[field].asc())
    return terms


def max_results(value: int | None, default: int, limit: int) -> int:
    if value is None:
        return default
    if not 1 <= value <= limit:
        raise InvalidArgument(
            f"Invalid value {value} for parameter 'max_results' supplied: it must be between "
            f"1 and {limit}",
            details={"field": "max_results"},
        )
    return value


def offset(page_token: str | None) -> int:
    """The offset a page token carries (MLflow's own tokens are offsets too)."""
    if not page_token:
        return 0
    found = decode_cursor(page_token, 1)[0]
    if not isinstance(found, int) or found < 0:
        raise InvalidArgument("invalid page_token", details={"field": "page_token"})
    return found


def next_token(start: int, returned: int, more: bool) -> str:
    return encode_cursor([start + returned]) if more else ""
