"""``griffin server``: the REST API (and, later, the web UI) under uvicorn."""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import TYPE_CHECKING, Annotated

import typer

from griffin.cli.output import out_console, print_note
from griffin.cli.state import current_state
from griffin.domain.accounts import ALL_PROJECTS
from griffin.errors import InvalidArgument

if TYPE_CHECKING:
    from fastapi import FastAPI

    from griffin.config import Settings

ENV_PREFIX = "GRIFFIN_"

__all__ = ["app_factory", "check_binding", "is_loopback", "jobs_url", "register"]


# The binding options of every command that runs a server (`griffin server`, `griffin serve`,
# `griffin features serve`): one wording, one rule (check_binding).
HostOpt = Annotated[
    str | None,
    typer.Option(
        help="Address to bind (default 127.0.0.1: this machine only).", show_default=False
    ),
]
AuthOpt = Annotated[
    bool | None,
    typer.Option(
        "--auth/--no-auth",
        help="Require API tokens (default: the `auth` setting, off).",
        show_default=False,
    ),
]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(settings: Settings) -> None:
    """Refuse to expose a server without authentication beyond this machine."""
    if settings.auth == "off" and not is_loopback(settings.host):
        raise InvalidArgument(
            f"refusing to serve on {settings.host} with authentication off: anyone who can reach "
            "this address could read and change every project. Pass --auth (or set "
            "GRIFFIN_AUTH=required) and create a token with "
            "`griffin tokens create --project '*' --role admin`",
            details={"field": "host"},
        )


def _check_database(settings: Settings) -> tuple[str, bool]:
    """Bring SQLite up to date, refuse a stale PostgreSQL; returns (dialect, has live tokens)."""
    from sqlalchemy import select

    from griffin.store.migrate import ensure_schema
    from griffin.store.orm.accounts import TokenRow
    from griffin.store.session import Database

    db = Database(settings.resolved_database_url)
    try:
        ensure_schema(db)
        with db.session() as session:
            live = select(TokenRow.id).where(TokenRow.revoked_at.is_(None)).limit(1)
            has_tokens = session.scalar(live) is not None
        return db.dialect, has_tokens
    finally:
        db.dispose()


def app_factory() -> FastAPI:
    """The app each uvicorn worker builds (``--workers`` > 1); settings come from GRIFFIN_*."""
    from griffin.config import load_settings
    from griffin.server import create_app

    return create_app(load_settings())


def _urls(host: str, port: int) -> tuple[str, str]:
    """The URL to open here, and the address the server listens on."""
    shown = host
    if host in {"0.0.0.0", "::", ""}:
        shown = socket.gethostname()
    elif ":" in host and not host.startswith("["):
        shown = f"[{host}]"
    return f"http://{shown}:{port}", f"{host}:{port}"


def jobs_url(host: str, port: int) -> str:
    """The server's address as a process on this machine reaches it."""
    if host in {"0.0.0.0", ""}:
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def serve(
    host: HostOpt = None,
    port: Annotated[
        int | None, typer.Option(help="Port to bind (default 8080).", show_default=False)
    ] = None,
    auth: AuthOpt = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Worker processes (default 1).", show_default=False),
    ] = None,
) -> None:
    """Run the Griffin server: the REST API for the SDK, the CLI and your tools.

    It binds 127.0.0.1 unless told otherwise. Serving on any other address needs --auth, so
    that only holders of a token (`griffin tokens create`) can reach the data. A PostgreSQL
    database must be migrated first with `griffin db upgrade`; the embedded SQLite database
    migrates itself.
    """
    overrides: dict[str, object] = {"host": host, "port": port, "workers": workers}
    if auth is not None:
        overrides["auth"] = "required" if auth else "off"
    settings = current_state().settings(**overrides)
    check_binding(settings)
    if settings.server_dispatcher and not settings.url:
        # The jobs this server launches reach it here, as light HTTP clients. Set GRIFFIN_URL
        # where they need another address (Ray workers on other machines).
        overrides["url"] = jobs_url(settings.host, settings.port)
        settings = current_state().settings(**overrides)
    dialect, has_tokens = _check_database(settings)

    import uvicorn

    from griffin.config import mask_url

    url, address = _urls(settings.host, settings.port)
    console = out_console()
    console.print(f"Griffin server on [bold]{url}[/bold] (listening on {address})")
    console.print(f"  API docs:  {url}/api/v1/docs")
    console.print(f"  MLflow:    MLFLOW_TRACKING_URI={url} (project '{settings.project}')")
    console.print(
        f"  metadata:  {dialect} ({mask_url(settings.resolved_database_url)})", markup=False
    )
    console.print(f"  auth:      {settings.auth}")
    if settings.auth == "required" and not has_tokens:
        print_note(
            "[yellow]no API token exists yet: create one with "
            f"`griffin tokens create --project '{ALL_PROJECTS}' --role admin`[/yellow]"
        )
    if settings.workers > 1:
        # Each worker process builds its own app from the environment.
        for key, value in overrides.items():
            if value is not None:
                os.environ[f"{ENV_PREFIX}{key.upper()}"] = str(value)
        if current_state().project:
            os.environ[f"{ENV_PREFIX}PROJECT"] = settings.project
        uvicorn.run(
            "griffin.cli.server:app_factory",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
        )
        return
    from griffin.server import create_app

    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level
    )


def register(app: typer.Typer) -> None:
    """Add ``griffin server`` to the root command."""
    app.command("server")(serve)
