"""Deployments through the SDK, on both transports and both databases."""

from __future__ import annotations

import httpx
import pytest

from griffin import AlreadyExists, InvalidArgument, NotFound
from griffin.client import Client
from griffin.domain.deployments import DeploymentAction, TrafficRoute


@pytest.fixture
def registered(client: Client) -> Client:
    """Model ``eta`` with versions 1-3, ``champion`` on 2 and ``challenger`` on 3."""
    run = client.create_run("deployments")
    for _ in range(3):
        client.create_model_version("eta", f"runs:/{run.id}/model", "sklearn")
    client.set_model_alias("eta", "champion", 2)
    client.set_model_alias("eta", "challenger", 3)
    return client


def test_create_canary_roll_back_and_read_the_history(registered: Client) -> None:
    client = registered
    created = client.create_deployment("eta", "eta@champion", max_batch_size=64, description="d")
    assert created.config.traffic == (TrafficRoute("eta@champion", 100),)
    assert (created.revision, created.config.max_batch_size, created.description) == (1, 64, "d")
    canary = client.update_deployment(
        "eta",
        traffic={"eta@champion": 90, "eta@challenger": 10},
        shadows=["eta/1"],
        comment="10% canary",
    )
    assert canary.revision == 2
    assert canary.config.shadows == ("eta/1",)
    assert canary.config.max_batch_size == 64  # unchanged fields stay
    back = client.rollback_deployment("eta", comment="bad canary")
    assert back.revision == 3
    assert back.config == created.config
    history = client.deployment_history("eta")
    assert [(r.revision, r.action) for r in history] == [
        (3, DeploymentAction.ROLLBACK),
        (2, DeploymentAction.UPDATE),
        (1, DeploymentAction.CREATE),
    ]
    assert (history[0].rolled_back_to, history[0].comment) == (1, "bad canary")
    assert client.get_deployment("eta") == back
    assert [d.name for d in client.list_deployments()] == ["eta"]


def test_errors_name_the_problem(registered: Client) -> None:
    client = registered
    with pytest.raises(InvalidArgument, match="add up to 110"):
        client.create_deployment("eta", traffic={"eta@champion": 100, "eta@challenger": 10})
    with pytest.raises(NotFound, match="has no alias 'nightly'"):
        client.create_deployment("eta", "eta@nightly")
    client.create_deployment("eta", "eta/1")
    with pytest.raises(AlreadyExists):
        client.create_deployment("eta", "eta/2")
    with pytest.raises(InvalidArgument, match="workers must be an integer"):
        client.update_deployment("eta", workers=0)
    with pytest.raises(NotFound, match="unknown deployment 'nope'"):
        client.rollback_deployment("nope")


def test_rest_refuses_malformed_bodies_with_400(client: Client, transport: str) -> None:
    if transport != "http":
        pytest.skip("checks the HTTP status codes of the REST route itself")
    url = client.where + "/api/v1/projects/default/deployments"
    for body in ({"name": "eta", "workers": "many"}, {"name": "eta", "unknown": 1}, [1]):
        response = httpx.post(url, json=body)
        assert response.status_code == 400, response.text
