"""Hyper-parameter sweeps: the search space, the trials it expands to, and the best trial.

A sweep file (YAML or JSON)::

    method: random          # grid | random
    metric: auc             # a metric the trials log (ctx.log_metric) or evaluate
    goal: maximize          # maximize | minimize
    max_trials: 12          # random only (grid runs every combination, up to the limit)
    parallel: 2             # trials running at the same time
    seed: 0
    params:
      max_depth: [4, 6, 8]                                   # a list: grid values / choices
      n_estimators: {min: 50, max: 400, type: int}           # random: an integer range
      learning_rate: {min: 0.01, max: 0.3, log: true}        # random: log-uniform
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from griffin.domain.validation import check_key
from griffin.errors import InvalidArgument

__all__ = ["MAX_TRIALS", "Range", "SweepSpec", "Trial", "best_trial"]

MAX_TRIALS = 200
Scalar = str | int | float | bool | None
_KEYS = {"method", "metric", "goal", "max_trials", "parallel", "seed", "params"}


def _bad(field_name: str, problem: str) -> InvalidArgument:
    return InvalidArgument(
        f"invalid sweep: {field_name} {problem}", details={"field": f"sweep.{field_name}"}
    )


@dataclass(frozen=True, slots=True)
class Range:
    """A numeric range sampled by random search (uniform, or log-uniform with ``log``)."""

    low: float
    high: float
    integer: bool = False
    log: bool = False

    def sample(self, rng: random.Random) -> int | float:
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return round(value) if self.integer else value

    def to_json(self) -> dict[str, Any]:
        return {
            "min": self.low,
            "max": self.high,
            "type": "int" if self.integer else "float",
            "log": self.log,
        }


def _dimension(name: str, value: Any) -> tuple[Scalar, ...] | Range:
    where = f"params.{name}"
    if isinstance(value, list):
        if not value or not all(
            v is None or isinstance(v, str | int | float | bool) for v in value
        ):
            raise _bad(where, "must be a non-empty list of numbers, strings or booleans")
        return tuple(value)
    if isinstance(value, Mapping):
        unknown = set(value) - {"min", "max", "type", "log"}
        if unknown:
            raise _bad(where, f"has unknown key {sorted(unknown)[0]!r} (use min, max, type, log)")
        low, high = value.get("min"), value.get("max")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
            raise _bad(where, "needs numeric min and max")
        assert isinstance(low, int | float)
        assert isinstance(high, int | float)
        if not low < high:
            raise _bad(where, "needs min < max")
        kind = value.get("type", "float")
        if kind not in {"int", "float"}:
            raise _bad(where, "type must be int or float")
        log = bool(value.get("log", False))
        if log and low <= 0:
            raise _bad(where, "with log: true needs min > 0")
        return Range(float(low), float(high), integer=kind == "int", log=log)
    if value is None or isinstance(value, str | int | float | bool):
        return (value,)  # a fixed value
    raise _bad(where, "must be a list of values, a {min, max} range, or one value")


@dataclass(frozen=True, slots=True)
class Trial:
    """One point of the search: its number (from 0) and its parameters."""

    number: int
    params: dict[str, Scalar]


@dataclass(frozen=True, slots=True)
class SweepSpec:
    """A validated sweep; :meth:`trials` expands it."""

    metric: str
    space: dict[str, tuple[Scalar, ...] | Range]
    method: str = "grid"
    goal: str = "maximize"
    max_trials: int = 20
    parallel: int = 2
    seed: int = 0
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> SweepSpec:
        if not isinstance(data, Mapping):
            raise InvalidArgument("invalid sweep: it must be a mapping (YAML or JSON object)")
        unknown = set(data) - _KEYS
        if unknown:
            raise _bad(sorted(unknown)[0], f"is not a sweep field ({', '.join(sorted(_KEYS))})")
        method = data.get("method", "grid")
        if method not in {"grid", "random"}:
            raise _bad("method", "must be grid or random")
        metric = data.get("metric")
        if not isinstance(metric, str):
            raise _bad("metric", "is required: the metric that picks the best trial")
        check_key(metric, field="sweep metric")
        goal = data.get("goal", "maximize")
        if goal not in {"maximize", "minimize"}:
            raise _bad("goal", "must be maximize or minimize")
        numbers = {}
        for key, default, low, high in (
            ("max_trials", 20, 1, MAX_TRIALS),
            ("parallel", 2, 1, 32),
            ("seed", 0, 0, 2**31 - 1),
        ):
            value = data.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise _bad(key, f"must be an integer from {low} to {high}")
            numbers[key] = value
        params = data.get("params")
        if not isinstance(params, Mapping) or not params:
            raise _bad("params", "is required: the parameters to search")
        space = {}
        for name, value in params.items():
            check_key(str(name), field="sweep param")
            space[str(name)] = _dimension(str(name), value)
        if method == "grid" and any(isinstance(d, Range) for d in space.values()):
            raise _bad("params", "of a grid sweep must be lists (ranges need method: random)")
        return cls(
            metric=metric,
            space=space,
            method=method,
            goal=goal,
            raw=dict(data),
            **numbers,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "metric": self.metric,
            "goal": self.goal,
            "max_trials": self.max_trials,
            "parallel": self.parallel,
            "seed": self.seed,
            "params": {
                k: v.to_json() if isinstance(v, Range) else list(v) for k, v in self.space.items()
            },
        }

    def trials(self) -> list[Trial]:
        """Every combination (grid; more than ``max_trials`` is refused), or ``max_trials``
        seeded random draws (random)."""
        names = list(self.space)
        if self.method == "grid":
            values = [v for v in self.space.values() if isinstance(v, tuple)]
            count = math.prod(len(v) for v in values)
            if count > self.max_trials:
                raise _bad(
                    "params",
                    f"make {count} grid combinations, more than max_trials ({self.max_trials}): "
                    "raise max_trials or use method: random",
                )
            combos = itertools.product(*values)
            return [Trial(i, dict(zip(names, c, strict=True))) for i, c in enumerate(combos)]
        rng = random.Random(self.seed)
        out = []
        for i in range(self.max_trials):
            params: dict[str, Scalar] = {}
            for name in names:
                dimension = self.space[name]
                params[name] = (
                    dimension.sample(rng) if isinstance(dimension, Range) else rng.choice(dimension)
                )
            out.append(Trial(i, params))
        return out


def best_trial(
    results: Sequence[tuple[Trial, Mapping[str, float] | None]], metric: str, goal: str
) -> tuple[Trial, float] | None:
    """The trial with the best value of ``metric`` among those that have one (NaN ignored)."""
    scored = [
        (trial, float(metrics[metric]))
        for trial, metrics in results
        if metrics is not None and metric in metrics and not math.isnan(float(metrics[metric]))
    ]
    if not scored:
        return None
    pick = max if goal == "maximize" else min
    return pick(scored, key=lambda pair: pair[1])
