"""Data check specs (griffin.features.checks): argument validation and round trips."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from griffin.errors import InvalidArgument
from griffin.features.checks import (
    Check,
    allowed,
    check_from_spec,
    freshness,
    in_range,
    max_null_fraction,
    not_null,
    unique,
)


@pytest.mark.parametrize(
    "check",
    [
        not_null("a"),
        in_range("a", min=0),
        in_range("a", max=1.5),
        in_range("a", -1, 1),
        allowed("a", ["y", "x", "x"]),
        allowed("a", [3, 1.5]),
        allowed("a", [True]),
        unique(["b", "a"]),
        unique("a"),
        max_null_fraction("a", 0.25),
        freshness(timedelta(hours=2)),
    ],
)
def test_round_trip(check: Check) -> None:
    spec = check.spec()
    assert spec["check"] == check.name
    again = check_from_spec(spec)
    assert again == check
    assert again.spec() == spec


def test_canonical_forms() -> None:
    assert allowed("a", ["y", "x", "x"]).values == ("x", "y")
    assert unique(["b", "a"]).spec() == {"check": "unique", "columns": ["a", "b"]}
    assert freshness(timedelta(minutes=1)).spec() == {"check": "freshness", "max_age_seconds": 60.0}
    assert in_range("a", 0, 1).columns == ("a",)
    assert freshness(timedelta(1)).columns == ()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: not_null("bad col"), "check not_null: column 'bad col' is not a valid name"),
        (lambda: in_range("a"), "check in_range: min/max are both None"),
        (lambda: in_range("a", 2, 1), r"min \(2\) is greater than max \(1\)"),
        (lambda: in_range("a", True), "min must be a finite number"),
        (lambda: in_range("a", max=float("inf")), "max must be a finite number"),
        (lambda: allowed("a", []), "check allowed: values is empty"),
        (lambda: allowed("a", "abc"), "values must be a list"),
        (lambda: allowed("a", ["x", 1]), "all strings, all numbers or all booleans"),
        (lambda: allowed("a", [1, True]), "all strings, all numbers or all booleans"),
        (lambda: allowed("a", [float("nan")]), "must be finite numbers"),
        (lambda: unique([]), "check unique: columns is empty"),
        (lambda: unique(["a", "a"]), "lists a column twice"),
        (lambda: max_null_fraction("a", 1.5), "fraction must be between 0 and 1, got 1.5"),
        (lambda: max_null_fraction("a", -0.1), "between 0 and 1"),
        (lambda: max_null_fraction("a", "x"), "fraction must be a number"),
        (lambda: freshness(timedelta(0)), "check freshness: max_age must be positive"),
        (lambda: freshness(60), "max_age must be a datetime.timedelta"),
        (lambda: check_from_spec({"check": "not_nul"}), "did you mean 'not_null'"),
    ],
)
def test_bad_arguments(build: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        build()
