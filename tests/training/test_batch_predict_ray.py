"""A predict job on the ``ray`` backend predicts with Ray Data and writes exactly what the same
job on the ``local`` backend writes (one local Ray head, started by the helper of
``tests/launcher/test_launcher_ray.py``, as ``tests/training/test_tune.py`` does)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from predictfixtures import at, eta, make_project

from griffin.domain.jobs import JobStatus
from griffin.platform import open_platform
from griffin.training import jobs
from griffin.training.dispatcher import Dispatcher
from ray_heads import launcher_ray_tests, ray_settings

if importlib.util.find_spec("ray") is not None:
    _helper = launcher_ray_tests("_griffin_ray_head_predict")
    ray_head = _helper.ray_head
    ADMIN = _helper.ADMIN


@pytest.fixture
def store(tmp_path: Path, sqlite_template: Path, ray_head: Any) -> Iterator[Any]:
    import griffin

    settings = ray_settings(tmp_path, sqlite_template, ray_head)
    client = griffin.Client(settings=settings)
    make_project(client, tmp_path / "project")
    platform = open_platform(settings)
    try:
        yield client, platform
    finally:
        client.close()
        platform.close()


@pytest.mark.ray
@pytest.mark.slow
def test_a_predict_job_on_ray_writes_what_the_local_backend_writes(
    store: Any, tmp_path: Path
) -> None:
    client, platform = store
    days = ["2026-01-15", "2026-02-15", "2026-01-15", "2026-03-01", "2026-01-02", "2026-02-01"]
    rows = pd.DataFrame(
        {
            "driver_id": [1, 1, 2, 2, 2, 1],
            "event_timestamp": [at(d) for d in days],
            "row": range(6),
        }
    )
    rows.to_parquet(tmp_path / "rows.parquet", index=False)
    outputs = {}
    for backend in ("local", "ray"):
        outputs[backend] = tmp_path / f"{backend}.parquet"
        job = client.submit_job(
            kind="predict",
            model="eta",
            backend=backend,
            data={"entity_rows": str(tmp_path / "rows.parquet")},
            params={"ref": "eta@latest", "output": str(outputs[backend]), "chunk_size": 2},
            resources={"workers": 2},
        )
        done = Dispatcher(platform, backends=(backend,)).run_until_done(job.id, timeout=240)
        log = jobs.job_logs(platform.db, platform.artifacts, ADMIN, "default", job.id)
        text = log.data.decode()
        assert done.status is JobStatus.SUCCEEDED, f"{done.status_reason}\n{text}"
        assert done.result is not None
        assert (done.result["rows"], done.result["features"]) == (6, "point-in-time")
    assert "predicting 3 chunks on 2 Ray Data workers" in text
    local, on_ray = pd.read_parquet(outputs["local"]), pd.read_parquet(outputs["ray"])
    pd.testing.assert_frame_equal(on_ray, local)
    assert local["row"].tolist() == list(range(6))
    assert local["prediction"].tolist() == pytest.approx(
        [eta(1, 0.5), eta(2, 0.25), eta(5, 0.75), eta(5, 0.75), eta(5, 0.75), eta(2, 0.25)]
    )
