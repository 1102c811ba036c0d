"""`griffin projects`, `griffin experiments` and `griffin runs` on the embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cli_helpers import Invoke, assert_one_line_error

from griffin.client import Client
from griffin.client.tracking import ActiveRun, start_run
from griffin.config import load_settings

# Runs left RUNNING by a test, ended before its client closes.
end_run_later: list[ActiveRun] = []


@pytest.fixture
def client() -> Iterator[Client]:
    """An SDK client on the same settings the CLI reads (the test's GRIFFIN_HOME)."""
    with Client(settings=load_settings()) as opened:
        yield opened
        while end_run_later:
            end_run_later.pop().end()


def make_run(client: Client, experiment: str, acc: float, *, finish: bool = True) -> str:
    """A run with one param, one tag and one metric; left RUNNING unless ``finish``."""
    run = start_run(experiment, params={"lr": acc / 10}, tags={"team": "eta"}, client=client)
    run.log_metric("acc", acc, step=0)
    run.flush()
    if finish:
        run.end()
    else:
        # Leave it RUNNING, but off the fluent API's stack of active runs.
        client.heartbeat(run.id)
        end_run_later.append(run)
    return run.id


def test_experiments_lifecycle(cli: Invoke, cli_json: Any) -> None:
    created = cli_json("experiments", "create", "churn", "--description", "who leaves")
    assert (created["name"], created["description"]) == ("churn", "who leaves")
    assert [e["name"] for e in cli_json("experiments", "list")] == ["churn"]
    shown = cli_json("experiments", "show", "churn")
    assert shown["id"] == created["id"]
    table = cli("experiments", "list")
    assert "churn" in table.stdout
    assert "who leaves" in table.stdout
    assert cli_json("experiments", "delete", "churn", "--yes") == {"name": "churn", "deleted": True}
    assert cli_json("experiments", "list") == []
    deleted = cli_json("experiments", "list", "--include-deleted")
    assert deleted[0]["lifecycle"] == "deleted"


def test_experiment_errors(cli: Invoke, cli_json: Any) -> None:
    cli_json("experiments", "create", "churn")
    assert_one_line_error(cli("experiments", "create", "churn"), "already exists")
    assert_one_line_error(cli("experiments", "show", "nope"), "nope")
    assert_one_line_error(cli("experiments", "create", "../bad"), "invalid experiment name")


def test_experiments_in_another_project(cli_json: Any) -> None:
    cli_json("projects", "create", "vision")
    cli_json("experiments", "create", "resnet", "--project", "vision")
    assert cli_json("experiments", "list") == []
    assert [e["name"] for e in cli_json("--project", "vision", "experiments", "list")] == ["resnet"]
    assert {p["name"] for p in cli_json("projects", "list")} == {"default", "vision"}


def test_runs_list_and_filters(cli: Invoke, cli_json: Any, client: Client) -> None:
    first = make_run(client, "eta", 0.7)
    second = make_run(client, "eta", 0.9)
    running = make_run(client, "other", 0.8, finish=False)
    listed = cli_json("runs", "list")
    assert [r["id"] for r in listed] == [running, second, first]
    assert listed[1]["metrics"]["acc"]["value"] == 0.9
    assert listed[1]["params"] == {"lr": "0.09"}
    assert [r["id"] for r in cli_json("runs", "list", "--experiment", "eta")] == [second, first]
    assert [r["id"] for r in cli_json("runs", "list", "--status", "running")] == [running]
    assert len(cli_json("runs", "list", "--limit", "1")) == 1
    table = cli("runs", "list").stdout
    assert all(run_id in table for run_id in (first, second, running))
    assert "acc" in table


def test_runs_show(cli: Invoke, cli_json: Any, client: Client) -> None:
    run_id = make_run(client, "eta", 0.75)
    shown = cli_json("runs", "show", run_id)
    assert shown["status"] == "FINISHED"
    assert [h["status"] for h in shown["history"]] == ["RUNNING", "FINISHED"]
    assert shown["tags"] == {"team": "eta"}
    assert shown["artifacts"] == []
    text = cli("runs", "show", run_id).stdout
    for fragment in (run_id, "params", "lr", "0.075", "acc", "0.75", "team", "FINISHED"):
        assert fragment in text


def test_unknown_run(cli: Invoke) -> None:
    for args in (("runs", "show", "r-missing"), ("runs", "delete", "r-missing", "--yes")):
        line = assert_one_line_error(cli(*args))
        assert line == "error: run r-missing does not exist"


def test_runs_delete(cli: Invoke, cli_json: Any, client: Client) -> None:
    run_id = make_run(client, "eta", 0.5)
    refused = cli("runs", "delete", run_id, input="n\n")
    assert refused.exit_code == 1
    assert [r["id"] for r in cli_json("runs", "list")] == [run_id]
    assert cli_json("runs", "delete", run_id, "--yes") == {"id": run_id, "deleted": True}
    assert cli_json("runs", "list") == []
    assert_one_line_error(cli("runs", "delete", run_id, "--yes"), f"run {run_id} is deleted")


def test_runs_search(cli: Invoke, cli_json: Any, client: Client) -> None:
    low, high = make_run(client, "eta", 0.6), make_run(client, "eta", 0.95)
    make_run(client, "other", 0.99)
    found = cli_json(
        "runs", "search", "-e", "eta", "--filter", "metrics.acc > 0.5", "--order-by", "metrics.acc"
    )
    assert [r["id"] for r in found] == [low, high]
    best = cli_json("runs", "search", "--order-by", "metrics.acc DESC", "--max-results", "1")
    assert best[0]["metrics"]["acc"]["value"] == 0.99
    table = cli("runs", "search", "--filter", "params.lr = '0.095'").stdout
    assert high in table
    assert low not in table


def test_runs_search_bad_filter(cli: Invoke) -> None:
    line = assert_one_line_error(cli("runs", "search", "--filter", "metrics.acc > 'x'"))
    assert "position" in line


def test_empty_lists_keep_stdout_clean(cli: Invoke) -> None:
    result = cli("runs", "list")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "griffin quickstart" in result.stderr


def test_runs_on_each_backend(cli_json: Any, database_url: str, tmp_path: Any) -> None:
    env = {"GRIFFIN_DATABASE_URL": database_url, "GRIFFIN_ARTIFACT_ROOT": str(tmp_path / "a")}
    cli_json("experiments", "create", "pg-or-not", env=env)
    settings = load_settings(database_url=database_url, artifact_root=str(tmp_path / "a"))
    with Client(settings=settings) as client:
        run_id = make_run(client, "pg-or-not", 0.5)
    assert [r["id"] for r in cli_json("runs", "list", env=env)] == [run_id]
    assert cli_json("runs", "show", run_id, env=env)["metrics"]["acc"]["value"] == 0.5
