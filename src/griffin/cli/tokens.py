"""``griffin tokens``: API tokens, including the very first one (the bootstrap path).

Without a server URL (``GRIFFIN_URL`` unset) these commands open the metadata database directly:
that is how the first admin token of a fresh installation is made, by whoever can reach the
database. With ``GRIFFIN_URL`` set they go through the API and need an admin token.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from griffin.cli.output import out_console, print_json, print_note, print_table
from griffin.cli.state import JsonOpt, current_state, open_client
from griffin.domain.accounts import ALL_PROJECTS, Role, TokenInfo

if TYPE_CHECKING:
    from griffin.platform import Platform

app = typer.Typer(
    help="Create, list and revoke API tokens.", no_args_is_help=True, rich_markup_mode="markdown"
)

T = TypeVar("T")


def _local(action: Callable[[Platform], T]) -> T:
    """Run ``action`` on the directly opened platform (the bootstrap path)."""
    from griffin.platform import open_platform

    platform = open_platform(current_state().settings())
    try:
        return action(platform)
    finally:
        platform.close()


def _remote() -> bool:
    return bool(current_state().settings().url)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "admin"


def _status(token: TokenInfo) -> str:
    return "revoked" if token.revoked_at else "active"


@app.command("create")
def create(
    role: Annotated[
        Role,
        typer.Option(case_sensitive=False, help="viewer (read), editor (read and write) or admin."),
    ],
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            "-p",
            help="Project the token is for, or '*' for every project (site-wide).",
            show_default=False,
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(help="Who the token is for (default: your OS user).", show_default=False),
    ] = None,
    description: Annotated[str, typer.Option(help="A note to recognise it by.")] = "",
    json: JsonOpt = False,
) -> None:
    """Create an API token and print its secret, once.

    Without GRIFFIN_URL this writes to the metadata database directly, which is how the first
    admin token is made: `griffin tokens create --project '*' --role admin`. With GRIFFIN_URL it
    asks the server, with an admin token in GRIFFIN_TOKEN.
    """
    scope = current_state().project_for(project)
    who = user or _os_user()
    if _remote():
        with open_client() as client:
            info, secret = client.create_token(who, role, project=scope, description=description)
    else:
        from griffin.accounts import service

        info, secret = _local(
            lambda p: service.create_token(
                p.db, None, user=who, project=scope, role=role, description=description
            )
        )
    if json:
        print_json({**_token_dict(info), "secret": secret})
        return
    where = "every project (site-wide)" if info.project == ALL_PROJECTS else info.project
    print_note(f"Created token {info.id}: {info.role} on {where}, for user {info.user}.")
    out_console().print(secret, markup=False, highlight=False)
    print_note(
        "[yellow]Copy the secret now: it will not be shown again.[/yellow] "
        "Use it as GRIFFIN_TOKEN (or griffin.Client(token=...))."
    )


def _token_dict(info: TokenInfo) -> dict[str, object]:
    return {
        "id": info.id,
        "user": info.user,
        "project": info.project,
        "role": str(info.role),
        "description": info.description,
        "created_at": info.created_at,
        "last_used_at": info.last_used_at,
        "revoked_at": info.revoked_at,
        "status": _status(info),
    }


@app.command("list")
def list_command(
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            "-p",
            help="Only the tokens of this project (default: every token).",
            show_default=False,
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """List API tokens (never their secrets), revoked ones included."""
    scope = project or current_state().project or ALL_PROJECTS
    if _remote():
        with open_client() as client:
            found = client.list_tokens(project=scope)
    else:
        from griffin.accounts import service

        found = _local(lambda p: service.list_tokens(p.db, None, scope))
    if json:
        print_json([_token_dict(t) for t in found])
        return
    print_table(
        ["id", "user", "project", "role", "status", "description", "created", "last used"],
        [
            (
                t.id,
                t.user,
                t.project,
                t.role,
                _status(t),
                t.description,
                t.created_at,
                t.last_used_at,
            )
            for t in found
        ],
        empty="no tokens yet: create one with `griffin tokens create --role admin --project '*'`",
    )


@app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id (not its secret).")],
    json: JsonOpt = False,
) -> None:
    """Revoke an API token: requests using it are refused from now on."""
    if _remote():
        with open_client() as client:
            client.revoke_token(token_id)
    else:
        from griffin.accounts import service

        _local(lambda p: service.revoke_token(p.db, None, token_id))
    if json:
        print_json({"id": token_id, "revoked": True})
    else:
        out_console().print(f"revoked token {token_id}", markup=False)
