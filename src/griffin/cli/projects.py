"""``griffin projects``: the top-level containers of experiments, runs and tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from griffin.cli.output import out_console, print_json, print_table
from griffin.cli.state import JsonOpt, open_client

app = typer.Typer(
    help="List and create projects.", no_args_is_help=True, rich_markup_mode="markdown"
)


@app.command("list")
def list_command(json: JsonOpt = False) -> None:
    """List the projects you can see."""
    with open_client() as client:
        found = client.list_projects()
    if json:
        print_json(found)
        return
    print_table(
        ["name", "description", "created"],
        [(p.name, p.description, p.created_at) for p in found],
        empty="no projects yet",
    )


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Letters, digits, spaces and _ - . (1-256).")],
    json: JsonOpt = False,
) -> None:
    """Create a project (over the API this needs a site-wide admin token).

    Example: `griffin projects create fraud-detection`, then work in it with
    `griffin --project fraud-detection runs list` or GRIFFIN_PROJECT=fraud-detection.
    """
    with open_client() as client:
        project = client.create_project(name)
    if json:
        print_json(project)
    else:
        out_console().print(f"created project {project.name}", markup=False)
