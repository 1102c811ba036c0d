"""Data checks a feature view declares: pure spec objects, evaluated later in DuckDB.

Each check names the columns it reads (``columns``) so a feature view can refuse a check on a
column it does not have, and reduces to a canonical ``spec()`` stored with the view. Build them
with the lower-case helpers::

    checks=[not_null("trips"), in_range("rating", min=0, max=5), freshness(timedelta(hours=2))]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from .common import check_identifier, fail, seconds, spec_field, unknown_name

__all__ = [
    "Allowed",
    "Check",
    "Freshness",
    "InRange",
    "MaxNullFraction",
    "NotNull",
    "Unique",
    "allowed",
    "check_from_spec",
    "freshness",
    "in_range",
    "max_null_fraction",
    "not_null",
    "unique",
]

Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Check:
    """Base of every check: ``name`` is the check's type, ``columns`` the columns it reads."""

    name: ClassVar[str] = ""

    @property
    def columns(self) -> tuple[str, ...]:
        return ()

    def spec(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class NotNull(Check):
    """No row may have a null ``column``."""

    name: ClassVar[str] = "not_null"
    column: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def spec(self) -> dict[str, Any]:
        return {"check": self.name, "column": self.column}


@dataclass(frozen=True, slots=True)
class InRange(Check):
    """Every non-null ``column`` value lies in ``[min, max]`` (either bound may be open)."""

    name: ClassVar[str] = "in_range"
    column: str
    min: int | float | None = None
    max: int | float | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def spec(self) -> dict[str, Any]:
        return {"check": self.name, "column": self.column, "max": self.max, "min": self.min}


@dataclass(frozen=True, slots=True)
class Allowed(Check):
    """Every non-null ``column`` value is one of ``values`` (kept sorted and de-duplicated)."""

    name: ClassVar[str] = "allowed"
    column: str
    values: tuple[Scalar, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def spec(self) -> dict[str, Any]:
        return {"check": self.name, "column": self.column, "values": list(self.values)}


@dataclass(frozen=True, slots=True)
class Unique(Check):
    """No two rows share the same values of ``columns`` (e.g. the join keys and timestamp)."""

    name: ClassVar[str] = "unique"
    keys: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.keys

    def spec(self) -> dict[str, Any]:
        return {"check": self.name, "columns": list(self.keys)}


@dataclass(frozen=True, slots=True)
class MaxNullFraction(Check):
    """At most ``fraction`` (0 to 1) of the rows in a batch may have a null ``column``."""

    name: ClassVar[str] = "max_null_fraction"
    column: str
    fraction: float

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def spec(self) -> dict[str, Any]:
        return {"check": self.name, "column": self.column, "fraction": self.fraction}


@dataclass(frozen=True, slots=True)
class Freshness(Check):
    """The newest event timestamp in the source is at most ``max_age`` old."""

    name: ClassVar[str] = "freshness"
    max_age: timedelta

    def spec(self) -> dict[str, Any]:
        return {"check": self.name, "max_age_seconds": self.max_age.total_seconds()}


def not_null(column: str) -> NotNull:
    """Fail a batch in which any row has a null ``column``."""
    return NotNull(check_identifier(column, where="check not_null", field="column"))


def in_range(column: str, min: float | None = None, max: float | None = None) -> InRange:
    """Fail a batch with a ``column`` value below ``min`` or above ``max`` (nulls pass)."""
    where = "check in_range"
    check_identifier(column, where=where, field="column")
    for field, bound in (("min", min), ("max", max)):
        if bound is not None and (
            isinstance(bound, bool)
            or not isinstance(bound, int | float)
            or not math.isfinite(bound)
        ):
            raise fail(where, field, f"must be a finite number or None, got {bound!r}")
    if min is None and max is None:
        raise fail(where, "min/max", "are both None: give at least one bound")
    if min is not None and max is not None and min > max:
        raise fail(where, "min", f"({min}) is greater than max ({max})")
    return InRange(column, min, max)


def allowed(column: str, values: Iterable[Scalar]) -> Allowed:
    """Fail a batch with a ``column`` value outside ``values`` (nulls pass)."""
    where = "check allowed"
    check_identifier(column, where=where, field="column")
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise fail(where, "values", "must be a list of values")
    items = list(values)
    if not items:
        raise fail(where, "values", "is empty: list at least one allowed value")
    # One JSON type per check, so the values sort and compare the same way everywhere.
    if all(isinstance(v, bool) for v in items):
        kept: list[Scalar] = sorted(set(items))
    elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in items):
            raise fail(where, "values", "must be finite numbers")
        kept = sorted(set(items))
    elif all(isinstance(v, str) for v in items):
        kept = sorted(set(items))
    else:
        raise fail(where, "values", "must be all strings, all numbers or all booleans")
    return Allowed(column, tuple(kept))


def unique(columns: str | Iterable[str]) -> Unique:
    """Fail a batch in which two rows share the same ``columns`` values."""
    where = "check unique"
    names = [columns] if isinstance(columns, str) else list(columns)
    if not names:
        raise fail(where, "columns", "is empty: name at least one column")
    for name in names:
        check_identifier(name, where=where, field="columns")
    if len(set(names)) != len(names):
        raise fail(where, "columns", f"lists a column twice: {names}")
    # Uniqueness does not depend on the order of the key columns: keep one canonical order.
    return Unique(tuple(sorted(names)))


def max_null_fraction(column: str, fraction: float) -> MaxNullFraction:
    """Fail a batch in which more than ``fraction`` of the rows have a null ``column``."""
    where = "check max_null_fraction"
    check_identifier(column, where=where, field="column")
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        raise fail(where, "fraction", f"must be a number, got {fraction!r}")
    if not 0 <= fraction <= 1:
        raise fail(where, "fraction", f"must be between 0 and 1, got {fraction}")
    return MaxNullFraction(column, float(fraction))


def freshness(max_age: timedelta) -> Freshness:
    """Fail when the newest event timestamp is older than ``max_age``."""
    seconds(max_age, where="check freshness", field="max_age")
    return Freshness(max_age)


def check_from_spec(spec: Mapping[str, Any]) -> Check:
    """Rebuild a check from its ``spec()`` (validating it again)."""
    name = spec_field(spec, "check", "check", str)
    if name == "not_null":
        return not_null(spec_field(spec, "column", "check", str))
    if name == "in_range":
        return in_range(spec_field(spec, "column", "check", str), spec.get("min"), spec.get("max"))
    if name == "allowed":
        return allowed(
            spec_field(spec, "column", "check", str), spec_field(spec, "values", "check", list)
        )
    if name == "unique":
        return unique(spec_field(spec, "columns", "check", list))
    if name == "max_null_fraction":
        column = spec_field(spec, "column", "check", str)
        return max_null_fraction(column, spec_field(spec, "fraction", "check", (int, float)))
    if name == "freshness":
        age = spec_field(spec, "max_age_seconds", "check", (int, float))
        return freshness(timedelta(seconds=age))
    names = ["not_null", "in_range", "allowed", "unique", "max_null_fraction", "freshness"]
    raise unknown_name("check spec", "check", name, names)
