"""``griffin config``: the settings in effect and where each one came from."""

from __future__ import annotations

import typer
from rich.table import Table
from rich.text import Text

from griffin.cli.output import out_console, print_json
from griffin.cli.state import JsonOpt, current_state

app = typer.Typer(
    help="Inspect Griffin's configuration.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    add_completion=False,
)


@app.command("show")
def show(json: JsonOpt = False) -> None:
    """Show every setting, its effective value and where it came from.

    Values come, highest precedence first, from GRIFFIN_* environment variables, ./griffin.toml,
    $GRIFFIN_HOME/config.toml and the defaults. Secrets and database passwords are masked.
    """
    from griffin.config import describe, load_settings_with_origins

    settings, origins = load_settings_with_origins(project=current_state().project)
    rows = describe(settings, origins)
    if json:
        print_json(rows)
        return
    table = Table(header_style="bold")
    table.add_column("setting", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("from", overflow="fold")
    for row in rows:
        origin_style = "dim" if row["origin"] == "default" else "cyan"
        table.add_row(row["key"], Text(row["value"]), Text(row["origin"], style=origin_style))
    out_console().print(table)
