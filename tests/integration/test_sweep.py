"""`griffin train --sweep` on the embedded store: trials run as child jobs, the best is chosen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from griffin.client import Client
from griffin.config import load_settings

GRIFFIN = str(Path(sys.executable).with_name("griffin"))
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
SWEEP = """
method: grid
metric: score
goal: maximize
parallel: 2
params:
  quality: [0.2, 0.9, -1.0, 0.5]
"""


def test_a_grid_sweep_runs_its_trials_and_reports_the_best(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(MODEL_PY)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIFFIN_")}
    env["GRIFFIN_HOME"] = str(tmp_path / "home")
    # One slot only: the sweep itself must not take it, or its trials would never start.
    env["GRIFFIN_JOB_MAX_PARALLEL"] = "1"
    done = subprocess.run(
        [GRIFFIN, "train", "--sweep", "sweep.yaml", "--json"],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    parent = json.loads(done.stdout)
    assert parent["status"] == "SUCCEEDED"
    result = parent["result"]
    assert result["params"] == {"quality": 0.9}
    assert result["value"] == 0.9
    assert (result["trials"], result["succeeded"]) == (4, 3)
    with Client(settings=load_settings(home=str(tmp_path / "home"))) as client:
        children = client.list_jobs(parent=parent["id"])
        assert sorted(str(c.status) for c in children) == ["FAILED", *["SUCCEEDED"] * 3]
        best = client.get_model_version("toy", result["version"])
        assert best.metrics == {"score": 0.9}
        assert best.lineage.job_id == result["best_job"]
        assert len(client.list_model_versions("toy")) == 3
