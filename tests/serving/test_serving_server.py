"""The inference server in process: predictions, bad input, hot swap under load, readiness."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LinearRegression

from griffin.client import Client
from griffin.config import Settings
from griffin.serving import live as live_module
from griffin.serving.prediction_log import PredictionLog
from griffin.serving.server import InferenceServer

FEATURES = ["a", "b"]


def _model(slope: float) -> tuple[LinearRegression, pd.DataFrame]:
    """y = slope * a + b: each version answers recognisably."""
    frame = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    return LinearRegression().fit(frame, slope * frame["a"] + frame["b"]), frame


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    """``eta`` v1 (slope 1) and v2 (slope 10), ``champion`` on v1; deployment ``eta``."""
    with Client(settings=settings) as opened:
        for slope in (1.0, 10.0):
            model, frame = _model(slope)
            opened.log_model(model, "eta", input_example=frame.head(2))
        opened.set_model_alias("eta", "champion", 1)
        opened.create_deployment("eta", "eta@champion", max_rows=5)
        yield opened


def _run(server: InferenceServer, scenario: Any) -> Any:
    async def main() -> Any:
        await server.start()
        try:
            transport = httpx.ASGITransport(app=server)
            async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
                return await scenario(http)
        finally:
            await server.stop()

    return asyncio.run(main())


ROWS = {"rows": [{"a": 2.0, "b": 1.0}, {"a": 3.0, "b": 0.0}]}


def test_predict_answers_with_the_version_and_a_request_id(client: Client) -> None:
    async def scenario(http: httpx.AsyncClient) -> None:
        answer = (await http.post("/v1/deployments/eta/predict", json=ROWS)).json()
        assert (answer["model"], answer["version"]) == ("eta", 1)
        assert np.allclose(answer["predictions"], [3.0, 3.0])
        assert len(answer["request_id"]) == 32
        columns = {"columns": {"b": [1.0], "a": [2.0], "extra": ["dropped"]}}
        by_columns = (await http.post("/v1/deployments/eta/predict", json=columns)).json()
        assert np.allclose(by_columns["predictions"], [3.0])
        assert (await http.get("/readyz")).status_code == 200
        assert (await http.get("/healthz")).json()["status"] == "ok"
        served = (await http.get("/v1/deployments")).json()["items"]
        assert served[0]["traffic"] == [{"ref": "eta@champion", "version": 1, "weight": 100}]
        metrics = (await http.get("/metrics")).text
        requests = 'griffin_predict_requests_total{deployment="eta",model="eta",version="1"} 2'
        assert requests in metrics
        assert 'griffin_batch_rows_total{model="eta",version="1"}' in metrics

    _run(InferenceServer(client, ["eta"], poll_s=60), scenario)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1]", 400, "must be a JSON object"),
        (b'{"rows": []}', 400, "non-empty list"),
        (b'{"rows": [{"a": 1}]}', 400, "missing column(s) 'b'"),
        (b'{"rows": [{"a": "x", "b": 1}]}', 400, "'a'"),
        (b'{"rows": [{"a": 1, "b": 1}], "columns": {"a": [1]}}', 400, "not both"),
        (b'{"columns": {"a": [1, 2], "b": [1]}}', 400, "same non-zero length"),
        (b'{"rows": [{"a": 1, "b": 1}], "extra": 1}', 400, "unknown request field"),
        (b'{"rows": [' + b",".join([b'{"a": 1, "b": 1}'] * 6) + b"]}", 400, "at most 5"),
    ],
)
def test_bad_requests_are_4xx_naming_the_problem(
    client: Client, body: bytes, status: int, message: str
) -> None:
    async def scenario(http: httpx.AsyncClient) -> None:
        response = await http.post("/v1/deployments/eta/predict", content=body)
        assert response.status_code == status, response.text
        assert message in response.json()["error"]["message"]
        # The server goes on serving.
        assert (await http.post("/v1/deployments/eta/predict", json=ROWS)).status_code == 200

    _run(InferenceServer(client, ["eta"], poll_s=60), scenario)


def test_unknown_routes_and_deployments(client: Client) -> None:
    async def scenario(http: httpx.AsyncClient) -> None:
        missing = await http.post("/v1/deployments/other/predict", json=ROWS)
        assert missing.status_code == 404
        assert "serves eta" in missing.json()["error"]["message"]
        assert (await http.get("/v1/deployments/eta/predict")).status_code == 405
        assert (await http.get("/nowhere")).status_code == 404

    _run(InferenceServer(client, ["eta"], poll_s=60), scenario)


def test_a_moved_alias_is_swapped_in_without_a_failed_request(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_module, "RETIRE_AFTER_S", 0.2)

    async def scenario(http: httpx.AsyncClient) -> list[tuple[float, int, float]]:
        answers: list[tuple[float, int, float]] = []  # (sent, version, answered)
        seen: list[int] = []
        stop = asyncio.Event()

        async def load() -> None:
            while not stop.is_set():
                sent = time.monotonic()
                response = await http.post("/v1/deployments/eta/predict", json=ROWS)
                assert response.status_code == 200, response.text
                seen.append(response.json()["version"])
                answers.append((sent, seen[-1], time.monotonic()))
                await asyncio.sleep(0.002)

        workers = [asyncio.create_task(load()) for _ in range(4)]
        await asyncio.sleep(0.3)
        await asyncio.to_thread(client.set_model_alias, "eta", "champion", 2)
        for _ in range(200):  # bounded: 10 s
            if seen and seen[-1] == 2:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*workers)
        # The old version is unloaded once nothing can reach it (RETIRE_AFTER_S, 0.2 s here).
        for _ in range(100):  # bounded: 5 s
            if server.loader.loaded() == [("eta", 2)]:
                break
            await asyncio.sleep(0.05)
        assert server.loader.loaded() == [("eta", 2)]
        return answers

    server = InferenceServer(client, ["eta"], poll_s=0.1)
    answers = _run(server, scenario)
    assert answers[0][1] == 1
    assert answers[-1][1] == 2
    # The swap is atomic: a request sent after the new version first answered never gets the
    # old one (requests already routed to it before the swap may still finish after).
    first_new = min(answered for _, version, answered in answers if version == 2)
    assert {version for sent, version, _ in answers if sent > first_new} == {2}


def test_a_canary_splits_traffic_and_a_rollback_is_served(client: Client) -> None:
    client.update_deployment("eta", traffic={"eta/1": 50, "eta/2": 50}, shadows=[])

    async def scenario(http: httpx.AsyncClient) -> None:
        versions = [
            (await http.post("/v1/deployments/eta/predict", json=ROWS)).json()["version"]
            for _ in range(60)
        ]
        assert set(versions) == {1, 2}
        await asyncio.to_thread(client.rollback_deployment, "eta")
        await server.refresh()
        versions = [
            (await http.post("/v1/deployments/eta/predict", json=ROWS)).json()["version"]
            for _ in range(20)
        ]
        assert set(versions) == {1}

    server = InferenceServer(client, ["eta"], poll_s=60)
    _run(server, scenario)


def test_sticky_requests_keep_their_version(client: Client) -> None:
    client.update_deployment("eta", traffic={"eta/1": 50, "eta/2": 50}, sticky_key="customer_id")

    async def scenario(http: httpx.AsyncClient) -> None:
        for customer in range(10):
            body = {"rows": [{"a": 1.0, "b": 1.0, "customer_id": customer}]}
            got = {
                (await http.post("/v1/deployments/eta/predict", json=body)).json()["version"]
                for _ in range(5)
            }
            assert len(got) == 1

    _run(InferenceServer(client, ["eta"], poll_s=60), scenario)


def test_a_deployment_that_cannot_load_is_not_ready(client: Client) -> None:
    async def scenario(http: httpx.AsyncClient) -> None:
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert "missing" in ready.json()["reason"]
        response = await http.post("/v1/deployments/missing/predict", json=ROWS)
        assert response.status_code == 503
        # The deployment that loads is served all the same.
        assert (await http.post("/v1/deployments/eta/predict", json=ROWS)).status_code == 200

    _run(InferenceServer(client, ["eta", "missing"], poll_s=60), scenario)


def test_every_prediction_is_logged_with_its_shadow(client: Client, tmp_path: Path) -> None:
    client.update_deployment("eta", shadows=["eta/2"])
    log = PredictionLog(str(tmp_path / "offline"), "default", flush_s=60)

    async def scenario(http: httpx.AsyncClient) -> list[str]:
        ids = []
        for _ in range(3):
            answer = await http.post("/v1/deployments/eta/predict", json=ROWS)
            ids.append(answer.json()["request_id"])
        return ids

    ids = _run(InferenceServer(client, ["eta"], prediction_log=log, poll_s=60), scenario)
    assert log.dropped == 0
    table = pq.read_table(
        str(tmp_path / "offline" / "predictions" / "default" / "eta"), partitioning="hive"
    ).to_pandas()
    assert len(table) == 12  # 3 requests x 2 rows, answered and shadowed
    traffic = table[table["role"] == "traffic"].sort_values(["request_id", "row"])
    assert sorted(set(traffic["request_id"])) == sorted(ids)
    assert set(traffic["version"]) == {1}
    assert set(table[table["role"] == "shadow"]["version"]) == {2}
    first = traffic.iloc[0]
    assert json.loads(first["request"]) == {"a": 2.0, "b": 1.0}
    assert json.loads(first["inputs"]) == {"a": 2.0, "b": 1.0}
    assert json.loads(first["prediction"]) == pytest.approx(3.0)
    assert (table["latency_ms"] > 0).all()


def test_a_log_that_cannot_keep_up_drops_the_oldest() -> None:
    log = PredictionLog("/nonexistent-root", "p", max_rows=3)
    rows = pd.DataFrame({"a": [1.0, 2.0]})
    for i in range(3):
        log.add(str(i), "d", "m", 1, "traffic", {"a": [1.0, 2.0]}, rows, np.array([1, 2]), 0.001)
    assert log.dropped == 4  # two requests of 2 rows dropped to keep at most 3 rows waiting
