"""``griffin serve``: the inference server for one or more deployments."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer

from griffin.cli.feature_serve import DefinitionsOpt
from griffin.cli.output import out_console
from griffin.cli.server import AuthOpt, HostOpt
from griffin.cli.state import current_state

DEFAULT_PORT = 6570


def register(root: typer.Typer) -> None:
    root.command("serve")(serve_command)


def serve_command(
    deployments: Annotated[
        list[str],
        typer.Argument(metavar="DEPLOYMENT...", help="The deployments to serve (at least one)."),
    ],
    host: HostOpt = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to bind.")] = DEFAULT_PORT,
    poll_interval: Annotated[
        float,
        typer.Option(
            min=0.1, max=3600, help="Seconds between checks for changed deployments and aliases."
        ),
    ] = 2.0,
    auth: AuthOpt = None,
    definitions: DefinitionsOpt = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes, each serving every deployment.")
    ] = 1,
    log_predictions: Annotated[
        bool,
        typer.Option(
            "--log/--no-log",
            help="Log every prediction to parquet under the offline root (default: on).",
        ),
    ] = True,
    project: Annotated[
        str | None,
        typer.Option("--project", "-p", help="The deployments' project.", show_default=False),
    ] = None,
) -> None:
    """Serve predictions for deployments over HTTP, swapping versions as they change.

    `POST /v1/deployments/{name}/predict` with `{"rows": [{...}, ...]}` answers
    `{"request_id", "model", "version", "predictions"}`. Concurrent requests to a version
    share batches (the deployment's `max_batch_size` and `max_latency_ms`); a moved alias or
    an updated deployment is loaded beside the old version and swapped in without a failed
    request. `/healthz`, `/readyz` (ready once every deployment is loaded) and `/metrics`
    (Prometheus). A version trained on a feature service gets its features from the online
    store by the rows' entity keys, and its on-demand views run the code of its own code
    package (the features.py it was trained with); --definitions replaces that code for every
    version (for a version logged without a package). Like
    `griffin server`, it needs --auth to bind an address other than this machine's.
    """
    from griffin.cli.server import check_binding

    overrides: dict[str, Any] = {"host": host}
    if auth is not None:
        overrides["auth"] = "required" if auth else "off"
    if project is not None:
        overrides["project"] = project
    settings = current_state().settings(**overrides)
    check_binding(settings)

    import uvicorn

    from griffin.platform import open_platform
    from griffin.serving.server import SERVE_ENV, open_server

    options: dict[str, Any] = {
        "host": settings.host,
        "port": port,
        "log_level": settings.log_level,
        "access_log": False,  # a log line per request would cost more than a prediction
    }
    local = None
    if definitions is not None:
        from griffin.features.project import load_definitions

        local = load_definitions(definitions)  # fail now, with the file and line
    if workers > 1:
        for key, value in overrides.items():
            if value is not None:
                os.environ[f"GRIFFIN_{key.upper()}"] = str(value)
        if current_state().project:
            os.environ["GRIFFIN_PROJECT"] = settings.project
        os.environ[SERVE_ENV] = json.dumps(
            {
                "names": deployments,
                "poll_s": poll_interval,
                "definitions": str(definitions.resolve()) if definitions else None,
                "log": log_predictions,
            }
        )
        out_console().print(
            f"Griffin inference server on [bold]http://{settings.host}:{port}[/bold], "
            f"{workers} workers"
        )
        uvicorn.run("griffin.serving.server:app_from_env", factory=True, workers=workers, **options)
        return

    platform = open_platform(settings)
    app = open_server(
        platform, deployments, poll_interval, definitions=local, log_predictions=log_predictions
    )
    console = out_console()
    console.print(f"Griffin inference server on [bold]http://{settings.host}:{port}[/bold]")
    for name in app.names:
        console.print(f"  POST /v1/deployments/{name}/predict", markup=False)
    console.print(f"  project: {app.project}   auth: {settings.auth}", markup=False)
    if app.prediction_log is not None:
        from griffin.serving.prediction_log import prediction_log_dir

        where = prediction_log_dir(app.prediction_log.offline_root, app.project, "DEPLOYMENT")
        console.print(f"  prediction log: {where}", markup=False)
    try:
        uvicorn.run(app, **options)
    finally:
        app.client.close()
        platform.close()
