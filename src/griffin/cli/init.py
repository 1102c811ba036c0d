"""``griffin init``: start a project from a template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from griffin.cli.output import print_json, print_note

__all__ = ["register"]


def init_command(
    name: Annotated[str, typer.Argument(help="The project's name (also its folder and model).")],
    template: Annotated[
        str, typer.Option(help="sklearn, xgboost, lightgbm or pytorch.")
    ] = "sklearn",
    dir: Annotated[
        Path | None,
        typer.Option(help="Where to create it (default: ./NAME).", show_default=False),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
) -> None:
    """Create a small, complete project: features, a model definition, tests, a Dockerfile.

    Inside it, `griffin features apply && griffin train` trains on the bundled sample data.
    """
    from griffin.project_templates import create_project

    folder = create_project(name, template, dir)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    if json:
        print_json({"path": str(folder), "template": template, "files": files})
        return
    print_note(f"created {folder} from the {template} template:")
    for file in files:
        print(f"  {file}")
    print_note(f"next: cd {folder} && griffin features apply && griffin train (see its README.md)")


def register(root: typer.Typer) -> None:
    """Add ``griffin init`` to the root."""
    root.command("init")(init_command)
