"""``griffin deployments``: create, update, roll back, list and show deployments, and write
their Kubernetes manifests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from griffin.cli.output import print_json, print_kv, print_note, print_table
from griffin.cli.state import JsonOpt, ProjectOpt, open_client
from griffin.domain.deployments import Deployment, DeploymentConfig, DeploymentRevision
from griffin.errors import InvalidArgument

app = typer.Typer(
    help="Deployments: registered models served behind an endpoint, and every change to them.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The deployment's name.")]
TrafficOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--traffic",
        "-t",
        metavar="REF=WEIGHT",
        help="A share of the traffic, e.g. `eta@champion=90` (repeat; weights add up to 100).",
        show_default=False,
    ),
]
ShadowOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--shadow",
        metavar="REF",
        help="A version that sees every request, its answers only logged (repeat).",
        show_default=False,
    ),
]
CommentOpt = Annotated[
    str, typer.Option("--comment", "-m", help="Why: recorded with the revision.")
]


def _opt(help_text: str) -> Any:
    return typer.Option(help=help_text, show_default=False)


# Options both create and update take (defaults apply on create; update keeps what is there).
StickyOpt = Annotated[
    str | None,
    _opt("Assign requests by this request field, so a key keeps its version (`''`: stop)."),
]
WorkersOpt = Annotated[int | None, _opt("Server worker processes (default 1).")]
ReplicasOpt = Annotated[int | None, _opt("Replicas on Kubernetes (default 1).")]
BatchOpt = Annotated[int | None, _opt("Most rows predicted in one batch (default 32).")]
LatencyOpt = Annotated[
    float | None, _opt("Most milliseconds a request waits for a batch to fill (default 2).")
]
RowsOpt = Annotated[int | None, _opt("Most rows one request may carry (default 1000).")]
DegradedOpt = Annotated[
    bool | None,
    typer.Option(
        "--allow-degraded/--no-allow-degraded",
        help="When the online store is down, predict from feature defaults, flagged.",
        show_default=False,
    ),
]


def _traffic(values: list[str] | None) -> list[dict[str, Any]] | None:
    if not values:
        return None
    routes = []
    for value in values:
        ref, sep, weight = value.rpartition("=")
        if not sep or not weight.strip().isdigit():
            raise InvalidArgument(
                f"--traffic {value!r}: use REF=WEIGHT, e.g. eta@champion=90",
                details={"field": "traffic"},
            )
        routes.append({"ref": ref.strip(), "weight": int(weight)})
    return routes


# The configuration fields the commands take as options, under the same names.
CONFIG_OPTIONS = (
    "sticky_key",
    "feature_service",
    "backend",
    "workers",
    "replicas",
    "max_batch_size",
    "max_latency_ms",
    "max_rows",
    "allow_degraded",
)


def _given(arguments: dict[str, Any]) -> dict[str, Any]:
    """The configuration options among a command's arguments."""
    return {k: v for k, v in arguments.items() if k in CONFIG_OPTIONS}


def _config(
    model: str | None,
    traffic: list[str] | None,
    shadow: list[str] | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    spec = {k: v for k, v in options.items() if v is not None}
    if model is not None:
        spec["model"] = model
    routes = _traffic(traffic)
    if routes is not None:
        spec["traffic"] = routes
    if shadow is not None:
        spec["shadows"] = list(shadow)
    return spec


@app.command("create")
def create_command(
    name: NameArg,
    model: Annotated[
        str | None,
        typer.Argument(
            metavar="[MODEL@ALIAS|MODEL/VERSION]",
            help="The version that gets all the traffic (or give --traffic).",
            show_default=False,
        ),
    ] = None,
    traffic: TrafficOpt = None,
    shadow: ShadowOpt = None,
    sticky_key: StickyOpt = None,
    feature_service: Annotated[
        str | None,
        _opt("The feature service to read (default: the one each version was trained on)."),
    ] = None,
    backend: Annotated[str | None, _opt("`local` (default) or `kubernetes`.")] = None,
    workers: WorkersOpt = None,
    replicas: ReplicasOpt = None,
    max_batch_size: BatchOpt = None,
    max_latency_ms: LatencyOpt = None,
    max_rows: RowsOpt = None,
    allow_degraded: DegradedOpt = None,
    description: Annotated[str, typer.Option(help="What it is for.")] = "",
    comment: CommentOpt = "",
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Create a deployment of a registered model.

    `griffin deployments create eta delivery_eta@champion` sends all requests to the version
    `champion` names; `--traffic delivery_eta@champion=90 --traffic delivery_eta@challenger=10`
    splits them (a canary). Every reference must name a version that exists now.
    """
    spec = _config(model, traffic, shadow, _given(locals()))
    with open_client(project) as client:
        created = client.create_deployment(name, description=description, comment=comment, **spec)
    _print(created, json)


@app.command("update")
def update_command(
    name: NameArg,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            metavar="MODEL@ALIAS|MODEL/VERSION",
            help="Send all the traffic to this version.",
            show_default=False,
        ),
    ] = None,
    traffic: TrafficOpt = None,
    shadow: ShadowOpt = None,
    no_shadows: Annotated[bool, typer.Option("--no-shadows", help="Remove every shadow.")] = False,
    sticky_key: StickyOpt = None,
    workers: WorkersOpt = None,
    replicas: ReplicasOpt = None,
    max_batch_size: BatchOpt = None,
    max_latency_ms: LatencyOpt = None,
    max_rows: RowsOpt = None,
    allow_degraded: DegradedOpt = None,
    description: Annotated[
        str | None, typer.Option(help="A new description.", show_default=False)
    ] = None,
    comment: CommentOpt = "",
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Change a deployment: the options given replace the current values, as a new revision.

    `--model REF` sends all the traffic to one version; `--traffic` replaces the whole split.
    Giving what is already there records no revision.
    """
    if no_shadows and shadow:
        raise typer.BadParameter("give --shadow or --no-shadows, not both")
    spec = _config(model, traffic, [] if no_shadows else shadow, _given(locals()))
    with open_client(project) as client:
        updated = client.update_deployment(name, description=description, comment=comment, **spec)
    _print(updated, json)


@app.command("rollback")
def rollback_command(
    name: NameArg,
    to_revision: Annotated[
        int | None,
        typer.Option(
            "--to-revision",
            "-r",
            min=1,
            help="The revision to return to (default: the one before the current).",
            show_default=False,
        ),
    ] = None,
    comment: CommentOpt = "",
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Return to an earlier configuration in one step, recorded as a new revision."""
    with open_client(project) as client:
        back = client.rollback_deployment(name, to_revision=to_revision, comment=comment)
    _print(back, json)


@app.command("list")
def list_command(project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """List the project's deployments: what each serves, its revision and when it changed."""
    with open_client(project) as client:
        found = client.list_deployments()
    if json:
        print_json([d.to_json() for d in found])
        return
    print_table(
        ["name", "traffic", "shadows", "backend", "revision", "updated"],
        [
            (
                d.name,
                _traffic_text(d.config),
                ", ".join(d.config.shadows),
                d.config.backend,
                d.revision,
                d.updated_at,
            )
            for d in found
        ],
        empty="no deployments: `griffin deployments create NAME MODEL@ALIAS` makes one",
        optional=["shadows", "backend", "updated"],
    )


@app.command("show")
def show_command(
    name: NameArg,
    limit: Annotated[int, typer.Option(min=1, help="At most this many revisions.")] = 20,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """One deployment: its configuration, then its revisions, newest first."""
    with open_client(project) as client:
        deployment = client.get_deployment(name)
        history = client.deployment_history(name, limit=limit)
    if json:
        print_json({**deployment.to_json(), "revisions": [r.to_json() for r in history]})
        return
    _print_deployment(deployment)
    _print_history(history)


def _quantity_opt(help_text: str) -> Any:
    return typer.Option(metavar="QUANTITY", help=help_text, show_default=False)


@app.command("manifest")
def manifest_command(
    name: NameArg,
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace",
            "-n",
            help="The namespace of the objects (default: none, kubectl's current one).",
            show_default=False,
        ),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            help="The image to run (default: the image of the served versions' runtime).",
            show_default=False,
        ),
    ] = None,
    registry: Annotated[
        str,
        typer.Option(
            help="Where the runtime images are pushed, e.g. `ghcr.io/acme` (ignored with --image).",
            show_default=False,
        ),
    ] = "",
    config_map: Annotated[
        str, typer.Option(help="ConfigMap the pod takes GRIFFIN_* settings from (`''`: none).")
    ] = "griffin",
    secret: Annotated[
        str,
        typer.Option(help="Secret the pod takes GRIFFIN_TOKEN and other secrets from."),
    ] = "griffin",
    cpu: Annotated[str | None, _quantity_opt("CPU request (default: 1 per worker).")] = None,
    memory: Annotated[
        str | None, _quantity_opt("Memory request (default: 1Gi per worker).")
    ] = None,
    cpu_limit: Annotated[str | None, _quantity_opt("CPU limit (default: none).")] = None,
    memory_limit: Annotated[
        str | None, _quantity_opt("Memory limit (default: the memory request).")
    ] = None,
    startup_timeout: Annotated[
        int,
        typer.Option(
            min=1, max=3600, help="Seconds a pod may take to load its models before a restart."
        ),
    ] = 300,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the manifest to this file (default: standard output).",
            show_default=False,
        ),
    ] = None,
    project: ProjectOpt = None,
    json: Annotated[
        bool, typer.Option("--json", help="Write a JSON `v1 List` of the objects, not YAML.")
    ] = False,
) -> None:
    """Write the Kubernetes Deployment and Service that run a deployment's inference server.

    The pod runs `griffin serve NAME` from the image of the runtime its versions were trained
    in (`[REGISTRY/]griffin-RUNTIME:VERSION`, built from `griffin runtimes show RUNTIME
    --dockerfile`), with the deployment's replicas and workers, and takes its settings from a
    ConfigMap and a Secret by name (the Secret must hold a `GRIFFIN_TOKEN`). `kubectl apply
    -f` the output.
    """
    from griffin.serving.manifest import (
        ManifestOptions,
        deployment_manifest,
        manifest_json,
        manifest_yaml,
    )

    options = ManifestOptions(
        namespace=namespace,
        image=image,
        registry=registry,
        config_map=config_map,
        secret=secret,
        cpu=cpu,
        memory=memory,
        cpu_limit=cpu_limit,
        memory_limit=memory_limit,
        startup_timeout_s=startup_timeout,
    )
    with open_client(project) as client:
        objects = deployment_manifest(client, name, options)
    if json:
        text = manifest_json(objects)
    else:
        needs = f"ConfigMap {config_map!r} and " if config_map else ""
        text = manifest_yaml(
            objects,
            header=f"Generated by `griffin deployments manifest {name}`: regenerate it, do "
            "not edit it.\n"
            f"The pod takes its GRIFFIN_* settings from {needs}Secret {secret!r} (which must "
            "hold GRIFFIN_TOKEN).\n"
            "Apply with `kubectl apply -f`; see docs/deployments.md (Running on Kubernetes).",
        )
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    print_note(f"wrote the Deployment and Service of {name} to {output}")


def _traffic_text(config: DeploymentConfig) -> str:
    return ", ".join(f"{r.ref} {r.weight}%" for r in config.traffic)


def _print(deployment: Deployment, json: bool) -> None:
    if json:
        print_json(deployment.to_json())
    else:
        _print_deployment(deployment)


def _print_deployment(deployment: Deployment) -> None:
    config = deployment.config
    print_kv(
        [
            ("name", deployment.name),
            ("revision", deployment.revision),
            ("traffic", _traffic_text(config)),
            ("shadows", ", ".join(config.shadows) or "-"),
            ("sticky key", config.sticky_key or "-"),
            ("feature service", config.feature_service or "as trained"),
            ("backend", config.backend),
            ("processes", f"{config.workers} worker(s), {config.replicas} replica(s)"),
            ("batching", f"up to {config.max_batch_size} rows, {config.max_latency_ms:g} ms"),
            ("max rows", config.max_rows),
            ("degraded", "allowed" if config.allow_degraded else "no"),
            ("description", deployment.description),
            ("created", deployment.created_at),
            ("created by", deployment.created_by),
            ("updated", deployment.updated_at),
        ]
    )


def _print_history(history: list[DeploymentRevision]) -> None:
    print_table(
        ["revision", "action", "traffic", "shadows", "by", "at", "comment"],
        [
            (
                r.revision,
                str(r.action) + (f" to {r.rolled_back_to}" if r.rolled_back_to else ""),
                _traffic_text(r.config),
                ", ".join(r.config.shadows),
                r.created_by,
                r.created_at,
                r.comment,
            )
            for r in history
        ],
        title="revisions",
        optional=["shadows", "comment", "by"],
    )
