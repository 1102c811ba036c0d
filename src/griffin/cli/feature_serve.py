"""``griffin features serve`` and ``get-online``: online feature values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from griffin.cli.output import out_console, print_json, print_table
from griffin.cli.server import AuthOpt, HostOpt
from griffin.cli.state import JsonOpt, ProjectOpt, current_state, open_client
from griffin.errors import InvalidArgument

DEFAULT_PORT = 6566

DefinitionsOpt = Annotated[
    Path | None,
    typer.Option(
        "--definitions",
        help="Your features.py or its folder: used in place of the registry's objects of the "
        "same names, so on-demand views can run.",
        show_default=False,
    ),
]


def serve(
    host: HostOpt = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to bind.")] = DEFAULT_PORT,
    definitions: DefinitionsOpt = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    auth: AuthOpt = None,
) -> None:
    """Serve online feature values over HTTP: a lean server with one read route.

    `POST /api/v1/projects/{project}/features/online` (the same route as `griffin server`),
    plus `/healthz` and `/readyz`. It reads the configured online store and the feature
    registry of the metadata database; like `griffin server`, it needs --auth to bind an
    address other than this machine's.
    """
    from griffin.cli.server import check_binding

    overrides: dict[str, Any] = {"host": host}
    if auth is not None:
        overrides["auth"] = "required" if auth else "off"
    settings = current_state().settings(**overrides)
    check_binding(settings)
    local = None
    if definitions is not None:
        from griffin.features.project import load_definitions

        local = load_definitions(definitions)  # fail now, with the file and line

    import uvicorn

    from griffin.config import mask_url
    from griffin.server.feature_server import DEFINITIONS_ENV, FeatureServer

    console = out_console()
    console.print(f"Griffin feature server on [bold]http://{settings.host}:{port}[/bold]")
    console.print("  route:         POST /api/v1/projects/{project}/features/online", markup=False)
    console.print(f"  online store:  {mask_url(settings.resolved_online_store)}", markup=False)
    console.print(f"  auth:          {settings.auth}")
    options: dict[str, Any] = {
        "host": settings.host,
        "port": port,
        "log_level": settings.log_level,
        "access_log": False,  # a log line per request would cost more than the read
    }
    if workers > 1:
        for key, value in overrides.items():
            if value is not None:
                os.environ[f"GRIFFIN_{key.upper()}"] = str(value)
        if current_state().project:
            os.environ["GRIFFIN_PROJECT"] = settings.project
        if definitions is not None:
            os.environ[DEFINITIONS_ENV] = str(definitions.resolve())
        uvicorn.run(
            "griffin.server.feature_server:app_from_env", factory=True, workers=workers, **options
        )
        return
    from griffin.platform import open_platform

    app = FeatureServer(open_platform(settings), definitions=local, owns_platform=True)
    uvicorn.run(app, **options)


def _pairs(items: list[str], option: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidArgument(
                f"{option} {item!r} is not NAME=VALUE", details={"field": option.lstrip("-")}
            )
        found.setdefault(name.strip(), []).extend(value.split(","))
    return found


def get_online(
    features: Annotated[
        list[str] | None,
        typer.Option(
            "--features",
            "-f",
            help='Features: "view:feature", "view" or an on-demand view; repeat it or separate '
            "with commas.",
            show_default=False,
        ),
    ] = None,
    service: Annotated[
        str | None,
        typer.Option("--service", "-s", help="A feature service's name.", show_default=False),
    ] = None,
    entity: Annotated[
        list[str] | None,
        typer.Option(
            "--entity",
            "-e",
            help="A join key and its values: driver_id=1001 or driver_id=1001,1002 (repeatable).",
            show_default=False,
        ),
    ] = None,
    request: Annotated[
        list[str] | None,
        typer.Option(
            "--request",
            "-r",
            help="A request field for on-demand views: hours=2.5 (repeatable).",
            show_default=False,
        ),
    ] = None,
    full_names: Annotated[
        bool, typer.Option("--full-names", help="Name columns view__feature.")
    ] = False,
    definitions: DefinitionsOpt = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Read the latest feature values of some entities from the online store.

    Values are cast to the join keys' and request fields' declared types. Entities with no
    fresh value show empty cells (null in JSON).
    """
    refs: Any
    if (service is None) == (not features):
        raise InvalidArgument(
            "give --features (one or more) or --service", details={"field": "features"}
        )
    if service is not None:
        refs = service
    else:
        refs = [f.strip() for item in features or [] for f in item.split(",") if f.strip()]
    entities = _pairs(entity or [], "--entity")
    fields = {k: v[-1] if len(v) == 1 else v for k, v in _pairs(request or [], "--request").items()}
    with open_client(project) as client:
        result = client.get_online_features(
            refs,
            entities,
            request_data=fields or None,
            full_names=full_names,
            definitions=definitions,
        )
    data = result.to_dict()
    if json:
        print_json(data)
        return
    print_table(list(data), list(zip(*data.values(), strict=True)), empty="no entity rows")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``griffin features``."""
    app.command("serve")(serve)
    app.command("get-online")(get_online)
