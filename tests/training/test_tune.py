"""A sweep on the ``ray`` backend runs its trials on Ray Tune (one local Ray head, started by
the helper of ``tests/launcher/test_launcher_ray.py``): the best trial's model is the one
version registered, and the result has the child-job sweep's shape."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from griffin.domain.ids import new_id
from griffin.domain.jobs import Job, JobSpec, JobStatus
from griffin.platform import open_platform
from griffin.training import jobs
from griffin.training.dispatcher import Dispatcher
from griffin.training.sweeps import on_tune
from griffin.training.tune import _better
from ray_heads import launcher_ray_tests, ray_settings

# -- without a Ray cluster ------------------------------------------------------------------


def _sweep_job(**fields: Any) -> Job:
    spec = JobSpec.from_json({"model": "toy", "kind": "sweep", "sweep": SWEEP, **fields})
    return Job(
        id=new_id(),
        project="default",
        spec=spec,
        status=JobStatus.QUEUED,
        status_reason="",
        attempt=1,
        cancel_requested=False,
        created_by="ana",
        created_at=datetime.now(UTC),
    )


def test_only_a_sweep_on_ray_with_one_worker_a_trial_runs_on_tune() -> None:
    assert on_tune(_sweep_job(backend="ray"))
    assert not on_tune(_sweep_job(backend="local"))
    assert not on_tune(_sweep_job(backend="ray", resources={"workers": 2}))  # child jobs


def test_the_kept_model_is_best_trials_as_best_trial_picks_it() -> None:
    assert _better(0.5, 3, None, "maximize")
    assert not _better(math.nan, 0, None, "maximize")
    assert _better(0.9, 3, (0.5, 1), "maximize")
    assert not _better(0.9, 3, (0.5, 1), "minimize")
    assert _better(0.5, 0, (0.5, 1), "maximize")  # a tie goes to the lower trial number
    assert not _better(0.5, 2, (0.5, 1), "minimize")


def test_the_tune_modules_import_ray_only_when_a_sweep_runs() -> None:
    code = (
        "import sys, griffin.training.sweeps, griffin.training.tune; "
        "print([m for m in sys.modules if m == 'ray' or m.startswith('ray.')])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


# -- on a local Ray head --------------------------------------------------------------------


if importlib.util.find_spec("ray") is not None:
    _helper = launcher_ray_tests("_griffin_ray_head_helper")
    ray_head = _helper.ray_head
    ADMIN = _helper.ADMIN

MODEL_PY = """
import griffin
from sklearn.dummy import DummyRegressor


@griffin.model(name="toy", params={"quality": 0.0})
def train(ctx):
    if ctx.params["quality"] < 0:
        raise ValueError("quality must not be negative")
    ctx.log_metric("score", ctx.params["quality"])
    return DummyRegressor().fit([[0], [1]], [0, 1])
"""
SWEEP = {
    "method": "grid",
    "metric": "score",
    "goal": "maximize",
    "parallel": 2,
    "params": {"quality": [0.2, 0.9, -1.0]},
}


@pytest.fixture
def store(tmp_path: Path, sqlite_template: Path, ray_head: Any) -> Iterator[Any]:
    import griffin

    settings = ray_settings(tmp_path, sqlite_template, ray_head, job_retry_backoff_s=0.0)
    project = tmp_path / "toy"
    project.mkdir()
    (project / "model.py").write_text(MODEL_PY)
    client = griffin.Client(settings=settings)
    client.apply_models(project)
    platform = open_platform(settings)
    try:
        yield client, platform
    finally:
        client.close()
        platform.close()


@pytest.mark.ray
def test_a_sweep_on_ray_runs_its_trials_on_ray_tune(store: Any) -> None:
    client, platform = store
    job = client.submit_job(model="toy", kind="sweep", sweep=SWEEP, backend="ray")
    done = Dispatcher(platform, backends=("ray",)).run_until_done(job.id, timeout=120)
    log = jobs.job_logs(platform.db, platform.artifacts, ADMIN, "default", job.id).data.decode()
    assert done.status is JobStatus.SUCCEEDED, f"{done.status_reason}\n{log}"
    assert "running the trials on Ray Tune, 2 at a time" in log
    assert "trial 2 FAILED: train() raised ValueError: quality must not be negative" in log
    result = done.result
    assert result is not None
    assert result["params"] == {"quality": 0.9}
    assert result["value"] == 0.9
    assert (result["best_trial"], result["best_job"]) == (1, job.id)
    assert (result["trials"], result["succeeded"]) == (3, 2)
    assert client.list_jobs(parent=job.id) == []  # no child jobs: Tune trials
    versions = client.list_model_versions("toy")
    assert [v.version for v in versions] == [result["version"]]  # only the best registered
    best = versions[0]
    assert best.metrics == {"score": 0.9}
    assert best.lineage.job_id == job.id
    assert best.params == {"quality": "0.9"}
    run = client.get_run(best.lineage.run_id)
    assert run.tags["griffin.trial"] == "1"
