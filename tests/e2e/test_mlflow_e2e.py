"""Existing MLflow code, unchanged, against a real `griffin server` process.

The server runs as users run it (the console script, tokens required) on SQLite and on
PostgreSQL; the test is an ordinary MLflow program whose only link to Griffin is
``MLFLOW_TRACKING_URI`` and ``MLFLOW_TRACKING_TOKEN``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("sklearn")

from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

GRIFFIN = Path(sys.executable).parent / "griffin"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def griffin_server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`griffin server --auth` on a free loopback port, and an admin token for it."""
    env = {
        **os.environ,
        "GRIFFIN_HOME": str(tmp_path / "home"),
        "GRIFFIN_DATABASE_URL": database_url,
        "GRIFFIN_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
    }
    token = subprocess.run(
        [str(GRIFFIN), "tokens", "create", "--project", "*", "--role", "admin", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    secret = json.loads(token.stdout)["secret"]
    port = _free_port()
    process = subprocess.Popen(
        [str(GRIFFIN), "server", "--port", str(port), "--auth"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"griffin server exited: {process.communicate()[0]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("griffin server did not become ready within 30 s")
            time.sleep(0.1)
        yield url, secret
    finally:
        process.terminate()
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.fixture
def tracking(griffin_server: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    url, secret = griffin_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", secret)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)
    yield mlflow.MlflowClient()
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri("")
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)


def _data() -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(7)
    x = pd.DataFrame({"spend": rng.normal(size=200), "visits": rng.normal(size=200)})
    y = (x["spend"] + 0.5 * x["visits"] > 0).astype(int).to_numpy()
    return x, y


def test_an_mlflow_program_runs_unchanged_against_griffin(tracking: Any, tmp_path: Path) -> None:
    client = tracking
    x, y = _data()
    mlflow.set_experiment("churn")

    # Autologged scikit-learn training, with the model logged by autolog.
    mlflow.sklearn.autolog(silent=True)
    try:
        with mlflow.start_run(run_name="autolog") as auto_run:
            LogisticRegression(max_iter=200).fit(x, y)
    finally:
        mlflow.sklearn.autolog(disable=True)
    auto = client.get_run(auto_run.info.run_id)
    assert auto.data.params["max_iter"] == "200"
    assert auto.data.metrics["training_accuracy_score"] > 0.8

    # Manual logging with steps, in a parent run with a nested child.
    with mlflow.start_run(run_name="manual") as parent:
        mlflow.log_params({"lr": 0.1, "depth": 3})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        with mlflow.start_run(run_name="fold-1", nested=True) as child:
            mlflow.log_metric("auc", 0.9)
        now = int(time.time() * 1000)
        # log_batch at MLflow's limits: 1000 entities in one call.
        client.log_batch(
            parent.info.run_id,
            metrics=[Metric("curve", i / 900, now, i) for i in range(900)],
            params=[Param(f"p{i}", str(i)) for i in range(50)],
            tags=[RunTag(f"t{i}", "x") for i in range(50)],
        )
        # Artifacts up and down, in folders.
        folder = tmp_path / "report"
        (folder / "plots").mkdir(parents=True)
        (folder / "summary.txt").write_text("auc 0.9\n")
        (folder / "plots" / "roc.csv").write_text("fpr,tpr\n0,0\n1,1\n")
        mlflow.log_artifacts(str(folder), artifact_path="report")
    history = client.get_metric_history(parent.info.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert len(client.get_metric_history(parent.info.run_id, "curve")) == 900
    assert client.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == (parent.info.run_id)
    listed = {f.path for f in client.list_artifacts(parent.info.run_id, "report")}
    assert listed == {"report/summary.txt", "report/plots"}
    local = mlflow.artifacts.download_artifacts(
        run_id=parent.info.run_id, artifact_path="report", dst_path=str(tmp_path / "down")
    )
    assert (Path(local) / "plots" / "roc.csv").read_text() == "fpr,tpr\n0,0\n1,1\n"

    # Search with filters and ordering.
    found = mlflow.search_runs(
        filter_string="params.lr = '0.1' and metrics.loss < 0.5",
        order_by=["metrics.loss ASC"],
    )
    assert list(found["run_id"]) == [parent.info.run_id]
    found = client.search_runs(
        [parent.info.experiment_id],
        filter_string="attributes.status = 'FINISHED' and tags.mlflow.runName LIKE 'fold%'",
    )
    assert [r.info.run_id for r in found] == [child.info.run_id]

    # log_model + register_model + alias + load_model("models:/name@alias") + predict.
    model = LogisticRegression(max_iter=200).fit(x, y)
    with mlflow.start_run(run_name="final") as final:
        info = mlflow.sklearn.log_model(model, name="model", input_example=x.head(3))
    version = mlflow.register_model(info.model_uri, "shopper-churn")
    assert version.version == "1"
    client.set_registered_model_alias("shopper-churn", "champion", version.version)
    loaded = mlflow.pyfunc.load_model("models:/shopper-churn@champion")
    assert list(loaded.predict(x.head(20))) == list(model.predict(x.head(20)))
    by_alias = client.get_model_version_by_alias("shopper-churn", "champion")
    assert by_alias.run_id == final.info.run_id

    # The version is a Griffin model version, with lineage to its run.
    env = {**os.environ, "GRIFFIN_URL": mlflow.get_tracking_uri()}
    env["GRIFFIN_TOKEN"] = os.environ["MLFLOW_TRACKING_TOKEN"]
    shown = subprocess.run(
        [str(GRIFFIN), "models", "version", "shopper-churn@champion", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    griffin_version = json.loads(shown.stdout)
    assert griffin_version["lineage"]["run_id"] == final.info.run_id
    assert griffin_version["flavor"] == "mlflow"
