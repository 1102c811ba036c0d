"""MLflow's search filters, order_by clauses and page tokens for the registry and logged models.

The grammar is MLflow's: comparisons joined by ``AND``, each ``<identifier> <op> <value>``. An
identifier is an attribute (``name``, or ``attributes.name``) or ``tags.<key>``/``params.<key>``
(``tag.``/``param.`` too), a key with dots or spaces in backticks or double quotes
(``tags.`mlflow.prompt.is_prompt```). Values are quoted strings, numbers, or a parenthesised
list for ``IN``/``NOT IN``. Comparisons become SQL conditions; tags and params are JSON columns,
read with the dialect's JSON operator (``->>`` on PostgreSQL, ``json_extract`` on SQLite).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from sqlalchemy import ColumnElement, false, func, not_, or_, true

from griffin.errors import InvalidArgument
from griffin.tracking.pages import decode_cursor, encode_cursor

__all__ = [
    "Clause",
    "condition",
    "json_text",
    "max_results",
    "next_token",
    "offset",
    "order_by",
    "parse",
    "timestamp",
]

_KINDS = {
    "tags": "tag",
    "tag": "tag",
    "params": "param",
    "param": "param",
    "metrics": "metric",
    "metric": "metric",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
}
_WORD = re.compile(r"\s*([A-Za-z_]\w*)")
_BARE_KEY = re.compile(r"[\w.\-/:]+")
_OP = re.compile(r"\s*(<=|>=|!=|=|<|>|(?i:not\s+in\b|ilike\b|like\b|in\b))")
_NUMBER = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)")
_AND = re.compile(r"\s+(?i:and)\b")
# Tag and param keys as Griffin stores them (griffin.domain.validation); any other key matches
# nothing, and could not be put in a JSON path safely on every backend.
_STORED_KEY = re.compile(r"[A-Za-z0-9_\-. /:]{1,250}")
_ORDER = re.compile(r"\s*(.+?)(?:\s+(?i:(asc|desc)))?\s*")


@dataclass(frozen=True, slots=True)
class Clause:
    """One comparison: ``kind`` is attribute, tag, param or metric; ``value`` a string, a
    number (numeric attributes), or a tuple of strings (IN, NOT IN)."""

    kind: str
    key: str
    op: str
    value: str | float | tuple[str, ...]


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> NoReturn:
        raise InvalidArgument(
            f"Invalid filter '{self.text[:200]}': {message} (at position {self.pos})",
            details={"field": "filter"},
        )

    def take(self, pattern: re.Pattern[str]) -> str | None:
        match = pattern.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return match.group(1) if pattern.groups else match.group()

    def quoted(self) -> str | None:
        """A string in single, double or back quotes (a doubled or backslashed quote inside)."""
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1
        if self.pos >= len(self.text) or self.text[self.pos] not in "'\"`":
            return None
        quote, i, out = self.text[self.pos], self.pos + 1, []
        while i < len(self.text):
            char = self.text[i]
            if char == "\\" and i + 1 < len(self.text) and self.text[i + 1] in "\\'\"`":
                out.append(self.text[i + 1])
                i += 2
            elif char == quote and self.text.startswith(quote * 2, i):
                out.append(quote)
                i += 2
            elif char == quote:
                self.pos = i + 1
                return "".join(out)
            else:
                out.append(char)
                i += 1
        self.fail(f"the string opened with {quote} is not closed")

    def identifier(self) -> tuple[str, str]:
        word = self.take(_WORD)
        if word is None:
            self.fail("expected an identifier such as name or tags.<key>")
        if not self.text.startswith(".", self.pos):
            return "attribute", word
        kind = _KINDS.get(word.lower())
        if kind is None:
            self.fail(f"unknown entity {word!r}: use tags.<key>, params.<key> or an attribute")
        self.pos += 1
        key = self.quoted() if self.text[self.pos : self.pos + 1] in ("`", '"') else None
        if key is None:
            key = self.take(_BARE_KEY)
        if not key:
            self.fail(f"expected a key after '{word}.'")
        return kind, key

    def value(self, op: str) -> str | float | tuple[str, ...]:
        if op in ("IN", "NOT IN"):
            if self.take(re.compile(r"\s*\(")) is None:
                self.fail(f"expected '(' after {op}")
            items: list[str] = []
            while True:
                item = self.quoted()
                if item is None:
                    self.fail(f"expected a quoted string in the list after {op}")
                items.append(item)
                if self.take(re.compile(r"\s*,")) is None:
                    break
            if self.take(re.compile(r"\s*\)")) is None:
                self.fail(f"expected ')' to close the list after {op}")
            return tuple(items)
        text = self.quoted()
        if text is not None:
            return text
        number = self.take(_NUMBER)
        if number is None:
            self.fail("expected a quoted string or a number")
        return float(number)


def parse(
    text: str | None,
    *,
    attributes: Mapping[str, str],
    numeric: frozenset[str] = frozenset(),
    kinds: frozenset[str] = frozenset({"tag"}),
) -> list[Clause]:
    """Parse ``text``; ``attributes`` maps the names accepted (and their aliases) to one name,
    ``numeric`` lists those compared as numbers, ``kinds`` the key-value entities allowed."""
    if text is None or not text.strip():
        return []
    reader = _Reader(text)
    clauses: list[Clause] = []
    while True:
        kind, key = reader.identifier()
        if kind == "attribute":
            if key not in attributes:
                known = ", ".join(sorted(attributes))
                reader.fail(f"unknown attribute {key!r}; searchable attributes are {known}")
            key = attributes[key]
        elif kind not in kinds:
            reader.fail(f"{kind}s cannot be searched here")
        elif not _STORED_KEY.fullmatch(key):
            reader.fail(f"invalid {kind} key {key[:80]!r}: keys hold letters, digits, _ - . / :")
        raw_op = reader.take(_OP)
        if raw_op is None:
            reader.fail("expected an operator (=, !=, LIKE, ILIKE, IN, NOT IN, <, >...)")
        op = " ".join(raw_op.upper().split())
        value = reader.value(op)
        is_number = kind == "attribute" and key in numeric
        if is_number and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                reader.fail(f"{key} is compared with a number, not {value!r}")
        if not is_number and isinstance(value, float):
            reader.fail(f"{key} holds strings: quote the value")
        if op in ("<", "<=", ">", ">=") and not is_number:
            reader.fail(f"{op} compares numbers; {key} holds strings")
        if op in ("LIKE", "ILIKE", "IN", "NOT IN") and is_number:
            reader.fail(f"{op} compares strings; {key} is a number")
        clauses.append(Clause(kind, key, op, value))
        if reader.pos >= len(text.rstrip()):
            return clauses
        if reader.take(_AND) is None:
            reader.fail("comparisons must be joined by AND")


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
