"""Run-search filters and ordering: an MLflow-compatible grammar parsed into a small AST.

A **filter** is one or more comparisons joined by ``AND`` (``OR`` and parentheses are not
supported; run one search per alternative). A blank filter matches every run::

    metrics.acc > 0.9 AND params.model = 'resnet' AND tags.team LIKE 'vision%'
    attributes.status IN ('RUNNING', 'SCHEDULED') AND attributes.start_time >= 1700000000000

Each comparison is ``<entity>.<key> <operator> <value>``:

* **entity** (any case): ``params``/``param``, ``metrics``/``metric``, ``tags``/``tag`` or
  ``attributes``/``attribute``/``attr``/``run``.
* **key**: letters, digits and ``_ - . / :`` (``params.model.lr`` is the param ``model.lr``), or
  any text in backticks or double quotes: ``params.`learning rate```, ``tags."my tag"``.
* **attributes**: ``status`` (RUNNING, FINISHED, FAILED, KILLED, SCHEDULED; any case),
  ``run_name``/``name``, ``run_id``/``id``, ``user``/``user_id``, ``experiment_id`` and the
  times ``start_time``/``created_at`` and ``end_time``/``ended_at`` (epoch milliseconds).
* **operators**: numbers (metrics, times) take ``= != < <= > >=``; strings (params, tags and
  the other attributes) take ``= != LIKE ILIKE IN NOT IN``. ``LIKE`` is case-sensitive,
  ``ILIKE`` is not; ``%`` matches any text and ``_`` one character. ``IN`` and ``NOT IN`` take a
  parenthesised, comma-separated list: ``attributes.run_id IN ('a1', 'b2')``.
* **values**: strings in single or double quotes (write a quote inside as ``\\'`` or ``''``, a
  backslash as ``\\\\``; other backslashes, such as ``\\%`` in a LIKE pattern, are kept as
  written); numbers such as ``3``, ``-0.5``, ``1e-3``. Params and tags are strings, so quote
  numbers (``params.lr = '0.01'``); metrics are numbers, so do not quote them.

Limits: 8,000 characters, 50 comparisons, 1,000 values per ``IN`` list.

The same grammar filters MLflow's other searches (experiments, registered models, model
versions, logged models), each over its own fields (a :class:`Fields`): there an attribute may
be written without a prefix (``name LIKE 'churn%'`` is ``attributes.name LIKE 'churn%'``), and
for model versions and logged models a number may also be quoted (``version_number = '3'``).

An **order_by** list holds up to 10 clauses ``<identifier> [ASC|DESC]`` (ascending by default),
e.g. ``["metrics.acc DESC", "start_time"]``; the attributes ``start_time``/``created_at``,
``end_time``/``ended_at``, ``run_name``/``name`` and ``status`` may be written without a prefix.

Errors raise :class:`~griffin.errors.InvalidArgument` naming the offending text and its
position (a 0-based character offset).
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NoReturn

from griffin.errors import InvalidArgument

__all__ = [
    "MAX_CLAUSES",
    "MAX_FILTER_LENGTH",
    "MAX_IN_VALUES",
    "MAX_ORDER_BY",
    "RUN_FIELDS",
    "RUN_STATUSES",
    "Comparison",
    "Entity",
    "Fields",
    "OrderBy",
    "parse_filter",
    "parse_order_by",
]

Entity = Literal["param", "metric", "tag", "attribute"]

MAX_FILTER_LENGTH = 8_000
MAX_CLAUSES = 50
MAX_IN_VALUES = 1_000
MAX_ORDER_BY = 10
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


@dataclass(frozen=True, slots=True)
class Comparison:
    """One ``<entity>.<key> <op> <value>`` comparison, with names normalised.

    ``op`` is one of ``= != < <= > >= LIKE ILIKE IN NOT IN``; ``value`` is a float for numeric
    fields, a tuple of strings for ``IN``/``NOT IN`` and a string otherwise.
    """

    entity: Entity
    key: str
    op: str
    value: str | float | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OrderBy:
    """One ordering clause, with names normalised."""

    entity: Entity
    key: str
    descending: bool


@dataclass(frozen=True, slots=True)
class Fields:
    """What one kind of search may filter on (:data:`RUN_FIELDS` is run search's).

    ``attributes`` maps each attribute name or alias, in lower case (names match in any case),
    to the name comparisons carry; ``numeric`` lists those names compared as numbers;
    ``choices`` those that hold one of a few values (upper case; matched in any case and
    upper-cased, unless by LIKE/ILIKE). ``entities`` are the key-value entities allowed besides
    attributes. With ``bare``, an identifier without a prefix (``name``) is an attribute; with
    ``quoted_numbers``, a numeric field may also be compared with a quoted number (``'3'``).
    """

    attributes: Mapping[str, str]
    numeric: frozenset[str] = frozenset()
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    entities: frozenset[Entity] = frozenset({"tag"})
    bare: bool = False
    quoted_numbers: bool = False


_ENTITIES: dict[str, Entity] = {
    **dict.fromkeys(("params", "param"), "param"),
    **dict.fromkeys(("metrics", "metric"), "metric"),
    **dict.fromkeys(("tags", "tag"), "tag"),
    **dict.fromkeys(("attributes", "attribute", "attr", "run"), "attribute"),
}
_ATTRIBUTES: dict[str, str] = {
    "status": "status",
    "run_name": "name",
    "name": "name",
    "run_id": "id",
    "id": "id",
    "user": "user",
    "user_id": "user",
    "experiment_id": "experiment_id",
    "start_time": "created_at",
    "created_at": "created_at",
    "end_time": "ended_at",
    "ended_at": "ended_at",
}
RUN_FIELDS = Fields(
    attributes=_ATTRIBUTES,
    numeric=frozenset({"created_at", "ended_at"}),
    choices={"status": RUN_STATUSES},
    entities=frozenset({"param", "metric", "tag"}),
)
_BARE_ORDER_BY = frozenset(
    {"start_time", "created_at", "end_time", "ended_at", "name", "run_name", "status"}
)
_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_\-./:]+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])")
_SYMBOL_OP = re.compile(r"<=|>=|!=|=|<|>")
_WORD_OP = re.compile(r"(?i)(?:NOT\s+IN|I?LIKE|IN)\b")
_CONNECTIVE = re.compile(r"(?i)(?:AND|OR)\b")
_DIRECTION = re.compile(r"(?i)(?:ASC|DESC)\b")
_TOKEN = re.compile(r"""'(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|[<>!]=|[^\s=!<>(),'"]+|\S""")
_ESCAPABLE = "\\'\"`"


class _Scanner:
    """A cursor over the input that reads one token at a time and reports errors in place."""

    def __init__(self, text: str, field: str, what: str) -> None:
        self.text = text
        self.pos = 0
        self.field = field
        self.what = what

    def fail(self, message: str, pos: int | None = None) -> NoReturn:
        at = self.pos if pos is None else pos
        raise InvalidArgument(
            f"invalid {self.what} at position {at}: {message}", details={"field": self.field}
        )

    def found(self) -> str:
        """The token at the cursor, quoted for an error message."""
        self.skip_ws()
        match = _TOKEN.match(self.text, self.pos)
        if match is None:
            return "end of input"
        token = match.group()
        return repr(token if len(token) <= 40 else token[:40] + "...")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_ws()
        return self.pos >= len(self.text)

    def peek(self, chars: str) -> bool:
        self.skip_ws()
        return self.pos < len(self.text) and self.text[self.pos] in chars

    def take(self, pattern: re.Pattern[str]) -> str | None:
        self.skip_ws()
        match = pattern.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return match.group()

    def quoted(self) -> str:
        """Read the string whose opening quote is at the cursor and return its content."""
        text, start = self.text, self.pos
        quote, i, out = text[start], start + 1, []
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPABLE:
                out.append(text[i + 1])
                i += 2
            elif char == quote and text.startswith(quote * 2, i):
                out.append(quote)
                i += 2
            elif char == quote:
                self.pos = i + 1
                return "".join(out)
            else:
                out.append(char)
                i += 1
        snippet = text[start : start + 30] + ("..." if len(text) > start + 30 else "")
        self.fail(f"unterminated string {snippet!r}: missing the closing {quote}", start)

    def identifier(
        self, fields: Fields, bare: Container[str] = frozenset()
    ) -> tuple[Entity, str, str]:
        """Read ``<entity>.<key>`` (or a bare attribute, if ``fields.bare`` or it is in
        ``bare``): entity, key, source text."""
        self.skip_ws()
        start = self.pos
        word = self.take(_WORD)
        if word is None:
            self.fail(f"expected an identifier such as 'metrics.acc', found {self.found()}")
        entity: Entity
        if self.text.startswith(".", self.pos):
            entity_or_none = _ENTITIES.get(word.lower())
            if entity_or_none is None:
                self.fail(f"unknown entity {word!r}; use {_entity_names(fields)}", start)
            entity = entity_or_none
            if entity != "attribute" and entity not in fields.entities:
                self.fail(f"{word!r} cannot be searched here; use {_entity_names(fields)}", start)
            self.pos += 1
            key_start = self.pos
            if self.pos < len(self.text) and self.text[self.pos] in '`"':
                key = self.quoted()
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                if match is None:
                    self.fail(f"expected a key after {word + '.'!r}, found {self.found()}")
                key, self.pos = match.group(), match.end()
            if not key:
                self.fail(f"empty key after {word + '.'!r}", start)
        elif fields.bare or word.lower() in bare:
            entity, key, key_start = "attribute", word, start
        else:
            known = word.lower() in fields.attributes
            hint = f"; did you mean 'attributes.{word}'?" if known else ""
            self.fail(
                f"expected '<entity>.<key>' such as 'metrics.acc', found {word!r}{hint}", start
            )
        if entity == "attribute":
            if key.lower() not in fields.attributes:
                valid = ", ".join(sorted(fields.attributes))
                self.fail(f"unknown attribute {key!r}; valid attributes are: {valid}", key_start)
            key = fields.attributes[key.lower()]
        return entity, key, self.text[start : self.pos]


def _entity_names(fields: Fields) -> str:
    """``params, metrics, tags or attributes``: the entities ``fields`` allows."""
    names = [f"{e}s" for e in ("param", "metric", "tag") if e in fields.entities]
    return ", ".join(names) + (" or " if names else "") + "attributes"


def _string(s: _Scanner, ident: str) -> str:
    s.skip_ws()
    start = s.pos
    if s.peek("'\""):
        return s.quoted()
    number = s.take(_NUMBER)
    if number is not None:
        s.fail(f"{ident} holds strings, found the number {number}: quote it as '{number}'", start)
    s.fail(f"expected a quoted string after the operator for {ident}, found {s.found()}")


def _number(s: _Scanner, ident: str, quoted: bool) -> float:
    s.skip_ws()
    start = s.pos
    if s.peek("'\""):
        text = s.quoted()
        source = s.text[start : s.pos]
        if quoted:
            try:
                return float(text)
            except ValueError:
                s.fail(f"{ident} holds numbers, found {source!r}", start)
        s.fail(
            f"{ident} holds numbers, so compare it with an unquoted number, found {source!r}", start
        )
    number = s.take(_NUMBER)
    if number is None:
        s.fail(f"expected a number after the operator for {ident}, found {s.found()}")
    return float(number)


def _in_list(s: _Scanner, ident: str, op: str) -> tuple[str, ...]:
    if not s.peek("("):
        s.fail(f"expected '(' to open the list of values after {op}, found {s.found()}")
    s.pos += 1
    if s.peek(")"):
        s.fail(f"empty list after {op}: give at least one value")
    values: list[str] = []
    while True:
        if len(values) == MAX_IN_VALUES:
            s.fail(f"too many values after {op}: at most {MAX_IN_VALUES} are allowed")
        values.append(_string(s, ident))
        if s.peek(","):
            s.pos += 1
        elif s.peek(")"):
            s.pos += 1
            return tuple(values)
        else:
            s.fail(f"expected ',' or ')' in the list of values, found {s.found()}")


def _choice(
    s: _Scanner, key: str, choices: tuple[str, ...], value: str | tuple[str, ...], op: str, pos: int
) -> str | tuple[str, ...]:
    values = (value,) if isinstance(value, str) else value
    upper = tuple(v.upper() for v in values)
    if op not in ("LIKE", "ILIKE"):
        for raw, norm in zip(values, upper, strict=True):
            if norm not in choices:
                s.fail(f"unknown {key} {raw!r}; valid values are: {', '.join(choices)}", pos)
    return upper[0] if isinstance(value, str) else upper


def _comparison(s: _Scanner, fields: Fields) -> Comparison:
    entity, key, ident = s.identifier(fields)
    s.skip_ws()
    op_pos = s.pos
    raw_op = s.take(_SYMBOL_OP) or s.take(_WORD_OP)
    if raw_op is None:
        s.fail(f"expected a comparison operator after {ident!r}, found {s.found()}")
    op = " ".join(raw_op.upper().split())
    numeric = entity == "metric" or (entity == "attribute" and key in fields.numeric)
    allowed = _NUMERIC_OPS if numeric else _STRING_OPS
    if op not in allowed:
        s.fail(
            f"operator {op!r} cannot be used with {ident}; use one of {', '.join(allowed)}", op_pos
        )
    s.skip_ws()
    value_pos = s.pos
    value: str | float | tuple[str, ...]
    if numeric:
        value = _number(s, ident, fields.quoted_numbers)
    elif op in ("IN", "NOT IN"):
        value = _in_list(s, ident, op)
    else:
        value = _string(s, ident)
    choices = fields.choices.get(key) if entity == "attribute" else None
    if choices is not None and not isinstance(value, float):
        value = _choice(s, key, choices, value, op, value_pos)
    return Comparison(entity, key, op, value)


def parse_filter(text: str | None, *, fields: Fields = RUN_FIELDS) -> tuple[Comparison, ...]:
    """Parse a filter over ``fields`` (run search's by default); ``None`` or a blank string
    gives ``()`` (match everything).

    Raises:
        InvalidArgument: the filter is malformed or over a limit; the message names the
            offending token and its 0-based character position.
    """
    if text is None or not text.strip():
        return ()
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidArgument(
            f"invalid filter: {len(text)} characters is over the limit of {MAX_FILTER_LENGTH}",
            details={"field": "filter"},
        )
    s = _Scanner(text, "filter", "filter")
    clauses = [_comparison(s, fields)]
    while not s.at_end():
        word_pos = s.pos
        word = s.take(_CONNECTIVE)
        if word is None:
            s.fail(f"expected AND or the end of the filter, found {s.found()}")
        if word.upper() == "OR":
            s.fail(f"{word!r} is not supported: only AND can join comparisons", word_pos)
        if len(clauses) == MAX_CLAUSES:
            s.fail(f"too many comparisons: at most {MAX_CLAUSES} are allowed", word_pos)
        clauses.append(_comparison(s, fields))
    return tuple(clauses)


def parse_order_by(clauses: Sequence[str] | None) -> tuple[OrderBy, ...]:
    """Parse order_by clauses such as ``["metrics.acc DESC", "start_time"]``.

    ``None`` or an empty list gives ``()``; a lone string is taken as one clause.

    Raises:
        InvalidArgument: a clause is malformed, or there are more than ``MAX_ORDER_BY``.
    """
    if not clauses:
        return ()
    if isinstance(clauses, str):
        clauses = [clauses]
    if len(clauses) > MAX_ORDER_BY:
        raise InvalidArgument(
            f"invalid order_by: {len(clauses)} clauses is over the limit of {MAX_ORDER_BY}",
            details={"field": "order_by"},
        )
    result: list[OrderBy] = []
    for index, clause in enumerate(clauses):
        s = _Scanner(clause, "order_by", f"order_by[{index}] {clause!r}")
        entity, key, _ = s.identifier(RUN_FIELDS, bare=_BARE_ORDER_BY)
        descending = False
        if not s.at_end():
            direction = s.take(_DIRECTION)
            if direction is None:
                s.fail(f"expected ASC or DESC after the identifier, found {s.found()}")
            descending = direction.upper() == "DESC"
            if not s.at_end():
                s.fail(f"unexpected text after {direction!r}, found {s.found()}")
        result.append(OrderBy(entity, key, descending))
    return tuple(result)
