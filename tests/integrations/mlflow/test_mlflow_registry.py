"""The real MLflow client against Griffin's registry endpoints, and their wire format."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.platform import Platform
from griffin.registry import versions
from griffin.serving.deployments import create_deployment

mlflow = pytest.importorskip("mlflow")
from mlflow.exceptions import MlflowException  # noqa: E402

API = "/api/2.0/mlflow"
ADMIN = Principal(user="ana", project=ALL_PROJECTS, role=Role.ADMIN)


def _run_with_folder(mlflow_client: Any, path: str = "model") -> str:
    """A finished run with params and a metric; the version's files are ``path`` in it."""
    with mlflow.start_run() as run:
        mlflow.log_param("lr", "0.1")
        mlflow.log_metric("auc", 0.91)
    return str(run.info.run_id)


def _error_code(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(MlflowException) as info:
        call(*args, **kwargs)
    return str(info.value.error_code)


def test_registered_models_create_get_search_and_errors(mlflow_client: Any) -> None:
    made = mlflow_client.create_registered_model("churn", tags={"team": "growth"}, description="d")
    assert made.name == "churn"
    assert made.description == "d"
    assert made.tags == {"team": "growth"}
    mlflow_client.create_registered_model("churn_v2")
    mlflow_client.create_registered_model("eta", tags={"team": "ops"})
    assert _error_code(mlflow_client.create_registered_model, "churn") == "RESOURCE_ALREADY_EXISTS"
    got = mlflow_client.get_registered_model("churn")
    assert got.creation_timestamp > 0
    assert got.latest_versions == []

    def names(**kwargs: Any) -> list[str]:
        return [m.name for m in mlflow_client.search_registered_models(**kwargs)]

    assert names() == ["churn", "churn_v2", "eta"]
    assert names(filter_string="name = 'eta'") == ["eta"]
    assert names(filter_string="name LIKE 'churn%'") == ["churn", "churn_v2"]
    assert names(filter_string="name ILIKE '%CHURN_V%'") == ["churn_v2"]
    assert names(filter_string="tags.team = 'growth'") == ["churn"]
    assert names(order_by=["name DESC"]) == ["eta", "churn_v2", "churn"]
    page = mlflow_client.search_registered_models(max_results=2)
    assert [m.name for m in page] == ["churn", "churn_v2"]
    assert page.token
    rest = mlflow_client.search_registered_models(max_results=2, page_token=page.token)
    assert [m.name for m in rest] == ["eta"]
    assert not rest.token
    assert _error_code(mlflow_client.get_registered_model, "nope") == "RESOURCE_DOES_NOT_EXIST"
    bad = _error_code(mlflow_client.search_registered_models, filter_string="name ~ 'x'")
    assert bad == "INVALID_PARAMETER_VALUE"


def test_registered_model_update_tags_rename_delete(mlflow_client: Any) -> None:
    mlflow_client.create_registered_model("m1")
    mlflow_client.update_registered_model("m1", description="new words")
    mlflow_client.set_registered_model_tag("m1", "owner", "ana")
    mlflow_client.set_registered_model_tag("m1", "tier", "gold")
    mlflow_client.delete_registered_model_tag("m1", "tier")
    got = mlflow_client.get_registered_model("m1")
    assert got.description == "new words"
    assert got.tags == {"owner": "ana"}
    mlflow_client.rename_registered_model("m1", "m2")
    assert mlflow_client.get_registered_model("m2").tags == {"owner": "ana"}
    assert _error_code(mlflow_client.get_registered_model, "m1") == "RESOURCE_DOES_NOT_EXIST"
    mlflow_client.delete_registered_model("m2")
    assert _error_code(mlflow_client.get_registered_model, "m2") == "RESOURCE_DOES_NOT_EXIST"


# The deprecated stage APIs warn on every call; Griffin serves them for old scripts.
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_versions_from_runs_sources_aliases_stages_and_search(
    mlflow_client: Any, platform: Platform
) -> None:
    run_id = _run_with_folder(mlflow_client)
    mlflow_client.create_registered_model("clf")
    v1 = mlflow_client.create_model_version("clf", f"runs:/{run_id}/model", run_id=run_id)
    v2 = mlflow_client.create_model_version("clf", f"runs:/{run_id}/model", tags={"k": "v"})
    assert (v1.version, v2.version) == ("1", "2")
    assert v1.status == "READY"
    assert v1.current_stage == "None"
    assert v1.run_id == run_id
    assert v1.source == f"runs:/{run_id}/model"
    assert v2.tags == {"k": "v"}

    # Aliases: set, read back everywhere, move, delete.
    mlflow_client.set_registered_model_alias("clf", "champion", "1")
    by_alias = mlflow_client.get_model_version_by_alias("clf", "champion")
    assert by_alias.version == "1"
    assert by_alias.aliases == ["champion"]
    assert mlflow_client.get_registered_model("clf").aliases == {"champion": "1"}
    mlflow_client.set_registered_model_alias("clf", "champion", "2")
    assert mlflow_client.get_model_version("clf", "2").aliases == ["champion"]
    mlflow_client.delete_registered_model_alias("clf", "champion")
    code = _error_code(mlflow_client.get_model_version_by_alias, "clf", "champion")
    assert code == "RESOURCE_DOES_NOT_EXIST"
    for reserved in ("latest", "v3"):
        code = _error_code(mlflow_client.set_registered_model_alias, "clf", reserved, "1")
        assert code == "INVALID_PARAMETER_VALUE"

    # Version tags and description.
    mlflow_client.set_model_version_tag("clf", "1", "checked", "yes")
    mlflow_client.delete_model_version_tag("clf", "2", "k")
    mlflow_client.update_model_version("clf", "1", description="first")
    one = mlflow_client.get_model_version("clf", "1")
    assert one.tags == {"checked": "yes"}
    assert one.description == "first"
    assert mlflow_client.get_model_version("clf", "2").tags == {}

    # Deprecated stages and the latest version of each.
    mlflow_client.transition_model_version_stage("clf", "1", "production")
    latest = mlflow_client.get_latest_versions("clf", stages=["Production"])
    assert [(v.version, v.current_stage) for v in latest] == [("1", "Production")]
    latest = {v.current_stage: v.version for v in mlflow_client.get_latest_versions("clf")}
    assert latest == {"None": "2", "Production": "1"}
    mlflow_client.transition_model_version_stage(
        "clf", "2", "Production", archive_existing_versions=True
    )
    assert mlflow_client.get_model_version("clf", "1").current_stage == "Archived"

    # Searching versions.
    found = mlflow_client.search_model_versions(f"run_id = '{run_id}'")
    assert sorted(v.version for v in found) == ["1", "2"]
    found = mlflow_client.search_model_versions("name = 'clf' AND tags.checked = 'yes'")
    assert [v.version for v in found] == ["1"]
    assert mlflow_client.search_model_versions("name = 'other'") == []
    # MLflow takes a version number quoted or not.
    for version_filter in ("version_number = '2'", "name = 'clf' AND version_number > 1"):
        assert [v.version for v in mlflow_client.search_model_versions(version_filter)] == ["2"]

    # The download URI is the run folder, through the artifact proxy.
    uri = mlflow_client.get_model_version_download_uri("clf", "1")
    assert uri.startswith("mlflow-artifacts:/")
    assert uri.endswith(f"/{run_id}/artifacts/model")

    # The version is a normal Griffin version, with the run's lineage, params and metrics.
    page = versions.list_versions(platform.db, ADMIN, platform.settings.project, "clf")
    griffin_v1 = next(v for v in page.items if v.version == 1)
    assert griffin_v1.flavor == "mlflow"
    assert griffin_v1.lineage.run_id == run_id
    assert griffin_v1.source == f"runs:/{run_id}/model"
    assert griffin_v1.params == {"lr": "0.1"}
    assert griffin_v1.metrics == {"auc": 0.91}

    # Deleting a version drops its aliases; numbers are not handed out again.
    mlflow_client.set_registered_model_alias("clf", "old", "1")
    mlflow_client.delete_model_version("clf", "1")
    assert _error_code(mlflow_client.get_model_version, "clf", "1") == "RESOURCE_DOES_NOT_EXIST"
    assert mlflow_client.get_registered_model("clf").aliases == {}
    v3 = mlflow_client.create_model_version("clf", f"runs:/{run_id}/model")
    assert v3.version == "3"
    # With the newest deleted, "latest" is the newest that is left (not "no versions yet").
    mlflow_client.delete_model_version("clf", "3")
    latest = versions.get_version(platform.db, ADMIN, platform.settings.project, "clf", "latest")
    assert latest.version == 2


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_version_errors_and_refused_sources(mlflow_client: Any, platform: Platform) -> None:
    run_id = _run_with_folder(mlflow_client)
    mlflow_client.create_registered_model("clf")
    code = _error_code(mlflow_client.create_model_version, "nope", f"runs:/{run_id}/model")
    assert code == "RESOURCE_DOES_NOT_EXIST"
    assert _error_code(mlflow_client.get_model_version, "clf", "9") == "RESOURCE_DOES_NOT_EXIST"
    for source in (
        "/etc/passwd",
        "file:///etc/passwd",
        "s3://bucket/model",
        "http://evil.example/model",
        f"runs:/{run_id}/../../other",
        f"runs:/{run_id}/a/%2e%2e/b",
        "mlflow-artifacts://host/x/y/artifacts/model",
        f"mlflow-artifacts:/another-project/{run_id}/artifacts/model",
        "models:/m-0123456789abcdef0123456789abcdef",
    ):
        code = _error_code(mlflow_client.create_model_version, "clf", source)
        assert code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"), source
    code = _error_code(
        mlflow_client.create_model_version, "clf", f"runs:/{run_id}/model", run_id="other"
    )
    assert code == "INVALID_PARAMETER_VALUE"
    code = _error_code(mlflow_client.transition_model_version_stage, "clf", "1", "Nope")
    assert code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")

    # A model a deployment serves can be neither renamed nor deleted from under it.
    mlflow_client.create_model_version("clf", f"runs:/{run_id}/model")
    mlflow_client.set_registered_model_alias("clf", "live", "1")
    create_deployment(platform.db, ADMIN, platform.settings.project, "live", {"model": "clf@live"})
    assert _error_code(mlflow_client.delete_registered_model, "clf") == "INVALID_PARAMETER_VALUE"
    code = _error_code(mlflow_client.rename_registered_model, "clf", "clf2")
    assert code == "INVALID_PARAMETER_VALUE"
    assert mlflow_client.get_registered_model("clf").aliases == {"live": "1"}


@pytest.mark.anyio
async def test_wire_format_of_versions_and_aliases(client: httpx.AsyncClient) -> None:
    run = (await client.post(f"{API}/runs/create", json={"experiment_id": "0"})).json()
    run_id = run["run"]["info"]["run_id"]
    project_id = run["run"]["info"]["artifact_uri"].split("/")[1]
    answer = await client.post(f"{API}/registered-models/create", json={"name": "wire"})
    assert answer.status_code == 200
    assert answer.json()["registered_model"]["name"] == "wire"
    again = await client.post(f"{API}/registered-models/create", json={"name": "wire"})
    assert again.status_code == 400
    assert again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    source = f"mlflow-artifacts:/{project_id}/{run_id}/artifacts/model"
    made = await client.post(
        f"{API}/model-versions/create", json={"name": "wire", "source": source}
    )
    assert made.status_code == 200, made.text
    version = made.json()["model_version"]
    assert version["version"] == "1"
    assert isinstance(version["creation_timestamp"], int)
    assert version["source"] == source
    assert version["run_id"] == run_id
    assert version["status"] == "READY"
    assert version["current_stage"] == "None"
    await client.post(
        f"{API}/registered-models/alias", json={"name": "wire", "alias": "prod", "version": "1"}
    )
    got = await client.get(
        f"{API}/registered-models/alias", params={"name": "wire", "alias": "prod"}
    )
    assert got.status_code == 200
    assert got.json()["model_version"]["aliases"] == ["prod"]
    model = (await client.get(f"{API}/registered-models/get", params={"name": "wire"})).json()
    assert model["registered_model"]["aliases"] == [{"alias": "prod", "version": "1"}]
    assert [v["version"] for v in model["registered_model"]["latest_versions"]] == ["1"]
    missing = await client.get(
        f"{API}/registered-models/alias", params={"name": "nope", "alias": "prod"}
    )
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # Under a project's tracking URI, another project sees none of it.
    other = await client.get(
        "/projects/other/api/2.0/mlflow/registered-models/alias",
        params={"name": "wire", "alias": "prod"},
    )
    assert other.status_code == 404
