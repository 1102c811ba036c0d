"""Run lifecycle and direct logging through the SDK, on both transports and databases."""

from __future__ import annotations

import getpass
import math

import pytest

import griffin
from griffin.client import Client
from griffin.domain.tracking import Metric, RunStatus


def test_run_lifecycle_keeps_status_history(client: Client) -> None:
    run = client.create_run("lifecycle", name="first", params={"lr": 0.1}, tags={"seed": 3})
    assert run.status is RunStatus.RUNNING
    assert run.experiment == "lifecycle"
    assert run.name == "first"
    assert run.params == {"lr": "0.1"}
    assert run.tags == {"seed": "3"}
    assert run.user == getpass.getuser()  # sent as x-griffin-user, over HTTP too
    assert run.ended_at is None
    assert [h.status for h in run.history] == [RunStatus.RUNNING]

    renamed = client.update_run(run.id, name="renamed")
    assert renamed.name == "renamed"
    assert renamed.status is RunStatus.RUNNING

    ended = client.end_run(run.id, status="FAILED", reason="diverged")
    assert ended.status is RunStatus.FAILED
    assert ended.status_reason == "diverged"
    assert ended.ended_at is not None
    assert ended.ended_at >= ended.created_at
    assert [(h.status, h.reason) for h in ended.history] == [
        (RunStatus.RUNNING, "started"),
        (RunStatus.FAILED, "diverged"),
    ]
    assert client.get_run(run.id) == ended

    with pytest.raises(griffin.Conflict, match=run.id):
        client.end_run(run.id, "FINISHED")  # terminal states never change


def test_list_runs_filters_and_delete(client: Client) -> None:
    first = client.create_run("listing")
    second = client.create_run("listing")
    other = client.create_run("elsewhere")
    client.end_run(first.id)
    assert [r.id for r in client.list_runs("listing")] == [second.id, first.id]
    assert [r.id for r in client.list_runs(status="RUNNING")] == [other.id, second.id]
    assert [r.id for r in client.list_runs(limit=1)] == [other.id]

    client.delete_run(second.id)
    assert [r.id for r in client.list_runs("listing")] == [first.id]
    deleted = client.get_run(second.id)
    assert deleted.lifecycle == "deleted"
    assert deleted.status is RunStatus.KILLED
    with pytest.raises(griffin.NotFound, match="no-such-run"):
        client.get_run("no-such-run")
    with pytest.raises(griffin.NotFound):
        client.list_runs("missing-experiment")
    with pytest.raises(griffin.Conflict, match="deleted"):
        client.log_metric(second.id, "late", 1.0)

    client.heartbeat(other.id)
    assert client.get_run(other.id).heartbeat_at >= other.heartbeat_at


def test_params_cannot_change(client: Client) -> None:
    run = client.create_run("params")
    client.log_param(run.id, "lr", 0.01)
    client.log_params(run.id, {"lr": "0.01", "layers": 3})  # same value again is fine
    with pytest.raises(griffin.Conflict, match="'lr'") as caught:
        client.log_param(run.id, "lr", 0.02)
    assert caught.value.details["key"] == "lr"
    client.set_tag(run.id, "stage", "a")
    client.set_tags(run.id, {"stage": "b", "owner": "me"})  # tags may change
    fetched = client.get_run(run.id)
    assert fetched.params == {"lr": "0.01", "layers": "3"}
    assert fetched.tags == {"stage": "b", "owner": "me"}


def test_log_batch_splits_and_round_trips_special_values(client: Client) -> None:
    run = client.create_run("batch")
    points = [("loss", 1.0 / (i + 1), i) for i in range(2_500)]  # three requests
    specials = [
        Metric("odd", math.nan, 0, 1_000),
        Metric("odd", math.inf, 1, 2_000),
        Metric("odd", -math.inf, 2, 3_000),
        Metric("odd", -0.5, 3, 4_000),
    ]
    client.log_batch(run.id, [*points, *specials], params={f"p{i}": i for i in range(1_500)})
    history = client.get_metric_history(run.id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, v) for _, v, s in points]
    odd = client.get_metric_history(run.id, "odd")
    assert math.isnan(odd[0].value)
    assert odd[0].is_nan
    assert [m.value for m in odd[1:]] == [math.inf, -math.inf, -0.5]
    assert [m.timestamp_ms for m in odd] == [1_000, 2_000, 3_000, 4_000]
    fetched = client.get_run(run.id)
    assert len(fetched.params) == 1_500
    assert fetched.metrics["loss"].step == 2_499
    assert fetched.metrics["odd"].value == -0.5

    client.log_metric(run.id, "single", 3, step=7, timestamp_ms=42)
    assert client.get_metric_history(run.id, "single") == [Metric("single", 3.0, 7, 42)]

    with pytest.raises(griffin.InvalidArgument, match="'flag' must be a real number"):
        client.log_metric(run.id, "flag", True)
    with pytest.raises(griffin.InvalidArgument, match="'text'"):
        client.log_batch(run.id, [("text", "1.0", 0)])  # type: ignore[list-item]
    with pytest.raises(griffin.InvalidArgument, match="metric key"):
        client.log_metric(run.id, "../up", 1.0)
    assert set(client.get_run(run.id).metrics) == {"loss", "odd", "single"}
