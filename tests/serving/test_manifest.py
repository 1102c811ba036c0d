"""Kubernetes manifests of a deployment, each object checked against the Kubernetes schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest
import yaml

from griffin._version import __version__
from griffin.cli.serve import DEFAULT_PORT
from griffin.client import Client
from griffin.config import Settings
from griffin.errors import InvalidArgument
from griffin.serving.manifest import (
    SERVE_PORT,
    ManifestOptions,
    deployment_manifest,
    manifest_json,
    manifest_yaml,
    runtime_image,
)

# The oldest Kubernetes release still supported upstream when this was written, and the
# newest the installed schemas know: a manifest must apply to both.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())


def assert_valid(objects: list[dict[str, Any]]) -> None:
    for version in KUBERNETES_VERSIONS:
        for obj in objects:
            # strict: an unknown or misspelt field is an error, not silently dropped.
            kubernetes_validate.validate(obj, version, strict=True)


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    """Model ``eta``: v1 and v2 trained in sklearn-1, v3 in xgboost-1, v4 registered from a
    notebook (no runtime); ``champion`` on 2, ``challenger`` on 3."""
    with Client(settings=settings) as opened:
        run = opened.create_run("manifests")
        for runtime in ("sklearn-1", "sklearn-1", "xgboost-1", None):
            lineage = {"runtime": runtime} if runtime else None
            opened.create_model_version("eta", f"runs:/{run.id}/m", "sklearn", lineage=lineage)
        opened.set_model_alias("eta", "champion", 2)
        opened.set_model_alias("eta", "challenger", 3)
        yield opened


def test_the_objects_run_the_deployment_from_its_runtime_image(client: Client) -> None:
    client.create_deployment("eta-prod", "eta@champion", shadows=["eta/1"], workers=2, replicas=3)
    options = ManifestOptions(namespace="ml", registry="registry.example.com/ml/")
    objects = deployment_manifest(client, "eta-prod", options)
    assert_valid(objects)
    deployment, service = objects
    assert (deployment["kind"], service["kind"]) == ("Deployment", "Service")
    assert {o["metadata"]["namespace"] for o in objects} == {"ml"}
    assert deployment["metadata"]["annotations"]["griffin/runtime"] == "sklearn-1"
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == f"registry.example.com/ml/griffin-sklearn-1:{__version__}"
    assert container["command"] == [
        "griffin", "serve", "eta-prod", "--host", "0.0.0.0", "--port", "6570",
        "--workers", "2", "--auth", "--project", "default",
    ]  # fmt: skip
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    # 300 s of startup at one probe every 5 s before the pod is restarted.
    assert container["startupProbe"]["failureThreshold"] == 60
    assert container["resources"] == {
        "requests": {"cpu": "2", "memory": "2Gi"},
        "limits": {"memory": "2Gi"},
    }
    assert container["envFrom"] == [
        {"configMapRef": {"name": "griffin"}},
        {"secretRef": {"name": "griffin"}},
    ]
    # With tokens required, the server's own reads need one: by reference, never by value.
    assert container["env"] == [
        {
            "name": "GRIFFIN_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "griffin", "key": "GRIFFIN_TOKEN"}},
        }
    ]
    assert pod["securityContext"]["runAsUser"] == 10001
    annotations = spec["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == "6570"
    # The Service selects exactly the pods of this deployment.
    selector = service["spec"]["selector"]
    assert selector == spec["selector"]["matchLabels"]
    assert selector.items() <= spec["template"]["metadata"]["labels"].items()
    assert selector["app.kubernetes.io/instance"] == "eta-prod"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    assert container["ports"][0] == {"name": "http", "containerPort": 6570, "protocol": "TCP"}


def test_options_override_the_image_the_resources_and_the_settings_objects(
    client: Client,
) -> None:
    # A canary across runtimes needs an image that loads both: --image says which.
    client.create_deployment("eta", traffic={"eta@champion": 90, "eta@challenger": 10})
    options = ManifestOptions(
        image="ghcr.io/acme/serving:7",
        config_map="eta-settings",
        secret="eta-secrets",
        cpu="500m",
        memory="1536Mi",
        cpu_limit="2",
        memory_limit="2Gi",
        startup_timeout_s=62,
    )
    objects = deployment_manifest(client, "eta", options)
    assert_valid(objects)
    assert all("namespace" not in o["metadata"] for o in objects)
    deployment = objects[0]
    assert "griffin/runtime" not in deployment["metadata"]["annotations"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "ghcr.io/acme/serving:7"
    assert container["envFrom"] == [
        {"configMapRef": {"name": "eta-settings"}},
        {"secretRef": {"name": "eta-secrets"}},
    ]
    assert container["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "eta-secrets"
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1536Mi"},
        "limits": {"memory": "2Gi", "cpu": "2"},
    }
    assert container["startupProbe"]["failureThreshold"] == 13  # ceil(62 / 5)
    no_config_map = deployment_manifest(client, "eta", ManifestOptions(image="x:1", config_map=""))
    [container] = no_config_map[0]["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": "griffin"}}]
    assert_valid(no_config_map)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"traffic": {"eta@champion": 90, "eta@challenger": 10}},
            "different runtimes (sklearn-1: eta@champion (v2); xgboost-1: eta@challenger (v3))",
        ),
        ({"model": "eta/2", "shadows": ["eta/3"]}, "different runtimes"),
        ({"model": "eta/4"}, "no runtime is recorded for eta/4"),
    ],
)
def test_one_image_must_load_every_served_version(
    client: Client, spec: dict[str, Any], message: str
) -> None:
    client.create_deployment("eta", **spec)
    with pytest.raises(InvalidArgument, match="give --image") as raised:
        deployment_manifest(client, "eta", ManifestOptions())
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ManifestOptions(cpu="2 cores"), "--cpu '2 cores' is not a Kubernetes quantity"),
        (ManifestOptions(memory="0"), "--memory '0' is not a Kubernetes quantity"),
        (ManifestOptions(memory="2Gi", memory_limit="1Gi"), "memory limit 1Gi is below"),
        (ManifestOptions(cpu="1500m", cpu_limit="1"), "cpu limit 1 is below the request 1500m"),
        (ManifestOptions(namespace="ML"), "--namespace 'ML' is not a Kubernetes name"),
        (ManifestOptions(secret="a..b"), "--secret 'a..b' is not a Kubernetes name"),
        (ManifestOptions(secret=""), "the pod needs a Secret: its GRIFFIN_TOKEN"),
        (ManifestOptions(config_map="-x"), "--config-map '-x' is not a Kubernetes name"),
        (ManifestOptions(image="my image"), "invalid image"),
        (ManifestOptions(registry="my registry"), "invalid registry"),
        (ManifestOptions(startup_timeout_s=0), "startup_timeout_s"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(
    client: Client, options: ManifestOptions, message: str
) -> None:
    client.create_deployment("eta", "eta@champion")
    with pytest.raises(InvalidArgument) as raised:
        deployment_manifest(client, "eta", options)
    assert message in str(raised.value)


def test_quantities_compare_across_suffixes(client: Client) -> None:
    client.create_deployment("eta", "eta@champion")
    options = ManifestOptions(cpu="0.5", cpu_limit="500m", memory="1G", memory_limit="1Gi")
    [deployment, _] = deployment_manifest(client, "eta", options)
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["limits"] == {"memory": "1Gi", "cpu": "500m"}


def test_the_schema_check_rejects_a_broken_object(client: Client) -> None:
    """The validation the tests rely on does fail: a typo and a wrong type are caught."""
    client.create_deployment("eta", "eta@champion")
    deployment, service = deployment_manifest(client, "eta", ManifestOptions())
    misspelt = json.loads(json.dumps(deployment))
    misspelt["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, KUBERNETES_VERSIONS[0], strict=True)
    wrong_type = json.loads(json.dumps(service))
    wrong_type["spec"]["ports"][0]["port"] = "eighty"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, KUBERNETES_VERSIONS[0], strict=True)


def test_yaml_and_json_carry_the_same_objects(client: Client) -> None:
    client.create_deployment("eta", "eta@champion")
    objects = deployment_manifest(client, "eta", ManifestOptions())
    text = manifest_yaml(objects, header="first line\n\nthird line")
    assert text.startswith("# first line\n#\n# third line\n")
    assert list(yaml.safe_load_all(text)) == objects
    listed = json.loads(manifest_json(objects))
    assert (listed["apiVersion"], listed["kind"], listed["items"]) == ("v1", "List", objects)


def test_the_pod_port_is_griffin_serves_default() -> None:
    assert SERVE_PORT == DEFAULT_PORT
    assert runtime_image("sklearn-1") == f"griffin-sklearn-1:{__version__}"
