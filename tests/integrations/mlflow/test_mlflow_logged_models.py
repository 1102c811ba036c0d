"""MLflow 3's logged models against Griffin, and the whole log -> register -> load flow."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.platform import Platform
from griffin.registry import versions

mlflow = pytest.importorskip("mlflow")
from mlflow.entities import LoggedModelStatus  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

API = "/api/2.0/mlflow"
ADMIN = Principal(user="ana", project=ALL_PROJECTS, role=Role.ADMIN)


def test_logged_model_lifecycle_with_the_client(mlflow_client: Any) -> None:
    with mlflow.start_run() as run:
        pass
    experiment_id = run.info.experiment_id
    model = mlflow_client.create_logged_model(
        experiment_id,
        name="clf",
        source_run_id=run.info.run_id,
        params={"alpha": "0.5"},
        tags={"team": "growth"},
        model_type="classifier",
    )
    assert model.model_id.startswith("m-")
    assert len(model.model_id) == 34
    assert model.status == LoggedModelStatus.PENDING
    assert model.source_run_id == run.info.run_id
    assert model.experiment_id == experiment_id
    assert model.params == {"alpha": "0.5"}
    assert model.tags["team"] == "growth"
    assert model.artifact_location.endswith(
        f"/{run.info.run_id}/artifacts/logged_models/{model.model_id}"
    )
    ready = mlflow_client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert ready.status == LoggedModelStatus.READY
    mlflow_client.set_logged_model_tags(model.model_id, {"stage": "dev"})
    mlflow_client.delete_logged_model_tag(model.model_id, "team")
    mlflow_client.log_model_params(model.model_id, {"beta": "2"})
    got = mlflow_client.get_logged_model(model.model_id)
    assert got.tags.get("stage") == "dev"
    assert "team" not in got.tags
    assert got.params == {"alpha": "0.5", "beta": "2"}
    assert got.model_type == "classifier"

    other = mlflow_client.create_logged_model(experiment_id, name="other")
    assert other.source_run_id
    assert other.source_run_id != run.info.run_id
    holder = mlflow_client.get_run(other.source_run_id)
    assert holder.info.status == "FINISHED"
    assert holder.info.run_name == "other"

    def names(**kwargs: Any) -> list[str]:
        found = mlflow_client.search_logged_models(experiment_ids=[experiment_id], **kwargs)
        return [m.name for m in found]

    assert names() == ["other", "clf"]  # newest first
    assert names(filter_string="name = 'clf'") == ["clf"]
    assert names(filter_string="tags.stage = 'dev' AND params.alpha = '0.5'") == ["clf"]
    assert names(order_by=[{"field_name": "name", "ascending": True}]) == ["clf", "other"]
    page = mlflow_client.search_logged_models(experiment_ids=[experiment_id], max_results=1)
    assert len(page) == 1
    assert page.token

    mlflow_client.delete_logged_model(other.model_id)
    with pytest.raises(MlflowException) as info:
        mlflow_client.get_logged_model(other.model_id)
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.anyio
async def test_logged_model_wire_format_and_errors(client: httpx.AsyncClient) -> None:
    made = await client.post(f"{API}/logged-models", json={"experiment_id": "0", "name": "w"})
    assert made.status_code == 200, made.text
    info = made.json()["model"]["info"]
    assert info["status"] == "LOGGED_MODEL_PENDING"
    assert info["experiment_id"] == "0"
    assert isinstance(info["creation_timestamp_ms"], int)
    assert info["artifact_uri"].startswith("mlflow-artifacts:/")
    model_id = info["model_id"]
    bad = await client.patch(f"{API}/logged-models/{model_id}", json={"status": "PENDING"})
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    done = await client.patch(f"{API}/logged-models/{model_id}", json={"status": 2})
    assert done.json()["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    missing = await client.get(f"{API}/logged-models/m-00000000000000000000000000000000")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    no_exp = await client.post(f"{API}/logged-models", json={"experiment_id": "nope"})
    assert no_exp.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    no_run = await client.post(
        f"{API}/logged-models", json={"experiment_id": "0", "source_run_id": "nope"}
    )
    assert no_run.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    metric_filter = await client.post(
        f"{API}/logged-models/search",
        json={"experiment_ids": ["0"], "filter": "metrics.acc > 0.5"},
    )
    assert metric_filter.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    by_status = await client.post(
        f"{API}/logged-models/search", json={"experiment_ids": ["0"], "filter": "status = 'READY'"}
    )
    assert [m["info"]["model_id"] for m in by_status.json()["models"]] == [model_id]
    # Another project cannot see it.
    other = await client.get(f"/projects/other/api/2.0/mlflow/logged-models/{model_id}")
    assert other.status_code == 404


def test_log_register_alias_and_load_the_whole_flow(mlflow_client: Any, platform: Platform) -> None:
    sklearn = pytest.importorskip("sklearn.linear_model")
    pandas = pytest.importorskip("pandas")
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import infer_signature

    features = pandas.DataFrame({"x": [0.0, 1.0, 0.5, 1.0], "y": [1.0, 0.0, 0.5, 1.0]})
    labels = [0, 1, 0, 1]
    classifier = sklearn.LogisticRegression().fit(features, labels)
    mlflow.set_experiment("flow")
    with mlflow.start_run() as run:
        mlflow.log_param("C", "1.0")
        mlflow.log_metric("acc", 1.0)
        info = mlflow.sklearn.log_model(
            classifier,
            name="model",
            signature=infer_signature(features),
            # skops (the default) is not installed; given requirements spare the seconds of
            # inferring them in a subprocess.
            serialization_format="cloudpickle",
            pip_requirements=[],
        )
    assert mlflow_client.get_logged_model(info.model_id).status == LoggedModelStatus.READY

    registered = mlflow.register_model(f"runs:/{run.info.run_id}/model", "flow_clf")
    assert registered.version == "1"
    again = mlflow.register_model(f"models:/{info.model_id}", "flow_clf")
    assert again.version == "2"
    mlflow_client.set_registered_model_alias("flow_clf", "champion", "2")
    loaded = mlflow.pyfunc.load_model("models:/flow_clf@champion")
    assert list(loaded.predict(features)) == list(classifier.predict(features))

    page = versions.list_versions(platform.db, ADMIN, platform.settings.project, "flow_clf")
    newest = page.items[0]
    assert newest.flavor == "mlflow"
    assert newest.lineage.run_id == run.info.run_id
    assert newest.source == f"runs:/{run.info.run_id}/logged_models/{info.model_id}"
    assert newest.params.get("C") == "1.0"
    assert newest.metrics.get("acc") == 1.0
    assert newest.signature, "the MLmodel's signature becomes the Griffin signature"
    tags = mlflow_client.get_logged_model(info.model_id).tags
    assert "flow_clf" in tags.get("mlflow.modelVersions", "")
