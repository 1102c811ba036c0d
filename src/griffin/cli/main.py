"""The ``griffin`` command: the Typer root, global options and the one place errors are printed.

Every Griffin error a command raises becomes ``error: <headline>`` on standard error and exit
code 1; usage mistakes exit with 2, as Click does. A traceback is shown only for unexpected
errors, and only with ``griffin --debug``.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from griffin._version import __version__
from griffin.cli import (
    config,
    db,
    deployments,
    experiments,
    features,
    init,
    jobs,
    model_definitions,
    models,
    projects,
    quickstart,
    runs,
    runtimes,
    serve,
    server,
    tokens,
    training,
)
from griffin.cli.output import print_error, print_json, print_kv
from griffin.cli.state import PASS_THROUGH, JsonOpt, State, open_client
from griffin.errors import GriffinError

__all__ = ["app", "run"]

_DEBUG_HINT = "run the command again with `griffin --debug ...` to see the traceback"


class _GriffinGroup(TyperGroup):
    """The root group: turns Griffin errors into one red line and an exit status."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except PASS_THROUGH:
            raise
        except GriffinError as exc:
            if _debug(ctx):
                raise
            print_error(exc.headline)
            raise typer.Exit(1) from None
        except Exception as exc:
            if _debug(ctx):
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            print_error(f"unexpected {type(exc).__name__}: {first}".rstrip(": "), _DEBUG_HINT)
            raise typer.Exit(1) from None


def _debug(ctx: typer.Context) -> bool:
    state = ctx.find_object(State)
    return bool(state and state.debug)


app = typer.Typer(
    cls=_GriffinGroup,
    name="griffin",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    ctx: typer.Context,
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            "-p",
            help="Project to work in (default: the `project` setting, `default`).",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of unexpected errors.")
    ] = False,
) -> None:
    """Griffin: track, train, register and serve machine-learning models.

    Start with `griffin quickstart`: features, training, registry, deployment and
    predictions over HTTP in one run, with nothing to set up. Configuration comes from
    GRIFFIN_* variables, ./griffin.toml and $GRIFFIN_HOME/config.toml; `griffin config
    show` prints what is in effect.
    """
    ctx.obj = State(project=project, debug=debug)


@app.command()
def version(json: JsonOpt = False) -> None:
    """Print Griffin's version (and the Python running it)."""
    info = {
        "version": __version__,
        "python": sys.version.split()[0],
        "executable": sys.executable,
    }
    if json:
        print_json(info)
    else:
        print_kv([("griffin", info["version"]), ("python", info["python"])])


@app.command()
def whoami(json: JsonOpt = False) -> None:
    """Show who you are to the server: user, project scope and role of your token.

    Useful to check GRIFFIN_URL and GRIFFIN_TOKEN before scripting against a server; with no
    server configured it shows the local user, an admin of every project of the embedded store.
    """
    with open_client() as client:
        principal = client.whoami()
        where = client.where
    info = {
        "user": principal.user,
        "project": principal.project,
        "role": str(principal.role),
        "server": where,
    }
    if json:
        print_json(info)
    else:
        print_kv(info.items())


app.add_typer(config.app, name="config")
app.add_typer(db.app, name="db")
server.register(app)
app.add_typer(tokens.app, name="tokens")
app.add_typer(projects.app, name="projects")
app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")
app.add_typer(features.app, name="features")
app.add_typer(runtimes.app, name="runtimes")
app.add_typer(models.app, name="models")
model_definitions.register(models.app)
app.add_typer(jobs.app, name="jobs")
jobs.register(app)
app.add_typer(deployments.app, name="deployments")
serve.register(app)
training.register(app, models.app)
init.register(app)
quickstart.register(app)


def run() -> None:
    """Console-script entry point (``griffin``)."""
    app(prog_name="griffin")
