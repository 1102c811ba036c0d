"""From `griffin init` to a promoted, loadable model, for every template, as a user runs it.

Each test runs the real `griffin` command in subprocesses on a fresh embedded store: init,
`features apply`, `train` (a local job: a real child process), `evaluate` and `promote` with a
gate; then the SDK reads the lineage and loads the champion, on the same store.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from griffin import Conflict
from griffin.client import Client
from griffin.config import load_settings
from griffin.project_templates import TEMPLATES

GRIFFIN = str(Path(sys.executable).with_name("griffin"))
LIBRARIES = {"sklearn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm", "pytorch": "torch"}
GATES = {
    "sklearn": "auc>=0.8",
    "xgboost": "auc>=0.8",
    "lightgbm": "r2>=0.5",
    "pytorch": "auc>=0.8",
}


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIFFIN_")}
    env["GRIFFIN_HOME"] = str(home)
    return env


def _griffin(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [GRIFFIN, *args], check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"griffin {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.parametrize("template", list(LIBRARIES))
def test_template_from_init_to_load_model(template: str, tmp_path: Path) -> None:
    if importlib.util.find_spec(LIBRARIES[template]) is None:
        pytest.skip(f"{LIBRARIES[template]} is not installed")
    env = _env(tmp_path / "home")
    _griffin(tmp_path, env, "init", "shop", "--template", template)
    project = tmp_path / "shop"
    _griffin(project, env, "features", "apply", "--yes")
    job = json.loads(_griffin(project, env, "train", "--json"))
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["model"] == "shop"
    assert job["result"]["version"] == 1

    evaluation = json.loads(
        _griffin(project, env, "evaluate", "shop/1", "--dataset", "shop-training", "--json")
    )
    expected = {"rmse", "mae", "r2"} if template == "lightgbm" else {"auc", "log_loss", "accuracy"}
    assert set(evaluation["metrics"]) == expected
    _griffin(project, env, "models", "promote", "shop", "1", "--require", GATES[template])

    # The rest through the SDK in this process, on the same store (fewer process start-ups).
    settings = load_settings(home=str(tmp_path / "home"), project="shop")
    with Client(settings=settings) as client:
        version = client.resolve_model("shop@champion")
        lineage = version.lineage
        assert version.version == 1
        assert lineage.dataset == "shop-training"
        assert lineage.feature_service == "shop_features"
        assert lineage.features[0].view == "customer_stats"
        assert lineage.model_definition == "shop"
        assert lineage.runtime == TEMPLATES[template].runtime
        assert lineage.code_digest is not None
        assert len(lineage.code_digest) == 64
        inputs = [c["name"] for c in version.signature["inputs"]]
        assert inputs[:2] == ["orders_30d", "spend_30d"]
        with pytest.raises(Conflict, match="does not meet"):
            client.promote_model("shop", 1, "strict", require=["accuracy>1"])
        model = client.load_model("shop@champion")
    predictions = model.predict(
        {
            "orders_30d": [2, 0],
            "spend_30d": [80.0, 5.0],
            "days_since_order": [3.0, 60.0],
            "support_tickets_90d": [0, 3],
            "tenure_days": [400.0, 40.0],
        }
    )
    assert len(predictions) == 2


def test_the_template_s_own_tests_pass(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    _griffin(tmp_path, env, "init", "demo")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        check=False,
        cwd=tmp_path / "demo",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
