"""Experiments through the SDK, on both transports and both databases."""

from __future__ import annotations

import pytest

import griffin
from griffin.client import Client, _base


def test_create_get_list_delete(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    created = client.create_experiment("churn model", description="first try", tags={"team": 7})
    assert created.name == "churn model"
    assert created.project == "default"
    assert created.description == "first try"
    assert created.tags == {"team": "7"}
    assert created.lifecycle == "active"
    assert created.created_at.tzinfo is not None
    assert client.get_experiment("churn model") == created

    for name in ["baseline", "exp-1", "exp-2", "with space"]:
        client.create_experiment(name)
    names = ["baseline", "churn model", "exp-1", "exp-2", "with space"]
    assert [e.name for e in client.list_experiments()] == names
    monkeypatch.setattr(_base, "PAGE_SIZE", 2)  # 3 pages: two cursors are followed
    assert [e.name for e in client.list_experiments()] == names
    assert [e.name for e in client.list_experiments(name_contains="exp-")] == ["exp-1", "exp-2"]

    client.delete_experiment("baseline")
    assert "baseline" not in [e.name for e in client.list_experiments()]
    everything = {e.name: e.lifecycle for e in client.list_experiments(include_deleted=True)}
    assert everything["baseline"] == "deleted"
    assert everything["churn model"] == "active"
    assert client.get_experiment("with space").name == "with space"


def test_errors_name_the_experiment(client: Client) -> None:
    with pytest.raises(griffin.NotFound, match="'nowhere' does not exist") as missing:
        client.get_experiment("nowhere")
    assert missing.value.code == "NOT_FOUND"
    with pytest.raises(griffin.NotFound, match="nowhere"):
        client.delete_experiment("nowhere")
    # A '/' in a name stays inside one path segment: no other route is reached.
    with pytest.raises(griffin.NotFound, match=r"nowhere/\.\./x"):
        client.get_experiment("nowhere/../x")

    client.create_experiment("twice")
    with pytest.raises(griffin.AlreadyExists, match="twice") as duplicate:
        client.create_experiment("twice")
    assert duplicate.value.http_status == 409
    with pytest.raises(griffin.InvalidArgument, match="experiment name"):
        client.create_experiment("../escape")
    client.delete_experiment("twice")
    with pytest.raises(griffin.Conflict, match="deleted"):
        client.create_run("twice")  # runs cannot start in a deleted experiment
