"""`griffin quickstart`: sample data to predictions over HTTP, on a fresh GRIFFIN_HOME."""

from __future__ import annotations

import os
import shlex
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import uvicorn
from cli_helpers import Invoke, assert_one_line_error

from griffin.client import Client
from griffin.config import load_settings
from griffin.quickstart import STEPS
from griffin.server import create_app

SERVICE_FEATURES = [
    "orders_30d",
    "spend_30d",
    "days_since_order",
    "support_tickets_90d",
    "tenure_days",
    "avg_order_value",
]


def test_quickstart_end_to_end(cli: Invoke, cli_json: Any) -> None:
    result = cli_json("quickstart")
    assert result["status"] == "FINISHED"
    assert result["experiment"] == "quickstart"
    assert result["epochs"] == 20
    assert result["final_metrics"]["val_auc"] > 0.8
    assert result["skipped"] == {}
    settings = load_settings()
    folder = Path(result["folder"])
    assert folder == settings.home / "quickstart" / "default"
    with Client(settings=settings) as client:
        run = client.get_run(result["run_id"])
        history = client.get_metric_history(run.id, "val_auc")
        assert [p.step for p in history] == list(range(1, 21))
        assert set(run.metrics) == {"train_loss", "val_loss", "val_accuracy", "val_auc"}
        assert run.params["model"] == "SGDClassifier"
        assert run.params["n_features"] == str(len(SERVICE_FEATURES))
        assert run.tags["griffin.source"] == "quickstart"
        assert any(a.startswith("model") for a in result["artifacts"])

        # The features, online and fresh: the sample data are dated relative to now, so the
        # view's TTL finds every shopper (a template dated in the past would give nulls).
        kinds = {(o.kind, o.name) for o in client.list_features()}
        assert ("feature_service", "shopper_churn") in kinds
        asked = [p["shopper_id"] for p in result["predictions"]]
        online = client.get_online_features(["shopper_activity"], {"shopper_id": asked})
        assert not online.to_pandas().drop(columns="shopper_id").isna().any().any()

        # The training set was joined point-in-time: every row found its snapshot.
        dataset = client.get_dataset(result["dataset"], result["dataset_version"])
        assert dataset.row_count == 1200
        assert all(dataset.column(name).nulls == 0 for name in SERVICE_FEATURES)

        # Registered with lineage, evaluated, promoted, deployed.
        version = client.resolve_model("shopper-churn@champion")
        assert version.version == result["version"] == 1
        assert version.lineage.run_id == run.id
        assert (version.lineage.dataset, version.lineage.dataset_version) == (
            "shopper-churn-training",
            1,
        )
        assert version.lineage.feature_service == "shopper_churn"
        assert version.lineage.code_digest
        assert version.metrics["auc"] == pytest.approx(result["evaluation"]["auc"])
        assert result["evaluation"]["auc"] >= 0.75
        deployment = client.get_deployment("shopper-churn")
        assert deployment.config.refs == ("shopper-churn@champion",)

        # The server's answers are the model's on the service's online features (the
        # on-demand one computed by features.py), and not all alike: the examples are the
        # sample's most and least likely churners.
        features = client.get_online_features(
            "shopper_churn", {"shopper_id": asked}, definitions=folder / "features.py"
        ).to_pandas()
        expected = client.load_model("shopper-churn@champion").predict(features)
    answered = [p["churned"] for p in result["predictions"]]
    assert answered == list(expected)
    assert set(answered) == {0, 1}
    assert result["server_url"].startswith("http://127.0.0.1:")
    logged = pd.read_parquet(result["prediction_log"])
    assert len(logged) == 5

    # Every step names a command that works: griffin commands run, files and folders exist.
    assert [s["step"] for s in result["steps"]] == [key for key, _ in STEPS]
    for step in result["steps"]:
        program, *args = shlex.split(step["command"])
        if program in ("cat", "ls"):
            assert Path(args[0]).exists(), step
        elif args[0] == "serve":  # it would serve until stopped
            assert cli(*args, "--help").exit_code == 0, step
        else:
            shown = cli(*args)
            assert shown.exit_code == 0, (step, shown.output)

    # A second run works, and moves the story on by one version of everything but features.
    again = cli_json("quickstart", "--epochs", "2")
    assert again["steps"][1]["did"].startswith("4 unchanged")
    assert (again["dataset_version"], again["holdout_version"], again["version"]) == (2, 2, 2)
    assert again["run_id"] != result["run_id"]
    assert len(again["predictions"]) == 5
    runs = cli_json("runs", "list", "--experiment", "quickstart")
    assert [r["id"] for r in runs] == [again["run_id"], result["run_id"]]
    shown = cli_json("deployments", "show", "shopper-churn")
    assert shown["revision"] == 1  # unchanged: it follows the alias, which moved to v2
    with Client(settings=settings) as client:
        assert client.resolve_model("shopper-churn@champion").version == 2


def test_quickstart_human_output(cli: Invoke) -> None:
    result = cli("quickstart", "--epochs", "3")
    assert result.exit_code == 0, result.output
    out = result.stdout
    run_id = out.split("griffin runs show ", 1)[1].split()[0]
    assert len(run_id) == 32
    for hint in (
        "griffin features list",
        "griffin features datasets show shopper-churn-training",
        "griffin models lineage shopper-churn/1",
        "griffin deployments show shopper-churn",
        "griffin serve shopper-churn",
        "griffin server",
        "http://127.0.0.1:8080/api/v1/docs",
    ):
        assert hint in out
    assert "(will churn)" in out
    assert "(stays)" in out
    # Each step's line on standard error, done.
    for _, title in STEPS:
        line = next(line for line in result.stderr.splitlines() if title in line)
        assert "✓" in line, line
    assert "Griffin quickstart, on the embedded store" in result.stderr


def test_quickstart_in_another_project(cli_json: Any) -> None:
    result = cli_json("--project", "demo", "quickstart", "--epochs", "1")
    assert result["project"] == "demo"
    assert result["command"] == "griffin -p demo"
    assert result["folder"].endswith(os.path.join("quickstart", "demo"))
    assert len(result["predictions"]) == 5  # the server served the demo project's deployment
    assert all(
        s["command"].startswith(("griffin -p demo ", "cat ", "ls ")) for s in result["steps"]
    )


def test_a_failing_step_is_marked_and_reported(
    cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("griffin.quickstart.journey.PROMOTION_GATE", "auc>=0.999")
    result = cli("quickstart", "--epochs", "1")
    assert result.exit_code == 1
    promote = next(line for line in result.stderr.splitlines() if "promote it to" in line)
    assert "✗" in promote
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert "auc" in errors[0]
    assert "Traceback" not in result.output


def test_quickstart_without_scikit_learn(cli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)  # `import sklearn` now raises ImportError
    line = assert_one_line_error(cli("quickstart"), "pip install 'griffin-ml[sklearn]'")
    assert "scikit-learn" in line
    assert not os.listdir(os.environ["GRIFFIN_HOME"])


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """A real `griffin server` app under uvicorn, on its own store, on a free port."""
    from griffin.platform import open_platform

    settings = load_settings(home=str(tmp_path / "server-home"))
    platform = open_platform(settings)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    server = uvicorn.Server(
        uvicorn.Config(create_app(platform=platform), log_config=None, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert httpx.get(f"{url}/healthz").status_code == 200
    yield url
    server.should_exit = True
    thread.join(10)
    platform.close()


def test_quickstart_against_a_server_skips_serving(cli_json: Any, server_url: str) -> None:
    result = cli_json("quickstart", "--epochs", "2", env={"GRIFFIN_URL": server_url})
    assert set(result["skipped"]) == {"serve"}
    assert server_url in result["skipped"]["serve"]
    assert "griffin serve shopper-churn" in result["skipped"]["serve"]
    assert result["predictions"] == []
    assert result["server_url"] is None
    # Everything before serving went to the server.
    with Client(server_url, settings=load_settings()) as client:
        assert client.resolve_model("shopper-churn@champion").version == result["version"]
        assert client.get_deployment("shopper-churn").config.refs == ("shopper-churn@champion",)
        assert client.get_run(result["run_id"]).status == "FINISHED"
