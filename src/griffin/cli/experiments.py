"""``griffin experiments``: named groups of runs within a project."""

from __future__ import annotations

from typing import Annotated

import typer

from griffin.cli.output import out_console, print_json, print_kv, print_table
from griffin.cli.runs import optional_columns, run_rows
from griffin.cli.state import JsonOpt, ProjectOpt, open_client

app = typer.Typer(
    help="Create, list, show and delete experiments.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

NameArg = Annotated[str, typer.Argument(help="The experiment's name.")]


def _tags(tags: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))


@app.command("create")
def create(
    name: NameArg,
    description: Annotated[str, typer.Option(help="What the experiment is about.")] = "",
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Create an experiment (runs also create theirs on first use)."""
    with open_client(project) as client:
        experiment = client.create_experiment(name, description=description)
    if json:
        print_json(experiment)
    else:
        out_console().print(
            f"created experiment {experiment.name} in project {experiment.project}", markup=False
        )


@app.command("list")
def list_command(
    name_contains: Annotated[
        str | None,
        typer.Option(
            "--name-contains", help="Only names containing this text.", show_default=False
        ),
    ] = None,
    include_deleted: Annotated[
        bool, typer.Option("--include-deleted", help="Also list deleted experiments.")
    ] = False,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the experiments of a project, by name."""
    with open_client(project) as client:
        found = client.list_experiments(
            name_contains=name_contains, include_deleted=include_deleted
        )
    if json:
        print_json(found)
        return
    print_table(
        ["name", "description", "tags", "status", "created"],
        [(e.name, e.description, _tags(e.tags), e.lifecycle, e.created_at) for e in found],
        empty="no experiments yet: `griffin quickstart` makes one",
    )


@app.command("show")
def show(name: NameArg, project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """Show an experiment and its ten most recent runs."""
    with open_client(project) as client:
        experiment = client.get_experiment(name)
        recent = client.list_runs(experiment=name, limit=10)
    if json:
        print_json(experiment)
        return
    print_kv(
        [
            ("name", experiment.name),
            ("project", experiment.project),
            ("id", experiment.id),
            ("description", experiment.description),
            ("tags", _tags(experiment.tags)),
            ("status", experiment.lifecycle),
            ("created", experiment.created_at),
            ("updated", experiment.updated_at),
        ]
    )
    columns, rows = run_rows(recent, with_experiment=False)
    print_table(
        columns, rows, title="recent runs", empty="no runs yet", optional=optional_columns(columns)
    )


@app.command("delete")
def delete(
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Delete an experiment: it and its runs leave lists and searches (data is kept)."""
    if not yes:
        typer.confirm(f"Delete experiment '{name}' and hide its runs?", abort=True, err=True)
    with open_client(project) as client:
        client.delete_experiment(name)
    if json:
        print_json({"name": name, "deleted": True})
    else:
        out_console().print(f"deleted experiment {name}", markup=False)
