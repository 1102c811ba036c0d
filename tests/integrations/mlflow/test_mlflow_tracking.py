"""The real MLflow client against Griffin's tracking endpoints."""

from __future__ import annotations

import time
from typing import Any

import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402


def test_fluent_logging_round_trip(mlflow_client: Any) -> None:
    mlflow.set_experiment("churn")
    with mlflow.start_run(run_name="baseline") as run:
        mlflow.log_param("lr", 0.1)
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.set_tag("team", "growth")
    got = mlflow_client.get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "baseline"
    assert got.data.params == {"lr": "0.1"}
    assert got.data.metrics["loss"] == pytest.approx(1 / 3)
    assert got.data.tags["team"] == "growth"
    history = mlflow_client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2]


def test_experiments_lifecycle(mlflow_client: Any) -> None:
    exp_id = mlflow_client.create_experiment("exp-a", tags={"owner": "ana"})
    got = mlflow_client.get_experiment(exp_id)
    assert got.name == "exp-a"
    assert got.tags["owner"] == "ana"
    assert got.lifecycle_stage == "active"
    assert got.artifact_location.startswith("mlflow-artifacts:/")
    assert mlflow_client.get_experiment_by_name("exp-a").experiment_id == exp_id
    assert mlflow_client.get_experiment_by_name("nope") is None
    with pytest.raises(MlflowException) as exc:
        mlflow_client.create_experiment("exp-a")
    assert exc.value.error_code == "RESOURCE_ALREADY_EXISTS"
    mlflow_client.set_experiment_tag(exp_id, "stage", "dev")
    mlflow_client.delete_experiment_tag(exp_id, "owner")
    tags = mlflow_client.get_experiment(exp_id).tags
    assert tags.get("stage") == "dev"
    assert "owner" not in tags
    mlflow_client.rename_experiment(exp_id, "exp-b")
    assert mlflow_client.get_experiment(exp_id).name == "exp-b"
    mlflow_client.delete_experiment(exp_id)
    assert mlflow_client.get_experiment(exp_id).lifecycle_stage == "deleted"
    names = [e.name for e in mlflow_client.search_experiments()]
    assert "exp-b" not in names
    deleted = mlflow_client.search_experiments(view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert [e.name for e in deleted] == ["exp-b"]
    mlflow_client.restore_experiment(exp_id)
    assert mlflow_client.get_experiment(exp_id).lifecycle_stage == "active"
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_experiment("does-not-exist")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_search_experiments_filters_orders_and_pages(mlflow_client: Any) -> None:
    for name in ["alpha", "beta", "gamma"]:
        mlflow_client.create_experiment(name, tags={"kind": "x" if name != "beta" else "y"})
    found = mlflow_client.search_experiments(filter_string="name LIKE '%a%'", order_by=["name"])
    assert [e.name for e in found] == ["alpha", "beta", "gamma"]
    found = mlflow_client.search_experiments(
        filter_string="tags.kind = 'x'", order_by=["name DESC"]
    )
    assert [e.name for e in found] == ["gamma", "alpha"]
    # Bare attributes, and "name" inside a value is only text.
    found = mlflow_client.search_experiments(
        filter_string="creation_time > 0 and NAME != 'x and name = beta' and last_update_time > 0",
        order_by=["name"],
    )
    assert [e.name for e in found][-3:] == ["alpha", "beta", "gamma"]
    page = mlflow_client.search_experiments(max_results=2, order_by=["name"])
    assert len(page) == 2
    assert page.token
    rest = mlflow_client.search_experiments(max_results=2, order_by=["name"], page_token=page.token)
    assert [e.name for e in [*page, *rest]][:3] == ["Default", "alpha", "beta"] or len(rest) >= 1


def test_nested_runs_and_default_experiment(mlflow_client: Any) -> None:
    with (
        mlflow.start_run(run_name="parent") as parent,
        mlflow.start_run(run_name="child", nested=True) as child,
    ):
        mlflow.log_metric("m", 1.0)
    assert parent.info.experiment_id == "0"
    got = mlflow_client.get_run(child.info.run_id)
    assert got.data.tags["mlflow.parentRunId"] == parent.info.run_id
    children = mlflow_client.search_runs(
        ["0"], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert [r.info.run_id for r in children] == [child.info.run_id]


def test_log_batch_at_the_limits(mlflow_client: Any) -> None:
    run = mlflow_client.create_run("0")
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    metrics = [Metric("loss", float(i), now, i) for i in range(900)]
    params = [Param(f"p{i}", str(i)) for i in range(50)]
    tags = [RunTag(f"t{i}", "v") for i in range(50)]
    mlflow_client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    got = mlflow_client.get_run(run_id)
    assert len(got.data.params) == 50
    assert got.data.metrics["loss"] == 899.0
    assert len(mlflow_client.get_metric_history(run_id, "loss")) == 900
    # The client splits big batches itself; the server must refuse one over MLflow's limits.
    from mlflow.protos.service_pb2 import LogBatch
    from mlflow.utils.rest_utils import MlflowHostCreds, call_endpoint

    creds = MlflowHostCreds(mlflow_client.tracking_uri)
    over = [{"key": "m", "value": 1.0, "timestamp": now, "step": i} for i in range(1001)]
    for body, message in [
        ({"run_id": run_id, "metrics": over}, "at most 1000 metrics"),
        (
            {"run_id": run_id, "params": [{"key": f"k{i}", "value": "v"} for i in range(101)]},
            "at most 100 params",
        ),
    ]:
        import json

        with pytest.raises(MlflowException) as exc:
            call_endpoint(
                creds, "/api/2.0/mlflow/runs/log-batch", "POST", json.dumps(body), LogBatch.Response
            )
        assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
        assert message in exc.value.message


def test_bad_input_is_refused_with_mlflow_codes(mlflow_client: Any) -> None:
    run_id = mlflow_client.create_run("0").info.run_id
    cases = [
        lambda: mlflow_client.log_metric(run_id, "bad\x00key", 1.0),
        lambda: mlflow_client.log_metric(run_id, "../up", 1.0),
        lambda: mlflow_client.log_param(run_id, "p", "x" * 6001),
    ]
    for case in cases:
        with pytest.raises(MlflowException) as exc:
            case()
        assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
    mlflow_client.log_param(run_id, "p", "1")
    with pytest.raises(MlflowException) as exc:
        mlflow_client.log_param(run_id, "p", "2")
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_run("0123456789abcdef0123456789abcdef")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as exc:
        mlflow_client.log_metric("0123456789abcdef0123456789abcdef", "m", 1.0)
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as exc:
        mlflow_client.create_run("0123456789abcdef0123456789abcdef")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert "No Experiment with id=" in exc.value.message


def test_run_lifecycle_tags_and_resume(mlflow_client: Any) -> None:
    run_id = mlflow_client.create_run("0", run_name="r1").info.run_id
    mlflow_client.set_tag(run_id, "a", "1")
    mlflow_client.delete_tag(run_id, "a")
    assert "a" not in mlflow_client.get_run(run_id).data.tags
    with pytest.raises(MlflowException) as exc:
        mlflow_client.delete_tag(run_id, "a")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    mlflow_client.set_terminated(run_id, "FAILED")
    assert mlflow_client.get_run(run_id).info.status == "FAILED"
    # start_run(run_id=...) reopens a finished run, as on MLflow's server.
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metric("after", 2.0)
    got = mlflow_client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.data.metrics["after"] == 2.0
    mlflow_client.update_run(run_id, name="renamed")
    assert mlflow_client.get_run(run_id).info.run_name == "renamed"
    mlflow_client.delete_run(run_id)
    assert mlflow_client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert mlflow_client.search_runs(["0"]) == []
    deleted = mlflow_client.search_runs(["0"], run_view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run_id]
    mlflow_client.restore_run(run_id)
    assert mlflow_client.get_run(run_id).info.lifecycle_stage == "active"
    # MLflow lets a finished run be ended again, or end otherwise.
    mlflow_client.set_terminated(run_id, "FINISHED")
    mlflow_client.set_terminated(run_id, "KILLED")
    assert mlflow_client.get_run(run_id).info.status == "KILLED"


def test_search_runs_filters_orders_and_pages(mlflow_client: Any) -> None:
    exp = mlflow_client.create_experiment("search")
    for i in range(7):
        run = mlflow_client.create_run(exp, run_name=f"r{i}", tags={"team": "a" if i % 2 else "b"})
        mlflow_client.log_param(run.info.run_id, "model", "rf" if i < 4 else "gbm")
        mlflow_client.log_metric(run.info.run_id, "acc", i / 10)
        mlflow_client.set_terminated(run.info.run_id)
    found = mlflow_client.search_runs(
        [exp],
        filter_string="params.model = 'rf' and metrics.acc > 0.05 and tags.team LIKE 'a%'",
        order_by=["metrics.acc DESC"],
    )
    assert [r.info.run_name for r in found] == ["r3", "r1"]
    found = mlflow_client.search_runs([exp], filter_string="attributes.status = 'FINISHED'")
    assert len(found) == 7
    first = mlflow_client.search_runs([exp], max_results=3, order_by=["metrics.acc ASC"])
    assert [r.info.run_name for r in first] == ["r0", "r1", "r2"]
    assert first.token
    second = mlflow_client.search_runs(
        [exp], max_results=3, order_by=["metrics.acc ASC"], page_token=first.token
    )
    assert [r.info.run_name for r in second] == ["r3", "r4", "r5"]
    frame = mlflow.search_runs([exp], filter_string="params.model = 'gbm'")
    assert sorted(frame["tags.mlflow.runName"]) == ["r4", "r5", "r6"]
    with pytest.raises(MlflowException) as exc:
        mlflow_client.search_runs([exp], filter_string="params.model === 'x'")
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"


def test_sklearn_autolog_records_params_and_metrics(mlflow_client: Any) -> None:
    sklearn = pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression

    del sklearn
    mlflow.sklearn.autolog(log_models=False, log_datasets=True, silent=True)
    try:
        with mlflow.start_run() as run:
            LogisticRegression(C=0.5, max_iter=50).fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    finally:
        mlflow.sklearn.autolog(disable=True)
    got = mlflow_client.get_run(run.info.run_id)
    assert got.data.params["C"] == "0.5"
    assert "training_accuracy_score" in got.data.metrics
