"""Model definition specs: validation, JSON round trips, fingerprints, plans and diffs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from griffin.domain.features import SpecChange
from griffin.domain.model_definitions import (
    DefinitionDiff,
    ModelDefinition,
    ModelDefinitionSpec,
    ModelPlan,
    ModelPlanItem,
    check_code_digest,
    check_entry,
    check_git_commit,
)
from griffin.errors import InvalidArgument


def spec(**changes: object) -> ModelDefinitionSpec:
    base: dict[str, object] = {
        "name": "delivery_eta",
        "entry": "model.py:train",
        "runtime": "sklearn-1",
        "features": "eta_service",
        "target": "eta_minutes",
        "task": "regression",
        "params": {"n_estimators": 100, "max_depth": 6, "lr": 0.1, "warm": True, "x": None},
        "owner": "eta-team",
        "description": "Predicts delivery time.",
        "tags": {"team": "eta"},
    }
    return ModelDefinitionSpec.from_json({**base, **changes})


def test_round_trip_and_fingerprint_is_stable() -> None:
    first = spec()
    again = ModelDefinitionSpec.from_json(first.to_json())
    assert again == first
    assert again.fingerprint() == first.fingerprint()
    assert len(first.fingerprint()) == 64
    # Key order does not matter; values do (1 and 1.0 are different JSON).
    reordered = spec(
        params={"x": None, "warm": True, "lr": 0.1, "max_depth": 6, "n_estimators": 100}
    )
    assert reordered.fingerprint() == first.fingerprint()
    assert spec(params={"max_depth": 7}).fingerprint() != first.fingerprint()
    assert spec(description="other").fingerprint() != first.fingerprint()


def test_minimal_spec_has_defaults() -> None:
    minimal = ModelDefinitionSpec.from_json({"name": "m", "entry": "a/b.py:fit"})
    assert minimal.runtime is None
    assert minimal.task is None
    assert minimal.params == {}
    assert minimal.tags == {}


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"name": "has space"}, "invalid model name"),
        ({"name": "1abc"}, "invalid model name"),
        ({"task": "ranking"}, "task must be one of classification, regression"),
        ({"params": {"layers": [1, 2]}}, "JSON scalar"),
        ({"params": {"lr": float("nan")}}, "finite"),
        ({"params": {"": 1}}, "params"),
        ({"params": [1]}, "must be a dict"),
        ({"runtime": "Sklearn 1"}, "runtime"),
        ({"features": "no-dashes"}, "features"),
        ({"target": ""}, "target"),
        ({"tags": {"a": 1}}, "tags"),
        ({"owner": 5}, "owner"),
        ({"entry": "model.py"}, "not an entry point"),
        ({"entry": "/abs/model.py:train"}, "not an entry point"),
        ({"entry": "../model.py:train"}, "not an entry point"),
        ({"entry": "model.txt:train"}, "not an entry point"),
        ({"entry": "model.py:not-a-name"}, "not an entry point"),
        ({"unknown": 1}, "is not a field"),
    ],
)
def test_bad_specs_are_refused(changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        spec(**changes)


def test_missing_required_fields() -> None:
    with pytest.raises(InvalidArgument, match="entry is required"):
        ModelDefinitionSpec.from_json({"name": "m"})


def test_digest_and_commit_checks() -> None:
    assert check_code_digest("") == ""
    assert check_code_digest("a" * 64) == "a" * 64
    with pytest.raises(InvalidArgument, match="64 lower-case hex"):
        check_code_digest("A" * 64)
    with pytest.raises(InvalidArgument):
        check_code_digest("../" + "a" * 61)
    assert check_git_commit("abc1234") == "abc1234"
    with pytest.raises(InvalidArgument, match="git commit"):
        check_git_commit("main")
    assert check_entry("pkg/sub/model.py:train") == "pkg/sub/model.py:train"


def test_definition_json_round_trip_gives_back_the_spec() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    data = {
        "project": "default",
        **spec().to_json(),
        "version": 2,
        "latest_version": 3,
        "fingerprint": spec().fingerprint(),
        "code_digest": "b" * 64,
        "git_commit": "abc1234",
        "created_by": "ann",
        "created_at": now.isoformat(),
        "updated_at": "2026-01-02T00:00:00",
        "versions": [
            {
                "version": 1,
                "fingerprint": "f",
                "code_digest": "",
                "git_commit": "",
                "created_by": "ann",
                "created_at": now.isoformat(),
                "change": "created",
            }
        ],
    }
    found = ModelDefinition.from_json(data)
    assert found.spec == spec()
    assert found.updated_at.tzinfo is not None
    assert found.versions[0].change == "created"


def test_plan_and_diff_from_json() -> None:
    item = ModelPlanItem(
        "update",
        "m",
        1,
        2,
        (SpecChange("params.lr", "changed", 0.1, 0.2),),
        True,
        "a" * 64,
        "b" * 64,
    )
    assert item.describe() == "params.lr: 0.1 -> 0.2; code aaaaaaaaaaaa -> bbbbbbbbbbbb"
    plan = ModelPlan("default", (item, ModelPlanItem("unchanged", "n", 1)), "b" * 64)
    assert plan.has_changes
    assert "1 to update, 1 unchanged" in plan.summary()
    data = {
        "project": "default",
        "items": [
            {
                "action": "update",
                "name": "m",
                "version": 1,
                "new_version": 2,
                "changes": [{"path": "task", "op": "added", "new": "regression"}],
                "code_changed": False,
            }
        ],
        "applied": True,
    }
    rebuilt = ModelPlan.from_json(data)
    assert rebuilt.applied
    assert rebuilt.items[0].changes[0].new == "regression"
    diff = DefinitionDiff.from_json(
        {
            "project": "p",
            "name": "m",
            "from_version": 1,
            "to_version": 2,
            "code_changed": True,
            "files_compared": True,
            "files": [{"path": "a.py", "op": "added", "new_size": 3}],
        }
    )
    assert diff.files[0].op == "added"
    assert diff.files[0].old_size is None
