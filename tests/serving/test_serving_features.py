"""The inference server reads a version's feature service online, on SQLite and Redis."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

from driver_features import FEATURES_PY
from griffin.client import Client
from griffin.config import Settings
from griffin.features.online import encode_entity_key
from griffin.features.project import load_definitions
from griffin.features.selection import storage_name
from griffin.platform import Platform, open_platform
from griffin.serving.server import open_server


def _prepare(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Platform, Client]:
    """Features applied and written online (driver 1: 10 trips, 30 km; driver 2: 20, 12 km),
    and model ``eta`` trained on the service's columns (y = trips + speed) behind deployment
    ``eta``."""
    monkeypatch.chdir(tmp_path)
    definitions_path = tmp_path / "features.py"
    definitions_path.write_text(textwrap.dedent(FEATURES_PY))
    monkeypatch.syspath_prepend(str(tmp_path))
    platform = open_platform(settings)
    client = Client(settings=settings)
    client.apply_features(definitions_path)
    _write_features(platform)
    frame = pd.DataFrame({"trips": [1, 2, 3, 4, 5], "speed": [1.0, 4.0, 2.0, 8.0, 3.0]})
    # The imputer lets it predict without features too (allow_degraded): nulls become means.
    model = make_pipeline(SimpleImputer(), LinearRegression())
    model.fit(frame, frame["trips"] + frame["speed"])
    client.log_model(model, "eta", input_example=frame.head(2), lineage={"feature_service": "eta"})
    client.create_deployment("eta", "eta/1")
    return platform, client


def _write_features(platform: Platform) -> None:
    view: Any = load_definitions(Path.cwd() / "features.py").get("feature_view", "driver_stats")
    now = time.time_ns() // 1000
    platform.online_store().write_batch(
        storage_name(view),
        [encode_entity_key([1]), encode_entity_key([2])],
        [now, now],
        [[10, 30.0], [20, 12.0]],
    )


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def served(
    request: pytest.FixtureRequest,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Platform, Client]]:
    if request.param == "redis":
        settings = settings.model_copy(
            update={"online_store": f"redis://127.0.0.1:6379/0?prefix=test-{uuid.uuid4().hex}:"}
        )
    platform, client = _prepare(settings, tmp_path, monkeypatch)
    try:
        yield platform, client
    finally:
        platform.online_store().teardown()
        client.close()
        platform.close()


def test_predict_reads_the_features_of_the_entity_keys(served: tuple[Platform, Client]) -> None:
    platform, _ = served
    definitions = load_definitions(Path.cwd() / "features.py")
    server = open_server(platform, ["eta"], poll_s=60, definitions=definitions)

    async def main() -> list[Any]:
        await server.start()
        try:
            transport = httpx.ASGITransport(app=server)
            async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
                body = {"rows": [{"driver_id": 1, "hours": 2.0}, {"driver_id": 2, "hours": 3.0}]}
                answer = await http.post("/v1/deployments/eta/predict", json=body)
                assert answer.status_code == 200, answer.text
                missing = await http.post(
                    "/v1/deployments/eta/predict", json={"rows": [{"driver_id": 1}]}
                )
                assert missing.status_code == 400
                assert "hours" in missing.json()["error"]["message"]
                metrics = (await http.get("/metrics")).text
                # One read succeeded (the request without "hours" failed in it).
                assert 'griffin_feature_fetch_seconds_count{deployment="eta"} 1' in metrics
                return list(answer.json()["predictions"])
        finally:
            await server.stop()
            server.client.close()

    predictions = asyncio.run(main())
    # driver 1: 10 trips + 30/2 = 25; driver 2: 20 + 12/3 = 24 (the model is exact).
    assert np.allclose(predictions, [25.0, 24.0])


def _package_version(client: Client, tmp_path: Path, features_py: str, deployment: str) -> int:
    """A new version of ``eta`` whose lineage names a code package holding ``features_py``,
    served by a new deployment ``deployment``."""
    from griffin.training.packages import build_package

    code = tmp_path / f"code-{deployment}"
    code.mkdir()
    (code / "features.py").write_text(textwrap.dedent(features_py))
    package = build_package(code, tmp_path / f"package-{deployment}")
    digest = client.upload_package(package.path)
    current = client.resolve_model("eta/1")
    frame = pd.DataFrame({"trips": [1, 2], "speed": [1.0, 4.0]})
    version = client.log_model(
        client.load_version(current).raw,
        "eta",
        input_example=frame,
        lineage={"feature_service": "eta", "code_digest": digest},
    )
    client.create_deployment(deployment, f"eta/{version.version}")
    return version.version


def test_on_demand_views_run_the_code_of_the_versions_package(
    served: tuple[Platform, Client], tmp_path: Path
) -> None:
    """No --definitions: each version runs the features.py of its own code package; a version
    whose package does not import does not load, and says why."""
    platform, client = served
    _package_version(client, tmp_path, FEATURES_PY, "eta-code")
    broken = FEATURES_PY + "\nraise RuntimeError('no such table')\n"
    _package_version(client, tmp_path, broken, "eta-broken")
    server = open_server(platform, ["eta-code", "eta-broken", "eta"], poll_s=60)

    async def main() -> None:
        await server.start()
        try:
            transport = httpx.ASGITransport(app=server)
            async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
                body = {"rows": [{"driver_id": 1, "hours": 2.0}, {"driver_id": 2, "hours": 3.0}]}
                answer = await http.post("/v1/deployments/eta-code/predict", json=body)
                assert answer.status_code == 200, answer.text
                assert np.allclose(answer.json()["predictions"], [25.0, 24.0])
                ready = await http.get("/readyz")
                assert ready.status_code == 503
                assert "eta-broken" in ready.json()["reason"]
                assert "no such table" in ready.json()["reason"]
                # Version 1 has no package: its on-demand view has no code to run.
                plain = await http.post("/v1/deployments/eta/predict", json=body)
                assert plain.status_code == 501, plain.text
                assert "without a code package" in plain.json()["error"]["message"]
        finally:
            await server.stop()
            server.client.close()

    asyncio.run(main())
    cached = list((platform.settings.home / "packages" / client.project).iterdir())
    assert len(cached) == 2  # the two packages, and no staging folder left behind
    assert not any(p.name.startswith(".") for p in cached)


@pytest.mark.redis
def test_redis_down_is_503_or_degraded_and_recovers_without_a_restart(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _free_port()
    redis = _start_redis(port, tmp_path)
    settings = settings.model_copy(update={"online_store": f"redis://127.0.0.1:{port}/0"})
    platform, client = _prepare(settings, tmp_path, monkeypatch)
    server = open_server(
        platform, ["eta"], poll_s=60, definitions=load_definitions(tmp_path / "features.py")
    )
    body = {"rows": [{"driver_id": 1, "hours": 2.0}]}

    async def main() -> None:
        nonlocal redis
        await server.start()
        try:
            transport = httpx.ASGITransport(app=server)
            async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
                up = await http.post("/v1/deployments/eta/predict", json=body)
                assert np.allclose(up.json()["predictions"], [25.0])
                redis.terminate()
                redis.wait(timeout=10)
                down = await http.post("/v1/deployments/eta/predict", json=body)
                assert down.status_code == 503, down.text
                assert "cannot read its features" in down.json()["error"]["message"]
                await asyncio.to_thread(client.update_deployment, "eta", allow_degraded=True)
                await server.refresh()
                degraded = (await http.post("/v1/deployments/eta/predict", json=body)).json()
                assert degraded.get("degraded") is True, degraded
                assert len(degraded["predictions"]) == 1
                redis = _start_redis(port, tmp_path)  # back, empty: write the values again
                await asyncio.to_thread(_write_features, platform)
                again = (await http.post("/v1/deployments/eta/predict", json=body)).json()
                assert "degraded" not in again
                assert np.allclose(again["predictions"], [25.0])
        finally:
            await server.stop()

    try:
        asyncio.run(main())
    finally:
        redis.terminate()
        redis.wait(timeout=10)
        server.client.close()
        client.close()
        platform.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """A throwaway redis-server on 127.0.0.1:``port``, answering before this returns."""
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"redis-server did not start on port {port}")


def test_concurrent_feature_reads_share_one_round_trip_and_keep_their_errors(
    served: tuple[Platform, Client],
) -> None:
    from griffin.errors import InvalidArgument
    from griffin.serving.feature_reads import FeatureReads

    platform, client = served
    definitions = load_definitions(Path.cwd() / "features.py")
    version = client.resolve_model("eta/1")
    reads = FeatureReads(client, platform.db, platform.online_store(), definitions=definitions)
    batcher = reads.for_version(version, "eta")
    assert reads.for_version(client.resolve_model("eta/1"), "eta") is batcher  # shared
    readers = batcher.readers
    calls: list[int] = []
    read = readers.read

    def counted(*args: Any) -> Any:
        calls.append(len(args[2].entities["driver_id"]))
        return read(*args)

    readers.read = counted  # type: ignore[method-assign]

    def rows(driver: int, hours: Any) -> dict[str, list[Any]]:
        return {"driver_id": [driver], "hours": [hours]}

    async def main(hours: list[Any]) -> list[Any]:
        reads = [batcher.read(rows(1 + i % 2, h), 1) for i, h in enumerate(hours)]
        return list(await asyncio.gather(*reads, return_exceptions=True))

    good = asyncio.run(main([2.0, 3.0, 2.0, 3.0]))
    assert calls == [4]  # one round trip for the four
    assert [r["trips"] for r in good] == [[10], [20], [10], [20]]
    assert [r["speed"][0] for r in good] == pytest.approx([15.0, 4.0, 15.0, 4.0])
    calls.clear()
    mixed = asyncio.run(main([2.0, "soon", 2.0]))
    assert calls == [3, 1, 1, 1]  # the merged read failed on one value: each alone
    assert isinstance(mixed[1], InvalidArgument)
    assert mixed[0]["trips"] == [10]
    assert mixed[2]["speed"] == pytest.approx([15.0])
