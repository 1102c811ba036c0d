"""Model-registry rules: model and alias names, model references, promotion gates, JSON."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from griffin.domain.registry import (
    AliasEvent,
    FeatureUse,
    Lineage,
    ModelVersion,
    check_alias,
    check_model_name,
    parse_gate,
    parse_model_ref,
)
from griffin.errors import InvalidArgument


@pytest.mark.parametrize("name", ["delivery_eta", "_x", "eta-v2.1", "a" * 128])
def test_valid_model_names(name: str) -> None:
    assert check_model_name(name) == name


@pytest.mark.parametrize("name", ["", "1eta", "-eta", "eta model", "eta@x", "eta/1", "a" * 129])
def test_invalid_model_names(name: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid model name"):
        check_model_name(name)


@pytest.mark.parametrize("alias", ["champion", "c2", "shadow-eu_1"])
def test_valid_aliases(alias: str) -> None:
    assert check_alias(alias) == alias


@pytest.mark.parametrize("alias", ["", "my champion", "2", "-x", "a" * 65, "x.y"])
def test_invalid_aliases(alias: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid alias"):
        check_alias(alias)


@pytest.mark.parametrize("alias", ["latest", "Latest"])
def test_latest_is_reserved(alias: str) -> None:
    with pytest.raises(InvalidArgument, match="reserved"):
        check_alias(alias)


def test_model_references() -> None:
    assert parse_model_ref("eta@champion") == ("eta", "champion")
    assert parse_model_ref("eta@latest") == ("eta", "latest")
    assert parse_model_ref("eta/12") == ("eta", "12")
    for bad in ("eta", "eta/x", "eta@", "bad name@champion", "/3"):
        with pytest.raises(InvalidArgument):
            parse_model_ref(bad)


def test_gates_pass_fail_and_missing_metrics() -> None:
    gate = parse_gate(" auc >= 0.85 ")
    assert (gate.metric, gate.op, gate.threshold) == ("auc", ">=", 0.85)
    assert str(gate) == "auc>=0.85"
    assert gate.check({"auc": 0.85}) is None
    assert gate.check({"auc": 0.8}) == "auc>=0.85: auc is 0.8"
    assert gate.check({"rmse": 1.0}) == "auc>=0.85: the version has no metric 'auc'"
    assert gate.check({"auc": math.nan}) is not None  # NaN never passes
    assert parse_gate("rmse<2").check({"rmse": 1.5}) is None
    assert parse_gate("n!=0").check({"n": 0}) is not None
    for bad in ("auc", "auc=>0.8", "auc>=high", "auc>=inf", ">=1"):
        with pytest.raises(InvalidArgument, match="invalid requirement"):
            parse_gate(bad)


def test_lineage_round_trips_and_rejects_bad_items() -> None:
    lineage = Lineage(
        job_id="j1",
        dataset="eta_training",
        dataset_version=3,
        features=(FeatureUse("driver_stats", 2, ("conv_rate",)),),
        code_digest="sha256:abc",
        runtime="sklearn-1",
    )
    assert Lineage.from_json(lineage.to_json()) == lineage
    assert Lineage.from_json(None) == Lineage()
    with pytest.raises(InvalidArgument, match="needs a 'view'"):
        Lineage.from_json({"features": [{"version": 1}]})
    with pytest.raises(InvalidArgument, match="must be an integer"):
        Lineage.from_json({"dataset_version": "three"})


def test_model_version_from_json_and_run_source() -> None:
    at = datetime(2026, 11, 23, tzinfo=UTC)
    version = ModelVersion.from_json(
        {
            "name": "eta",
            "version": 4,
            "source": "runs:/r123/model",
            "flavor": "sklearn",
            "metrics": {"auc": 0.9},
            "created_at": "2026-11-23T00:00:00",  # naive: read as UTC
            "aliases": ["champion"],
        }
    )
    assert (version.run_id, version.artifact_path, version.is_run_source) == ("r123", "model", True)
    assert version.created_at == at
    assert version.aliases == ("champion",)
    assert version.lineage == Lineage()


def test_alias_event_actions() -> None:
    at = datetime(2026, 11, 23, tzinfo=UTC)
    events = [
        AliasEvent("champion", None, 1, "ana", at),
        AliasEvent("champion", 1, 2, "ana", at),
        AliasEvent("champion", 2, None, "ana", at),
    ]
    assert [e.action for e in events] == ["set", "moved", "deleted"]
