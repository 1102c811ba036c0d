"""search_runs through the SDK: filters, order, cursors, DataFrames."""

from __future__ import annotations

import math

import pytest

import griffin
from griffin.client import Client


@pytest.fixture
def seeded(client: Client) -> list[str]:
    """Seven runs in 'search' (acc = i/10, lr alternating) and one in 'other'; ids by i."""
    ids = []
    for i in range(7):
        run = client.create_run(
            "search",
            name=f"r{i}",
            params={"lr": "0.1" if i % 2 else "0.01"},
            tags={"parity": "odd" if i % 2 else "even"},
        )
        client.log_batch(run.id, [("acc", i / 10, 0), ("loss", 1 - i / 10, 0)])
        ids.append(run.id)
    client.end_run(ids[0], "FAILED")
    other = client.create_run("other", params={"lr": "0.1"})
    client.log_batch(other.id, [("acc", 0.99, 0)])
    return ids


def test_filter_and_order(client: Client, seeded: list[str]) -> None:
    found = client.search_runs(
        "search", filter="metrics.acc > 0.15 and params.lr = '0.01'", order_by="metrics.acc DESC"
    )
    assert [r.id for r in found] == [seeded[6], seeded[4], seeded[2]]
    assert all(r.params["lr"] == "0.01" and r.experiment == "search" for r in found)

    both = client.search_runs(["search", "other"], filter="params.lr = '0.1'", order_by=["name"])
    assert [r.name for r in both][:3] == ["r1", "r3", "r5"]
    assert len(both) == 4

    failed = client.search_runs(filter="attributes.status = 'FAILED'")
    assert [r.id for r in failed] == [seeded[0]]

    run = client.create_run("nan-search")
    client.log_batch(run.id, [("score", math.nan, 0)])
    (nan_run,) = client.search_runs("nan-search")
    assert math.isnan(nan_run.metrics["score"].value)


def test_paging_across_cursors_up_to_max_results(client: Client, seeded: list[str]) -> None:
    by_acc = client.search_runs("search", order_by="metrics.acc ASC", page_size=2)
    assert [r.id for r in by_acc] == seeded  # 4 pages of 2, 3 cursors followed
    first_five = client.search_runs("search", order_by="metrics.acc", max_results=5, page_size=2)
    assert [r.id for r in first_five] == seeded[:5]

    with pytest.raises(griffin.InvalidArgument, match="filter"):
        client.search_runs(filter="metrics.acc >>> 1")
    with pytest.raises(griffin.NotFound, match="missing"):
        client.search_runs("missing")


def test_as_pandas_columns(client: Client, seeded: list[str]) -> None:
    frame = client.search_runs("search", order_by="metrics.acc DESC", as_pandas=True)
    assert list(frame.columns) == [
        "run_id",
        "experiment",
        "name",
        "status",
        "user",
        "created_at",
        "ended_at",
        "params.lr",
        "metrics.acc",
        "metrics.loss",
        "tags.parity",
    ]
    assert list(frame["run_id"]) == seeded[::-1]
    assert list(frame["metrics.acc"]) == pytest.approx([i / 10 for i in range(6, -1, -1)])
    assert frame.loc[frame["run_id"] == seeded[0], "status"].item() == "FAILED"
    assert frame["tags.parity"].iloc[0] == "even"
    assert frame["ended_at"].isna().sum() == 6

    empty = client.search_runs("search", filter="metrics.acc > 5", as_pandas=True)
    assert len(empty) == 0
    assert list(empty.columns)[:3] == ["run_id", "experiment", "name"]
