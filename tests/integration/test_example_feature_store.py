"""The feature-store example runs end to end, as a new user would run it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "feature_store"

pytestmark = pytest.mark.slow


def test_the_feature_store_example_runs_without_skew(tmp_path: Path) -> None:
    project = tmp_path / "feature_store"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("data", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIFFIN_")}
    env["GRIFFIN_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, str(project / "run.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "applied: 5 created" in out
    assert "saved dataset 'eta_training' version 1, 2000 rows" in out
    assert "materialized 50 drivers" in out
    assert "live speed of driver 1001: 42.5 km/h" in out
    assert "no skew: online serves what training sees" in out
