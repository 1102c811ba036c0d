"""The fluent tracking API (griffin.start_run & co.), on both transports and databases."""

from __future__ import annotations

import math

import pytest
from sdk_helpers import Connect

import griffin
from griffin.client import Client
from griffin.domain.tracking import RunStatus


def test_metrics_are_buffered_until_flushed(connect: Connect) -> None:
    # A long interval, so nothing below 1,000 points leaves before flush().
    client = connect(metric_flush_interval_s=60)
    with griffin.start_run("buffered", client=client) as run:
        assert griffin.active_run() is run
        for value in [0.5, math.nan, math.inf, -math.inf, 0.25]:
            griffin.log_metric("loss", value)
        griffin.log_metric("lr", 0.1, step=10)
        griffin.log_metric("lr", 0.2)  # continues after the explicit step
        griffin.log_metrics({"a": 1, "b": 2.5}, step=3)
        assert client.get_metric_history(run.id, "loss") == []
        griffin.flush()
        loss = client.get_metric_history(run.id, "loss")
        assert [m.step for m in loss] == [0, 1, 2, 3, 4]
        assert loss[0].value == 0.5
        assert math.isnan(loss[1].value)
        assert [m.value for m in loss[2:]] == [math.inf, -math.inf, 0.25]
        assert [(m.step, m.value) for m in client.get_metric_history(run.id, "lr")] == [
            (10, 0.1),
            (11, 0.2),
        ]
        assert {k: (m.step, m.value) for k, m in run.run.metrics.items() if k in "ab"} == {
            "a": (3, 1.0),
            "b": (3, 2.5),
        }
    assert griffin.active_run() is None
    assert client.get_run(run.id).status is RunStatus.FINISHED


def test_twenty_thousand_points_all_arrive(client: Client) -> None:
    with griffin.start_run("scale", client=client) as run:
        for step in range(10_000):
            griffin.log_metrics({"train/loss": 1.0 / (step + 1), "train/acc": step % 7}, step=step)
    loss = client.get_metric_history(run.id, "train/loss")
    acc = client.get_metric_history(run.id, "train/acc")
    assert len(loss) == 10_000
    assert len(acc) == 10_000
    assert [m.step for m in loss] == list(range(10_000))
    assert all(m.value == 1.0 / (m.step + 1) for m in loss)
    assert all(m.value == m.step % 7 for m in acc)
    final = client.get_run(run.id)
    assert final.status is RunStatus.FINISHED
    assert final.metrics["train/loss"].step == 9_999


def test_params_and_tags_are_sent_at_once_and_values_checked(client: Client) -> None:
    with griffin.start_run("sync", params={"lr": 0.1}, tags={"team": "eta"}, client=client) as run:
        griffin.log_param("layers", 4)
        griffin.log_params({"opt": "adam", "lr": 0.1})
        griffin.set_tag("stage", 1)
        griffin.set_tags({"stage": 2})
        fetched = run.run
        assert fetched.params == {"lr": "0.1", "layers": "4", "opt": "adam"}
        assert fetched.tags == {"team": "eta", "stage": "2"}
        with pytest.raises(griffin.Conflict, match="'lr'"):
            griffin.log_param("lr", 0.2)  # raised at the call, not later
        with pytest.raises(griffin.InvalidArgument, match="'flag' must be a real number, not bool"):
            griffin.log_metric("flag", True)
        with pytest.raises(griffin.InvalidArgument, match="'text' must be a real number, not str"):
            griffin.log_metric("text", "0.5")  # type: ignore[arg-type]
        with pytest.raises(griffin.InvalidArgument, match="step of metric 'x'"):
            griffin.log_metric("x", 1.0, step=1.5)  # type: ignore[arg-type]
        with pytest.raises(griffin.InvalidArgument, match="metric key"):
            griffin.log_metric("a//b", 1.0)


def test_nested_runs_form_a_stack(client: Client) -> None:
    outer = griffin.start_run("nested", name="outer", client=client)
    with griffin.start_run("nested", name="inner", client=client) as inner:
        assert griffin.active_run() is inner
        griffin.log_metric("depth", 2)
        explicit = griffin.start_run("nested", client=client, parent=outer.id)
        explicit.end()
    assert griffin.active_run() is outer
    griffin.log_metric("depth", 1)
    griffin.end_run()
    assert griffin.active_run() is None

    assert client.get_run(inner.id).parent_run_id == outer.id
    assert client.get_run(explicit.id).parent_run_id == outer.id
    assert client.get_run(outer.id).parent_run_id is None
    assert client.get_run(outer.id).metrics["depth"].value == 1.0
    assert client.get_run(inner.id).metrics["depth"].value == 2.0
    assert {r.status for r in client.list_runs("nested")} == {RunStatus.FINISHED}


def test_exception_inside_marks_failed_with_reason(client: Client) -> None:
    started: list[griffin.ActiveRun] = []

    def train() -> None:
        with griffin.start_run("boom", client=client) as run:
            started.append(run)
            griffin.log_metric("loss", 0.5)
            raise ValueError("bad shape (3, 4)\nsecond line is not kept")

    with pytest.raises(ValueError, match="bad shape"):
        train()
    (run,) = started
    failed = client.get_run(run.id)
    assert failed.status is RunStatus.FAILED
    assert failed.status_reason == "ValueError: bad shape (3, 4)"
    assert failed.history[-1].reason == "ValueError: bad shape (3, 4)"
    assert [m.value for m in client.get_metric_history(run.id, "loss")] == [0.5]


def test_shortcuts_without_an_active_run_raise_conflict() -> None:
    assert griffin.active_run() is None
    calls = [
        lambda: griffin.log_metric("a", 1.0),
        lambda: griffin.log_metrics({"a": 1.0}),
        lambda: griffin.log_param("a", 1),
        lambda: griffin.log_params({"a": 1}),
        lambda: griffin.set_tag("a", 1),
        lambda: griffin.set_tags({"a": 1}),
        lambda: griffin.log_artifact("x"),
        griffin.flush,
        griffin.end_run,
    ]
    for call in calls:
        with pytest.raises(griffin.Conflict, match=r"no active run: call griffin.start_run\(\)"):
            call()


def test_refused_points_and_ended_runs(client: Client) -> None:
    run = griffin.start_run("refused", client=client)
    client.delete_run(run.id)  # behind the ActiveRun's back
    run.log_metric("x", 1.0)
    with pytest.raises(griffin.Conflict, match=r"1 metric point\(s\) .* not saved: .*deleted"):
        run.flush()
    run.flush()  # raised once, then cleared
    with pytest.raises(griffin.Conflict, match="deleted"):
        run.end()
    assert client.get_run(run.id).status is RunStatus.KILLED

    run = griffin.start_run("ended", client=client)
    run.log_metric("x", 1.0)
    run.end()
    run.end()  # idempotent
    with pytest.raises(griffin.Conflict, match="has ended"):
        run.log_metric("x", 2.0)
    with pytest.raises(griffin.Conflict, match="has ended"):
        run.log_param("p", 1)
    assert [m.value for m in client.get_metric_history(run.id, "x")] == [1.0]


def test_closing_a_client_ends_its_open_runs(connect: Connect) -> None:
    client = connect()
    run = griffin.start_run("closing", client=client)
    run.log_metric("x", 2.0)
    client.close()
    assert griffin.active_run() is None
    assert not run.is_open
    with connect() as reader:
        ended = reader.get_run(run.id)
        assert ended.status is RunStatus.FINISHED
        assert ended.status_reason == "its client was closed"
        assert [m.value for m in reader.get_metric_history(run.id, "x")] == [2.0]
