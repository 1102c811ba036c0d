"""`griffin quickstart`: a real model trained and tracked on a fresh GRIFFIN_HOME."""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Invoke, assert_one_line_error

from griffin.client import Client
from griffin.config import load_settings


def test_quickstart_end_to_end(cli: Invoke, cli_json: Any) -> None:
    result = cli_json("quickstart")
    assert result["status"] == "FINISHED"
    assert result["experiment"] == "quickstart"
    assert result["epochs"] == 20
    assert result["final_metrics"]["val_accuracy"] > 0.9
    assert "model/model.pkl" in result["artifacts"]
    settings = load_settings()
    with Client(settings=settings) as client:
        run = client.get_run(result["run_id"])
        history = client.get_metric_history(run.id, "val_accuracy")
        artifacts = {a.path: a for a in client.list_artifacts(run.id)}
    assert len(history) >= 20
    assert [p.step for p in history] == list(range(1, 21))
    assert set(run.metrics) == {"train_loss", "val_loss", "val_accuracy", "val_auc"}
    assert run.params["model"] == "SGDClassifier"
    assert run.params["n_features"] == "30"
    assert {"learning_rate", "alpha", "epochs", "n_train"} <= set(run.params)
    assert run.tags["griffin.source"] == "quickstart"
    assert artifacts["model/model.pkl"].size > 0
    # The model file is really there, under the embedded artifact root, and predicts.
    found = list(Path(settings.resolved_artifact_root).rglob("model.pkl"))
    assert len(found) == 1
    with found[0].open("rb") as handle:
        model = pickle.load(handle)  # our own file, written by the test just above
    assert model.predict([[0.0] * 30]).shape == (1,)
    summary = next(Path(settings.resolved_artifact_root).rglob("metrics.json"))
    assert json.loads(summary.read_text())["final"] == result["final_metrics"]

    # Idempotent: a second call adds a second run to the same experiment.
    again = cli_json("quickstart", "--epochs", "2")
    assert again["run_id"] != result["run_id"]
    runs = cli_json("runs", "list", "--experiment", "quickstart")
    assert [r["id"] for r in runs] == [again["run_id"], result["run_id"]]

    # The human view of the run shows what was logged.
    shown = cli("runs", "show", result["run_id"])
    assert shown.exit_code == 0
    for fragment in ("SGDClassifier", "val_accuracy", "model/model.pkl", "FINISHED", "RUNNING"):
        assert fragment in shown.stdout


def test_quickstart_human_output(cli: Invoke) -> None:
    result = cli("quickstart", "--epochs", "3")
    assert result.exit_code == 0, result.output
    out = result.stdout
    run_id = out.split("run ", 1)[1].split()[0]
    assert f"griffin runs show {run_id}" in out
    for hint in ("griffin runs list", "griffin runs search --filter", "griffin server"):
        assert hint in out
    assert "http://127.0.0.1:8080/api/v1/docs" in out
    assert "val_accuracy" in out
    assert "Training the quickstart model" in result.stderr


def test_quickstart_in_another_project(cli_json: Any) -> None:
    result = cli_json("--project", "demo", "quickstart", "--epochs", "1")
    assert result["project"] == "demo"


def test_quickstart_without_scikit_learn(cli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)  # `import sklearn` now raises ImportError
    line = assert_one_line_error(cli("quickstart"), "pip install 'griffin-ml[sklearn]'")
    assert "scikit-learn" in line
    assert not os.listdir(os.environ["GRIFFIN_HOME"])
