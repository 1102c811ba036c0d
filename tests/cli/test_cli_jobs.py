"""`griffin jobs` and `griffin worker` on the embedded store, with real job processes."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Invoke, assert_one_line_error

from griffin.client import Client
from griffin.config import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))
from jobfixtures import use_fixture_entrypoint

FAST = {"GRIFFIN_JOB_POLL_INTERVAL_S": "0.05", "GRIFFIN_JOB_CANCEL_GRACE_S": "0.5"}


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """An SDK client on the same settings the CLI reads (the test's GRIFFIN_HOME)."""
    use_fixture_entrypoint(monkeypatch)
    with Client(settings=load_settings()) as opened:
        yield opened


def test_list_show_and_cancel(client: Client, cli: Invoke, cli_json: Callable[..., Any]) -> None:
    first = client.submit_job(model="churn", params={"lr": 0.1})
    second = client.submit_job(model="eta", kind="evaluate")
    listed = cli_json("jobs", "list")
    assert [j["id"] for j in listed] == [second.id, first.id]
    assert [j["id"] for j in cli_json("jobs", "list", "--kind", "evaluate")] == [second.id]
    assert [j["id"] for j in cli_json("jobs", "list", "--limit", "1")] == [second.id]
    table = cli("jobs", "list")
    assert table.exit_code == 0
    assert first.id in table.stdout
    assert "churn" in table.stdout
    cancelled = cli_json("jobs", "cancel", first.id)
    assert cancelled["status"] == "CANCELLED"
    assert [j["id"] for j in cli_json("jobs", "list", "--status", "CANCELLED")] == [first.id]
    shown = cli_json("jobs", "show", first.id)
    assert shown["spec"]["params"] == {"lr": 0.1}
    assert [e["to_status"] for e in shown["events"]] == ["QUEUED", "CANCELLED"]
    text = cli("jobs", "show", first.id)
    assert text.exit_code == 0
    assert "status history" in text.stdout
    assert "cancelled by" in text.stdout
    again = cli("jobs", "cancel", first.id)
    assert_one_line_error(again, "already CANCELLED")
    assert_one_line_error(cli("jobs", "show", "missing"), "job missing does not exist")


def test_worker_runs_jobs_and_logs_print(client: Client, cli: Invoke) -> None:
    job = client.submit_job(model="churn", params={"lines": 2})
    deadline = time.monotonic() + 60
    while not client.get_job(job.id).status.is_terminal:
        # Each --once run steps and stops; the next one adopts what the last left running.
        result = cli("worker", "--once", env=FAST)
        assert result.exit_code == 0, result.output
        assert time.monotonic() < deadline, "the job did not end"
        time.sleep(0.1)
    assert client.get_job(job.id).status.value == "SUCCEEDED"
    logs = cli("jobs", "logs", job.id)
    assert logs.exit_code == 0
    assert logs.stdout.endswith("line 0\nline 1\ndone\n")
    followed = cli("jobs", "logs", job.id, "--follow")
    assert followed.stdout == logs.stdout
    assert "SUCCEEDED" in followed.stderr
    first = cli("jobs", "logs", job.id, "--attempt", "1")
    assert first.stdout == logs.stdout
    assert_one_line_error(cli("jobs", "logs", job.id, "--attempt", "2"), "no attempt 2")


def test_worker_refuses_an_unknown_backend(cli: Invoke) -> None:
    result = cli("worker", "--backend", "nope", "--once")
    assert_one_line_error(result, "no launcher named 'nope'")
