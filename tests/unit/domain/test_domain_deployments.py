"""Deployment configurations: parsing, every check, and merging a change."""

from __future__ import annotations

from typing import Any

import pytest

from griffin.domain.deployments import DeploymentConfig, TrafficRoute, check_deployment_name
from griffin.errors import InvalidArgument


def test_a_single_reference_takes_all_the_traffic() -> None:
    config = DeploymentConfig.parse({"model": "eta@champion"})
    assert config.model == "eta"
    assert config.traffic == (TrafficRoute("eta@champion", 100),)
    assert config.shadows == ()
    assert (config.workers, config.max_batch_size, config.max_latency_ms) == (1, 32, 2.0)
    assert DeploymentConfig.parse(config.to_json()) == config


def test_a_canary_with_a_shadow() -> None:
    config = DeploymentConfig.parse(
        {
            "model": "eta",
            "traffic": {"eta@champion": 90, "eta@challenger": 10},
            "shadows": ["eta/3"],
            "sticky_key": "customer_id",
            "max_batch_size": 64,
            "max_latency_ms": 5,
        }
    )
    assert [(r.ref, r.weight) for r in config.traffic] == [
        ("eta@champion", 90),
        ("eta@challenger", 10),
    ]
    assert config.refs == ("eta@champion", "eta@challenger", "eta/3")
    assert config.max_latency_ms == 5.0
    assert DeploymentConfig.parse(config.to_json()) == config


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "needs a model"),
        ({"model": "eta"}, "invalid model reference"),
        ({"model": "eta@champion", "replica": 2}, "unknown deployment field"),
        ({"traffic": {"eta@a": 50, "eta@b": 40}}, "add up to 90"),
        ({"traffic": {"eta@a": 50, "other@b": 50}}, "must name the same model"),
        ({"model": "other", "traffic": {"eta@a": 100}}, "does not match"),
        ({"traffic": [{"ref": "eta@a", "weight": 100}, {"ref": "eta@a", "weight": 0}]}, "twice"),
        ({"traffic": {"eta@a": 100.5}}, "must be an integer"),
        ({"traffic": []}, "non-empty"),
        ({"model": "eta@a", "shadows": ["eta@a"]}, "both in the traffic and a shadow"),
        ({"model": "eta@a", "shadows": ["other/1"]}, "must name the same model"),
        ({"model": "eta@a", "shadows": "eta/1"}, "list of model references"),
        ({"model": "eta@a", "workers": 0}, "workers must be an integer from 1 to 64"),
        ({"model": "eta@a", "max_batch_size": True}, "max_batch_size must be an integer"),
        ({"model": "eta@a", "max_latency_ms": 5000}, "from 0 to 1000"),
        ({"model": "eta@a", "backend": "lambda"}, "unknown deployment backend"),
        ({"model": "eta@a", "sticky_key": "user id"}, "request field's name"),
        ({"model": "eta@a", "allow_degraded": "yes"}, "true or false"),
    ],
)
def test_bad_configurations_are_refused_with_the_reason(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        DeploymentConfig.parse(spec)


def test_merging_a_new_reference_replaces_the_traffic() -> None:
    config = DeploymentConfig.parse(
        {
            "model": "eta",
            "traffic": {"eta@champion": 90, "eta@challenger": 10},
            "shadows": ["eta/3"],
        }
    )
    moved = config.merged({"model": "eta/7"})
    assert moved.traffic == (TrafficRoute("eta/7", 100),)
    assert moved.shadows == ("eta/3",)  # same model: kept
    assert config.merged({"max_batch_size": 8}).traffic == config.traffic
    assert config.merged({"traffic": {"eta/7": 100}}).model == "eta"
    assert config.merged({}) == config


@pytest.mark.parametrize("name", ["eta", "eta-prod-2", "a" * 63, "0x"])
def test_good_deployment_names(name: str) -> None:
    assert check_deployment_name(name) == name


@pytest.mark.parametrize("name", ["", "Eta", "eta_prod", "-eta", "eta-", "a" * 64, "eta prod"])
def test_bad_deployment_names(name: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid deployment name"):
        check_deployment_name(name)
