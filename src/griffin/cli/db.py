"""``griffin db``: the metadata database's schema revision and its migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from griffin.cli.output import out_console, print_json, print_kv, print_note
from griffin.cli.state import JsonOpt, current_state

if TYPE_CHECKING:
    from griffin.store.session import Database

app = typer.Typer(
    help="Manage the metadata database schema.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    add_completion=False,
)


def _database() -> Database:
    from griffin.store.session import Database  # SQLAlchemy and Alembic load on use only

    return Database(current_state().settings().resolved_database_url)


@app.command("upgrade")
def upgrade_command(json: JsonOpt = False) -> None:
    """Migrate the metadata database to the schema this Griffin version needs.

    Run it once after installing or upgrading Griffin on a PostgreSQL database, before starting
    `griffin server`; running it again is harmless. The embedded SQLite database upgrades
    itself, so on a laptop you never need it.
    """
    from griffin.store.migrate import upgrade

    db = _database()
    try:
        before, after = upgrade(db)
    finally:
        db.dispose()
    result = {"database": db.masked_url, "from": before, "to": after, "changed": before != after}
    if json:
        print_json(result)
    elif before == after:
        out_console().print(
            f"{db.masked_url} is already at the latest schema ({after})", markup=False
        )
    else:
        out_console().print(
            f"upgraded {db.masked_url}: {before or 'empty'} → {after}", markup=False
        )


@app.command("current")
def current_command(json: JsonOpt = False) -> None:
    """Show the schema revision of the metadata database and the one Griffin needs."""
    from griffin.store.migrate import current_revision, head_revision

    db = _database()
    try:
        current = current_revision(db)
    finally:
        db.dispose()
    head = head_revision()
    result = {
        "database": db.masked_url,
        "current": current,
        "head": head,
        "up_to_date": current == head,
    }
    if json:
        print_json(result)
        return
    print_kv(
        [
            ("database", db.masked_url),
            ("current", current or "empty (no Griffin schema yet)"),
            ("needed", head),
        ]
    )
    if current != head:
        print_note("[yellow]the schema is not current: run `griffin db upgrade`[/yellow]")
