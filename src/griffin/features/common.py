"""What every feature definition shares: value types, features, name rules, errors, specs.

Every definition object (entity, source, feature view, on-demand view, service) reduces to a
canonical JSON-able ``spec()``: sorted keys, timedeltas as seconds, enums as strings and other
definitions referenced by name. The registry stores one row per object version and diffs specs;
``fingerprint()`` is the sha256 of the canonical bytes, identical across processes.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from types import UnionType
from typing import Any, ClassVar, Protocol, get_args, runtime_checkable

import orjson

from griffin.domain.validation import check_tags
from griffin.errors import InvalidArgument

__all__ = [
    "MAX_IDENTIFIER_LENGTH",
    "Definition",
    "Feature",
    "FeatureType",
    "Resolver",
    "canonical",
    "check_identifier",
    "check_items",
    "check_kind",
    "check_meta",
    "fail",
    "fingerprint_of",
    "resolved",
    "seconds",
    "spec_field",
    "unknown_name",
]

MAX_IDENTIFIER_LENGTH = 128
# Feature, column, join-key and object names end up inside SQL that DuckDB runs (and in online
# store keys), so they are restricted to plain SQL-safe identifiers: no quoting is ever needed.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
JsonScalar = str | int | float | bool | None


class FeatureType(StrEnum):
    """The value type of a feature, join key or request field.

    Timestamps are timezone-aware UTC (naive values are read as UTC).
    """

    BOOL = "bool"
    INT32 = "int32"
    INT64 = "int64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"
    BYTES = "bytes"
    TIMESTAMP = "timestamp"

    @property
    def is_numeric(self) -> bool:
        """True for the integer and floating-point types."""
        return self in {self.INT32, self.INT64, self.FLOAT32, self.FLOAT64}

    def arrow_type(self) -> Any:
        """The matching ``pyarrow.DataType`` (pyarrow is imported only when this is called)."""
        import pyarrow as pa

        factories: dict[FeatureType, Callable[[], Any]] = {
            FeatureType.BOOL: pa.bool_,
            FeatureType.INT32: pa.int32,
            FeatureType.INT64: pa.int64,
            FeatureType.FLOAT32: pa.float32,
            FeatureType.FLOAT64: pa.float64,
            FeatureType.STRING: pa.string,
            FeatureType.BYTES: pa.binary,
            FeatureType.TIMESTAMP: lambda: pa.timestamp("us", tz="UTC"),
        }
        return factories[self]()

    @classmethod
    def parse(cls, value: object, *, where: str) -> FeatureType:
        """A ``FeatureType`` from itself or its name; ``where`` names the field for errors."""
        if isinstance(value, FeatureType):
            return value
        if isinstance(value, str):
            try:
                return cls(value.lower())
            except ValueError:
                pass
        raise unknown_name(where, "type", str(value), [t.value for t in cls])


@dataclass(frozen=True, slots=True, init=False)
class Feature:
    """One feature column of a view.

    Args:
        name: the column's name in the source (and in training data and online responses).
        dtype: its ``FeatureType`` or the type's name (``"float64"``).
        description: free text shown in the catalog.
        default: the value served when an entity has no (fresh) row; ``None`` serves null.
            Must match ``dtype``; ``bytes`` and ``timestamp`` features take no default.
    """

    name: str
    dtype: FeatureType
    description: str
    default: JsonScalar

    def __init__(
        self,
        name: str,
        dtype: FeatureType | str,
        description: str = "",
        default: JsonScalar = None,
    ) -> None:
        where = f"feature {name!r}"
        check_identifier(name, where=where, field="name")
        parsed = FeatureType.parse(dtype, where=f"{where} dtype")
        check_meta(where, description, "", None)
        if default is not None and not _default_fits(parsed, default):
            raise fail(where, "default", f"{default!r} does not fit dtype {parsed}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "dtype", parsed)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "default", default)

    def spec(self) -> dict[str, Any]:
        return {
            "default": self.default,
            "description": self.description,
            "dtype": str(self.dtype),
            "name": self.name,
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Feature:
        return cls(
            spec_field(spec, "name", "feature", str),
            spec_field(spec, "dtype", "feature", str),
            spec_field(spec, "description", "feature", str),
            spec.get("default"),
        )


def _default_fits(dtype: FeatureType, value: object) -> bool:
    if dtype is FeatureType.BOOL:
        return isinstance(value, bool)
    if dtype in {FeatureType.INT32, FeatureType.INT64}:
        bits = 31 if dtype is FeatureType.INT32 else 63
        return (
            isinstance(value, int) and not isinstance(value, bool) and -(2**bits) <= value < 2**bits
        )
    if dtype in {FeatureType.FLOAT32, FeatureType.FLOAT64}:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if dtype is FeatureType.STRING:
        return isinstance(value, str)
    return False


Resolver = Callable[[str, str], Any]
"""Looks up another definition by ``(kind, name)`` while rebuilding one from its spec."""


@runtime_checkable
class Definition(Protocol):
    """What the registry needs from every definition object."""

    kind: ClassVar[str]

    @property
    def name(self) -> str: ...

    def spec(self) -> dict[str, Any]: ...

    def fingerprint(self) -> str: ...


def fail(where: str, field: str, problem: str) -> InvalidArgument:
    """An ``InvalidArgument`` for ``where`` (e.g. ``feature view 'trips'``) and one field."""
    return InvalidArgument(f"{where}: {field} {problem}", details={"object": where, "field": field})


def unknown_name(where: str, what: str, name: str, known: Iterable[str]) -> InvalidArgument:
    """``where`` has no ``what`` called ``name``: suggest the closest known names."""
    known = sorted(set(known))
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
    elif known:
        shown = ", ".join(repr(k) for k in known[:10])
        hint = f"known: {shown}" + (", ..." if len(known) > 10 else "")
    else:
        hint = "none is defined"
    return InvalidArgument(
        f"{where}: unknown {what} {name!r}; {hint}",
        details={"object": where, "field": what, "name": name, "close_matches": close},
    )


def check_identifier(value: object, *, where: str, field: str) -> str:
    """A SQL-safe identifier: ``[A-Za-z_][A-Za-z0-9_]*``, at most 128 characters."""
    if not isinstance(value, str):
        raise fail(where, field, f"must be a string, got {type(value).__name__}")
    if not value or len(value) > MAX_IDENTIFIER_LENGTH or not _IDENTIFIER.fullmatch(value):
        raise fail(
            where,
            field,
            f"{value[:40]!r} is not a valid name: use 1 to {MAX_IDENTIFIER_LENGTH} letters, "
            "digits and underscores, not starting with a digit",
        )
    return value


def check_meta(
    where: str, description: object, owner: object, tags: Mapping[str, str] | None
) -> dict[str, str]:
    """Validate the description/owner/tags trio every definition has; return the tags."""
    for field, value in (("description", description), ("owner", owner)):
        if not isinstance(value, str):
            raise fail(where, field, f"must be a string, got {type(value).__name__}")
    if tags is None:
        return {}
    if not isinstance(tags, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise fail(where, "tags", "must be a dict of strings to strings")
    try:
        return dict(check_tags(dict(tags)))
    except InvalidArgument as exc:
        raise fail(where, "tags", exc.message) from None


def seconds(value: object, *, where: str, field: str) -> float:
    """A positive ``timedelta`` as seconds (how specs store durations)."""
    if not isinstance(value, timedelta):
        raise fail(where, field, f"must be a datetime.timedelta, got {type(value).__name__}")
    if value <= timedelta(0):
        raise fail(where, field, f"must be positive, got {value}")
    return value.total_seconds()


def canonical(value: Any) -> Any:
    """``value`` with every dict's keys sorted (recursively) and tuples as lists."""
    if isinstance(value, Mapping):
        return {str(k): canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, StrEnum):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidArgument(f"non-finite number {value} cannot be stored in a spec")
    return value


def fingerprint_of(spec: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON bytes of ``spec``: stable across processes and runs."""
    return hashlib.sha256(orjson.dumps(canonical(spec), option=orjson.OPT_SORT_KEYS)).hexdigest()


def spec_field(spec: Mapping[str, Any], key: str, kind: str, types: type | tuple[type, ...]) -> Any:
    """``spec[key]``, checked to be one of ``types``; a malformed spec is an InvalidArgument."""
    if not isinstance(spec, Mapping):
        raise InvalidArgument(f"a {kind} spec must be a dict, got {type(spec).__name__}")
    if key not in spec:
        raise InvalidArgument(f"{kind} spec {spec.get('name', '?')!r} has no {key!r} field")
    value = spec[key]
    if not isinstance(value, types):
        raise InvalidArgument(
            f"{kind} spec {spec.get('name', '?')!r}: field {key!r} has the wrong type "
            f"({type(value).__name__})"
        )
    return value


def check_kind(spec: Mapping[str, Any], kind: str) -> None:
    """Raise unless ``spec`` is a spec of ``kind``."""
    found = spec_field(spec, "kind", kind, str)
    if found != kind:
        raise InvalidArgument(f"expected a {kind} spec, got a {found} spec")


def resolved(resolve: Resolver | None, kind: str, name: str, expected: type, where: str) -> Any:
    """Look up ``(kind, name)`` with ``resolve`` while rebuilding ``where`` from its spec."""
    if resolve is None:
        raise fail(where, "resolve", f"is needed to look up {kind} {name!r}")
    found = resolve(kind, name)
    if not isinstance(found, expected):
        raise fail(where, kind, f"{name!r} did not resolve to a {expected.__name__}")
    return found


def check_items(
    values: object, cls: type | UnionType, where: str, field: str, *, allow_empty: bool = False
) -> tuple[Any, ...]:
    """``values`` as a tuple, checked to be a list of ``cls`` (non-empty unless allowed)."""
    name = (
        " or ".join(c.__name__ for c in get_args(cls))
        if isinstance(cls, UnionType)
        else cls.__name__
    )
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise fail(where, field, f"must be a list of {name} objects")
    items = tuple(values)
    if not items and not allow_empty:
        raise fail(where, field, f"is empty: give at least one {name}")
    for item in items:
        if not isinstance(item, cls):
            raise fail(where, field, f"must hold {name} objects, got {type(item).__name__}")
    return items
