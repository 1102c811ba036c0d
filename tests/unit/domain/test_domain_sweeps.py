"""Sweep files: validation, grid and seeded random expansion, picking the best trial."""

from __future__ import annotations

import math

import pytest

from griffin.domain.jobs import JobSpec
from griffin.domain.sweeps import Range, SweepSpec, Trial, best_trial
from griffin.errors import InvalidArgument


def test_grid_expands_every_combination_in_order() -> None:
    spec = SweepSpec.from_json(
        {"metric": "auc", "params": {"depth": [4, 6], "loss": ["a", "b"], "fixed": 3}}
    )
    assert [t.params for t in spec.trials()] == [
        {"depth": 4, "loss": "a", "fixed": 3},
        {"depth": 4, "loss": "b", "fixed": 3},
        {"depth": 6, "loss": "a", "fixed": 3},
        {"depth": 6, "loss": "b", "fixed": 3},
    ]


def test_random_is_seeded_and_respects_ranges() -> None:
    raw = {
        "method": "random",
        "metric": "rmse",
        "goal": "minimize",
        "max_trials": 30,
        "seed": 5,
        "params": {
            "n": {"min": 10, "max": 20, "type": "int"},
            "lr": {"min": 0.001, "max": 0.1, "log": True},
            "kind": ["x", "y"],
        },
    }
    first, again = SweepSpec.from_json(raw).trials(), SweepSpec.from_json(raw).trials()
    assert first == again
    assert len(first) == 30
    for trial in first:
        assert isinstance(trial.params["n"], int)
        assert 10 <= trial.params["n"] <= 20
        assert 0.001 <= float(trial.params["lr"] or 0) <= 0.1
        assert trial.params["kind"] in {"x", "y"}
    assert SweepSpec.from_json({**raw, "seed": 6}).trials() != first
    assert isinstance(SweepSpec.from_json(raw).space["lr"], Range)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"params": {"a": [1]}}, "metric is required"),
        ({"metric": "m"}, "params is required"),
        ({"metric": "m", "method": "bayes", "params": {"a": [1]}}, "grid or random"),
        ({"metric": "m", "params": {"a": {"min": 0, "max": 1}}}, "ranges need method: random"),
        ({"metric": "m", "method": "random", "params": {"a": {"min": 2, "max": 1}}}, "min < max"),
        (
            {"metric": "m", "method": "random", "params": {"a": {"min": 0, "max": 1, "log": True}}},
            "min > 0",
        ),
        ({"metric": "m", "params": {"a": []}}, "non-empty list"),
        ({"metric": "m", "params": {"a": [1]}, "parallel": 0}, "parallel must be"),
        ({"metric": "m", "params": {"a": [1]}, "trials": 3}, "trials is not a sweep field"),
    ],
)
def test_bad_sweeps_are_refused_with_the_field(raw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        SweepSpec.from_json(raw)


def test_a_grid_larger_than_max_trials_is_refused_at_submission() -> None:
    sweep = {"metric": "m", "max_trials": 3, "params": {"a": [1, 2], "b": [1, 2]}}
    with pytest.raises(InvalidArgument, match="4 grid combinations, more than max_trials"):
        JobSpec.from_json({"model": "x", "kind": "sweep", "sweep": sweep})
    with pytest.raises(InvalidArgument, match="required for a sweep job"):
        JobSpec.from_json({"model": "x", "kind": "sweep"})
    with pytest.raises(InvalidArgument, match="only for jobs of kind 'sweep'"):
        JobSpec.from_json({"model": "x", "sweep": {**sweep, "max_trials": 4}})


def test_best_trial_by_goal_skips_failed_and_nan() -> None:
    trials = [Trial(i, {"a": i}) for i in range(4)]
    results = [
        (trials[0], {"auc": 0.7}),
        (trials[1], None),
        (trials[2], {"auc": math.nan}),
        (trials[3], {"auc": 0.9}),
    ]
    assert best_trial(results, "auc", "maximize") == (trials[3], 0.9)
    assert best_trial(results, "auc", "minimize") == (trials[0], 0.7)
    assert best_trial(results, "rmse", "minimize") is None
