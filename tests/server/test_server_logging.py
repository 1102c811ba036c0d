"""Logging to runs over REST: batches of metrics, params and tags, all or nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from rest_helpers import API, assert_error, count, log, new_run, point
from sqlalchemy import select

from griffin.platform import Platform
from griffin.server.limits import MAX_JSON_BODY
from griffin.store.orm.tracking import LatestMetricRow, MetricRow, ParamRow, RunRow, RunTagRow

pytestmark = pytest.mark.anyio


async def _run(client: httpx.AsyncClient, run_id: str) -> dict[str, object]:
    response = await client.get(f"{API}/runs/{run_id}")
    assert response.status_code == 200, response.text
    run: dict[str, object] = response.json()
    return run


async def _history(client: httpx.AsyncClient, run_id: str, key: str) -> list[dict[str, object]]:
    response = await client.get(f"{API}/runs/{run_id}/metric-history", params={"key": key})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["run_id"] == run_id
    assert body["key"] == key
    points: list[dict[str, object]] = body["points"]
    return points


async def test_batch_writes_metrics_params_and_tags(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    run_id = await new_run(client)
    response = await log(
        client,
        run_id,
        metrics=[point("loss", 0.5, 0, 10), point("loss", 0.25, 1, 20), point("acc", 0.9, 1, 20)],
        params={"lr": "0.1", "layers": "3"},
        tags={"stage": "dev"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}
    run = await _run(client, run_id)
    assert run["params"] == {"lr": "0.1", "layers": "3"}
    assert run["tags"] == {"stage": "dev"}
    assert run["metrics"] == {
        "loss": point("loss", 0.25, 1, 20),
        "acc": point("acc", 0.9, 1, 20),
    }
    assert count(platform, MetricRow, run_id=run_id) == 3
    # Tags are overwritten; an empty batch is fine.
    assert (await log(client, run_id, tags={"stage": "prod"})).status_code == 200
    assert (await log(client, run_id)).status_code == 200
    assert (await _run(client, run_id))["tags"] == {"stage": "prod"}


async def test_step_may_be_left_out_and_defaults_to_zero(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    points = [point("a", 1.0, step=3), {"key": "b", "value": 2.0, "timestamp_ms": 5}]
    response = await log(client, run_id, metrics=points)
    assert response.status_code == 200, response.text
    history = await client.get(f"{API}/runs/{run_id}/metric-history", params={"key": "b"})
    assert [(p["step"], p["value"]) for p in history.json()["points"]] == [(0, 2.0)]
    run = (await client.get(f"{API}/runs/{run_id}")).json()
    assert run["metrics"]["a"]["step"] == 3


async def test_non_finite_values_round_trip(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    body = (
        b'{"metrics": ['
        b'{"key": "a", "value": "NaN", "timestamp_ms": 1},'
        b'{"key": "b", "value": "Infinity", "timestamp_ms": 1},'
        b'{"key": "c", "value": "-Infinity", "timestamp_ms": 1},'
        b'{"key": "d", "value": NaN, "timestamp_ms": 1},'
        b'{"key": "e", "value": -0.0, "timestamp_ms": 1},'
        b'{"key": "f", "value": 1e308, "timestamp_ms": 1}'
        b"]}"
    )
    response = await client.post(f"{API}/runs/{run_id}/batch", content=body)
    assert response.status_code == 200, response.text
    response = await client.get(f"{API}/runs/{run_id}")
    metrics = response.json()["metrics"]
    assert {k: m["value"] for k, m in metrics.items()} == {
        "a": "NaN",
        "b": "Infinity",
        "c": "-Infinity",
        "d": "NaN",
        "e": -0.0,
        "f": 1e308,
    }
    assert "NaN" in response.text  # sent as strings, never as bare (invalid JSON) literals
    json.loads(response.text, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    for key, expected in (("a", "NaN"), ("b", "Infinity"), ("c", "-Infinity")):
        assert [p["value"] for p in await _history(client, run_id, key)] == [expected]


async def test_params_are_immutable_and_a_conflict_writes_nothing(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    run_id = await new_run(client, params={"lr": "0.1"})
    await log(client, run_id, metrics=[point("loss", 1.0)], tags={"t": "1"})
    before = count(platform, MetricRow, run_id=run_id)

    response = await log(
        client,
        run_id,
        metrics=[point("loss", 0.5, 1), point("new_metric", 3.0)],
        params={"batch": "32", "lr": "0.2"},
        tags={"t": "2", "new_tag": "x"},
    )
    message = assert_error(response, 409, "CONFLICT", "'lr'", run_id, "already logged")
    assert "params cannot change" in message
    assert response.json()["error"]["details"] == {"run_id": run_id, "key": "lr"}
    assert count(platform, MetricRow, run_id=run_id) == before
    assert count(platform, ParamRow, run_id=run_id) == 1
    assert count(platform, LatestMetricRow, run_id=run_id) == 1
    run = await _run(client, run_id)
    assert run["params"] == {"lr": "0.1"}
    assert run["tags"] == {"t": "1"}
    assert run["metrics"] == {"loss": point("loss", 1.0)}

    # The same value again is not a change.
    same = await log(client, run_id, params={"lr": "0.1", "batch": "32"})
    assert same.status_code == 200, same.text
    assert (await _run(client, run_id))["params"] == {"lr": "0.1", "batch": "32"}


async def test_latest_metric_is_highest_step_then_newest(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    run_id = await new_run(client)
    await log(client, run_id, metrics=[point("m", 5.0, step=5, timestamp_ms=100)])
    # An older step arriving later does not move "latest" backwards.
    await log(client, run_id, metrics=[point("m", 3.0, step=3, timestamp_ms=900)])
    assert (await _run(client, run_id))["metrics"] == {"m": point("m", 5.0, 5, 100)}
    # Same step: the later timestamp wins.
    await log(client, run_id, metrics=[point("m", 6.0, step=5, timestamp_ms=200)])
    await log(client, run_id, metrics=[point("m", 4.0, step=5, timestamp_ms=150)])
    assert (await _run(client, run_id))["metrics"] == {"m": point("m", 6.0, 5, 200)}
    # Within one batch, order does not matter either.
    await log(
        client,
        run_id,
        metrics=[
            point("m", 9.0, step=9, timestamp_ms=1),
            point("m", 7.0, step=7, timestamp_ms=5000),
            point("m", 8.0, step=9, timestamp_ms=2),
            point("m", 1.0, step=-1, timestamp_ms=9999),
        ],
    )
    assert (await _run(client, run_id))["metrics"] == {"m": point("m", 8.0, 9, 2)}
    # NaN can be the latest value too.
    await log(client, run_id, metrics=[point("m", "NaN", step=10, timestamp_ms=3)])
    latest = (await _run(client, run_id))["metrics"]
    assert latest == {"m": point("m", "NaN", 10, 3)}
    with platform.db.session() as session:
        row = session.scalar(select(LatestMetricRow).where(LatestMetricRow.run_id == run_id))
        assert row is not None
        assert row.is_nan


async def test_metric_history_is_in_step_then_time_order(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    await log(
        client,
        run_id,
        metrics=[point("loss", 0.3, 3, 30), point("loss", 0.1, 1, 50), point("acc", 1.0, 0, 1)],
    )
    await log(
        client,
        run_id,
        metrics=[point("loss", 0.2, 2, 20), point("loss", 0.15, 1, 10), point("loss", 0.4, 0, 99)],
    )
    points = await _history(client, run_id, "loss")
    assert [(p["step"], p["timestamp_ms"], p["value"]) for p in points] == [
        (0, 99, 0.4),
        (1, 10, 0.15),
        (1, 50, 0.1),
        (2, 20, 0.2),
        (3, 30, 0.3),
    ]
    assert await _history(client, run_id, "never-logged") == []


async def test_logging_refreshes_the_heartbeat(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    run_id = await new_run(client)
    before = datetime.fromisoformat(str((await _run(client, run_id))["heartbeat_at"]))
    await log(client, run_id, metrics=[point("m", 1.0)])
    after = datetime.fromisoformat(str((await _run(client, run_id))["heartbeat_at"]))
    assert after > before
    with platform.db.session() as session:
        row = session.get(RunRow, run_id)
        assert row is not None
        assert row.heartbeat_at == after


async def test_a_full_batch_is_accepted(client: httpx.AsyncClient, platform: Platform) -> None:
    run_id = await new_run(client)
    metrics = [point(f"k{i % 100}", float(i), i // 100, i) for i in range(10_000)]
    response = await log(client, run_id, metrics=metrics)
    assert response.status_code == 200, response.text
    assert count(platform, MetricRow, run_id=run_id) == 10_000
    assert count(platform, LatestMetricRow, run_id=run_id) == 100
    latest = (await _run(client, run_id))["metrics"]
    assert isinstance(latest, dict)
    assert latest["k7"] == point("k7", 9907.0, 99, 9907)


# --- limits and malformed batches (validation only: run on SQLite) --------------------------


@pytest.fixture
async def run_id(sqlite_client: httpx.AsyncClient) -> str:
    return await new_run(sqlite_client)


def _nothing_written(platform: Platform, run_id: str) -> None:
    assert count(platform, MetricRow, run_id=run_id) == 0
    assert count(platform, ParamRow, run_id=run_id) == 0
    assert count(platform, RunTagRow, run_id=run_id) == 0


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"metrics": [point("a/../b", 1.0)]}, "metric key", "'a/../b'"),
        ({"metrics": [point("/abs", 1.0)]}, "metric key", "'/abs'"),
        ({"metrics": [point("k" * 251, 1.0)]}, "metrics.0.key", "at most 250"),
        ({"params": {"../up": "1"}}, "param key", "'../up'"),
        ({"tags": {"a\\b": "1"}}, "tag key", "only letters"),
        ({"params": {"lr": "x" * 10 * 1024 * 1024}}, "params.lr", "at most 8000"),
        ({"tags": {"note": "x" * 8001}}, "tags.note", "at most 8000"),
        ({"metrics": [point("m", 1.0)] * 10_001}, "metrics", "at most 10000"),
        ({"params": {f"p{i}": "1" for i in range(1001)}}, "params", "at most 1000"),
        (
            {"metrics": [{"key": "m", "value": 1, "step": "NaN", "timestamp_ms": 1}]},
            "metrics.0.step",
            "",
        ),
        (
            {"metrics": [{"key": "m", "value": 1, "step": 1.5, "timestamp_ms": 1}]},
            "metrics.0.step",
            "",
        ),
        (
            {"metrics": [{"key": "m", "value": 1, "step": 2**63, "timestamp_ms": 1}]},
            "metrics.0.step",
            "",
        ),
        (
            {"metrics": [{"key": "m", "value": 1, "timestamp_ms": "Infinity"}]},
            "metrics.0.timestamp_ms",
            "",
        ),
        ({"metrics": [{"key": "m", "value": 1, "timestamp_ms": -1}]}, "metrics.0.timestamp_ms", ""),
        ({"metrics": [{"key": "m", "value": 1}]}, "metrics.0.timestamp_ms", "required"),
        ({"metrics": [{"key": "m", "value": "high", "timestamp_ms": 1}]}, "metrics.0.value", ""),
        ({"metrics": [{**point("m", 1.0), "unit": "s"}]}, "metrics.0.unit", "Extra inputs"),
        ({"metrics": [], "artifacts": []}, "artifacts", "Extra inputs"),
        ({"params": {"lr": 0.1}}, "params.lr", "valid string"),
    ],
)
async def test_invalid_batch_is_400_naming_the_field(
    sqlite_client: httpx.AsyncClient,
    sqlite_platform: Platform,
    run_id: str,
    body: dict[str, object],
    field: str,
    fragment: str,
) -> None:
    response = await log(sqlite_client, run_id, **body)
    message = assert_error(response, 400, "INVALID_ARGUMENT", field, fragment)
    assert response.json()["error"]["details"]["field"] == field
    assert len(message) < 500  # the offending value is not echoed in full
    _nothing_written(sqlite_platform, run_id)


@pytest.mark.parametrize(
    "content", [b"", b"{", b"[]", b"null", b'{"metrics": {}}', b"\xff\xfe", b'{"metrics": [1]}']
)
async def test_malformed_batch_body_is_400(
    sqlite_client: httpx.AsyncClient, sqlite_platform: Platform, run_id: str, content: bytes
) -> None:
    response = await sqlite_client.post(f"{API}/runs/{run_id}/batch", content=content)
    assert_error(response, 400, "INVALID_ARGUMENT")
    _nothing_written(sqlite_platform, run_id)


async def test_batch_body_over_the_limit_is_413(
    sqlite_client: httpx.AsyncClient, sqlite_platform: Platform, run_id: str
) -> None:
    body = b'{"params": {"x": "' + b"y" * MAX_JSON_BODY + b'"}}'
    response = await sqlite_client.post(f"{API}/runs/{run_id}/batch", content=body)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE", str(MAX_JSON_BODY))
    _nothing_written(sqlite_platform, run_id)


async def test_any_json_body_over_the_limit_is_413(
    sqlite_client: httpx.AsyncClient, sqlite_platform: Platform
) -> None:
    body = b'{"name": "e", "description": "' + b"y" * MAX_JSON_BODY + b'"}'
    response = await sqlite_client.post(f"{API}/projects/default/experiments", content=body)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE", str(MAX_JSON_BODY))


async def test_streamed_json_body_over_the_limit_is_413(
    sqlite_client: httpx.AsyncClient, sqlite_platform: Platform
) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no content-length: counted as it arrives
        yield b'{"name": "e", "description": "'
        for _ in range(17):
            yield b"y" * (1024 * 1024)
        yield b'"}'

    response = await sqlite_client.post(f"{API}/projects/default/experiments", content=chunks())
    assert_error(response, 413, "PAYLOAD_TOO_LARGE", str(MAX_JSON_BODY))


async def test_wrong_method_is_405_with_its_own_code(sqlite_client: httpx.AsyncClient) -> None:
    response = await sqlite_client.put(f"{API}/projects/default/experiments")
    assert_error(response, 405, "METHOD_NOT_ALLOWED", "PUT")


async def test_huge_param_on_run_creation_is_400(
    sqlite_client: httpx.AsyncClient, sqlite_platform: Platform
) -> None:
    response = await sqlite_client.post(
        f"{API}/projects/default/runs",
        json={"experiment": "exp", "params": {"blob": "x" * 10 * 1024 * 1024}},
    )
    assert_error(response, 400, "INVALID_ARGUMENT", "params.blob", "at most 8000")
    assert count(sqlite_platform, RunRow) == 0
