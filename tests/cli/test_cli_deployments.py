"""`griffin deployments` on the embedded store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Invoke, assert_one_line_error

from griffin.client import Client
from griffin.config import load_settings


@pytest.fixture
def client() -> Iterator[Client]:
    """Model ``eta`` with versions 1-3, ``champion`` on 2 and ``challenger`` on 3, on the
    settings the CLI reads (the test's GRIFFIN_HOME)."""
    with Client(settings=load_settings()) as opened:
        run = opened.create_run("deployments")
        for _ in range(3):
            opened.create_model_version("eta", f"runs:/{run.id}/model", "sklearn")
        opened.set_model_alias("eta", "champion", 2)
        opened.set_model_alias("eta", "challenger", 3)
        yield opened


def test_create_canary_roll_back_list_and_show(
    client: Client, cli: Invoke, cli_json: Callable[..., Any]
) -> None:
    created = cli_json(
        "deployments", "create", "eta-prod", "eta@champion", "--max-batch-size", "64",
        "--description", "ETA", "--allow-degraded",
    )  # fmt: skip
    assert created["revision"] == 1
    assert created["config"]["traffic"] == [{"ref": "eta@champion", "weight": 100}]
    assert (created["config"]["max_batch_size"], created["config"]["allow_degraded"]) == (64, True)
    canary = cli_json(
        "deployments", "update", "eta-prod", "-t", "eta@champion=90", "-t", "eta@challenger=10",
        "--shadow", "eta/1", "-m", "canary",
    )  # fmt: skip
    assert canary["revision"] == 2
    assert canary["config"]["shadows"] == ["eta/1"]
    unshadowed = cli_json("deployments", "update", "eta-prod", "--no-shadows")
    assert (unshadowed["revision"], unshadowed["config"]["shadows"]) == (3, [])
    back = cli_json("deployments", "rollback", "eta-prod", "--to-revision", "1", "-m", "undo")
    assert (back["revision"], back["config"]) == (4, created["config"])
    listed = cli_json("deployments", "list")
    assert [(d["name"], d["revision"]) for d in listed] == [("eta-prod", 4)]
    shown = cli_json("deployments", "show", "eta-prod")
    assert [(r["revision"], r["action"], r["rolled_back_to"]) for r in shown["revisions"]] == [
        (4, "rollback", 1),
        (3, "update", None),
        (2, "update", None),
        (1, "create", None),
    ]
    text = cli("deployments", "show", "eta-prod")
    assert text.exit_code == 0
    assert "rollback to 1" in text.stdout
    assert "revisions" in text.stdout  # (the table's width follows the terminal's)
    table = cli("deployments", "list")
    assert "eta@champion 100%" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "eta", "eta@nightly"], "has no alias 'nightly'"),
        (["create", "eta", "-t", "eta@champion=60"], "add up to 60"),
        (["create", "eta", "-t", "eta@champion"], "use REF=WEIGHT"),
        (["create", "Eta", "eta@champion"], "invalid deployment name"),
        (["create", "eta", "eta@champion", "--workers", "0"], "workers must be an integer"),
        (["rollback", "nope"], "unknown deployment 'nope'"),
    ],
)
def test_bad_input_is_one_line(client: Client, cli: Invoke, args: list[str], message: str) -> None:
    result = cli("deployments", *args)
    assert result.exit_code != 0
    assert_one_line_error(result, message)


def test_nothing_to_list(cli: Invoke) -> None:
    result = cli("deployments", "list")
    assert result.exit_code == 0
    assert "no deployments" in result.stderr  # a hint for people, not output


def test_serve_builds_the_inference_server(
    client: Client, cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from griffin.serving.server import InferenceServer

    client.create_deployment("eta", "eta@champion")
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    result = cli("serve", "eta", "--port", "7001", "--poll-interval", "0.5")
    assert result.exit_code == 0, result.output
    assert "POST /v1/deployments/eta/predict" in result.stdout
    [(app, options)] = calls
    assert isinstance(app, InferenceServer)
    assert (app.names, app.poll_s, app.project) == (["eta"], 0.5, "default")
    assert (options["host"], options["port"], options["access_log"]) == ("127.0.0.1", 7001, False)
    assert app.prediction_log is not None
    assert app.prediction_log.offline_root == load_settings().resolved_offline_root
    quiet = cli("serve", "eta", "--no-log")
    assert quiet.exit_code == 0, quiet.output
    assert calls[-1][0].prediction_log is None
    exposed = cli("serve", "eta", "--host", "0.0.0.0")
    assert_one_line_error(exposed, "refusing to serve on 0.0.0.0")


def test_serve_with_workers_hands_each_worker_what_to_serve(
    client: Client, cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from griffin.serving.server import SERVE_ENV, InferenceServer, app_from_env

    client.create_deployment("eta", "eta@champion")
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    monkeypatch.setenv(SERVE_ENV, "")  # restored after the test: the command sets it
    result = cli("serve", "eta", "--workers", "3", "--no-log", "--poll-interval", "0.5")
    assert result.exit_code == 0, result.output
    [(target, options)] = calls
    assert (target, options["workers"], options["factory"]) == (
        "griffin.serving.server:app_from_env",
        3,
        True,
    )
    # What one worker process builds from the environment the command left.
    app = app_from_env()
    assert isinstance(app, InferenceServer)
    assert (app.names, app.poll_s, app.prediction_log) == (["eta"], 0.5, None)
    assert len(app.closers) == 2
    for close in app.closers:
        close()


def test_manifest_writes_kubernetes_objects_without_secrets(
    client: Client, cli: Invoke, tmp_path: Path
) -> None:
    import kubernetes_validate
    import yaml

    run = client.create_run("manifest")
    client.create_model_version(
        "churn", f"runs:/{run.id}/model", "sklearn", lineage={"runtime": "sklearn-1"}
    )
    client.set_model_alias("churn", "champion", 1)
    client.create_deployment("churn-prod", "churn@champion", workers=2, replicas=2)
    # The token and the database the CLI uses must never reach the manifest.
    _, token = client.create_token("ci", "admin", project="*")
    env = {"GRIFFIN_TOKEN": token}
    database = load_settings().resolved_database_url
    result = cli(
        "deployments", "manifest", "churn-prod", "-n", "ml", "--registry", "ghcr.io/acme",
        "--memory", "3Gi", env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert token not in result.stdout
    assert database not in result.stdout
    assert result.stdout.startswith("# Generated by `griffin deployments manifest churn-prod`")
    objects = list(yaml.safe_load_all(result.stdout))
    assert [o["kind"] for o in objects] == ["Deployment", "Service"]
    for obj in objects:
        kubernetes_validate.validate(obj, "1.30", strict=True)
    [container] = objects[0]["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("ghcr.io/acme/griffin-sklearn-1:")
    assert container["resources"]["requests"] == {"cpu": "2", "memory": "3Gi"}
    assert objects[0]["spec"]["replicas"] == 2

    path = tmp_path / "churn.json"
    written = cli(
        "deployments", "manifest", "churn-prod", "--json", "-o", str(path),
        "--image", "ghcr.io/acme/churn:1", "--secret", "churn-secrets", env=env,
    )  # fmt: skip
    assert written.exit_code == 0, written.output
    assert written.stdout == ""
    assert str(path) in written.stderr
    listed = json.loads(path.read_text())
    assert (listed["kind"], [o["kind"] for o in listed["items"]]) == (
        "List",
        ["Deployment", "Service"],
    )
    [container] = listed["items"][0]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "ghcr.io/acme/churn:1"
    assert container["envFrom"][1] == {"secretRef": {"name": "churn-secrets"}}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "unknown deployment 'nope'"),
        (["eta"], "no runtime is recorded for eta@champion (v2)"),
        (["eta", "--image", "x:1", "--cpu", "lots"], "--cpu 'lots' is not a Kubernetes quantity"),
    ],
)
def test_manifest_bad_input_is_one_line(
    client: Client, cli: Invoke, args: list[str], message: str
) -> None:
    client.create_deployment("eta", "eta@champion")
    assert_one_line_error(cli("deployments", "manifest", *args), message)
