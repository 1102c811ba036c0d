"""What every command shares: the global options, the settings and a way to open the SDK."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from griffin.client import Client
    from griffin.config import Settings

__all__ = [
    "PASS_THROUGH",
    "JsonOpt",
    "ProjectOpt",
    "State",
    "click_module",
    "current_state",
    "open_client",
]


def click_module(name: str) -> ModuleType:
    """A module of the Click that Typer runs on: its vendored copy (Typer 0.2x) or Click."""
    try:
        return importlib.import_module(f"typer._click.{name}")
    except ImportError:  # pragma: no cover - Typer before it vendored Click
        return importlib.import_module(f"click.{name}")


# Exceptions that carry an exit status or a usage error: Click renders them itself.
PASS_THROUGH: tuple[type[BaseException], ...] = (
    typer.Exit,
    typer.Abort,
    typer.TyperException,
    click_module("exceptions").ClickException,
)

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print JSON to standard output (for scripts).")
]
ProjectOpt = Annotated[
    str | None,
    typer.Option(
        "--project",
        "-p",
        help="Project to work in (default: the global --project, else the `project` setting).",
        show_default=False,
    ),
]


@dataclass
class State:
    """The root command's options; settings are loaded on first use, not at start-up."""

    project: str | None = None
    debug: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self, **overrides: Any) -> Settings:
        """The effective settings, with ``overrides`` (command-line options) on top."""
        from griffin.config import load_settings  # pydantic-settings: only when needed

        if overrides:
            return load_settings(**self._base_overrides(), **overrides)
        if self._settings is None:
            self._settings = load_settings(**self._base_overrides())
        return self._settings

    def _base_overrides(self) -> dict[str, Any]:
        return {"project": self.project} if self.project else {}

    def project_for(self, option: str | None) -> str:
        """The project a command works in: its own option, the global one, or the setting."""
        return option or self.project or self.settings().project


def current_state() -> State:
    """The shared state of the command being run (a fresh default when run outside the root)."""
    ctx = click_module("globals").get_current_context()
    state = ctx.find_object(State)
    if state is None:
        state = ctx.ensure_object(State)
    assert isinstance(state, State)
    return state


@contextmanager
def open_client(project: str | None = None) -> Iterator[Client]:
    """The SDK client for this command: HTTP when ``url`` is set, else the embedded store."""
    from griffin.client import Client

    state = current_state()
    client = Client(settings=state.settings(), project=state.project_for(project))
    try:
        yield client
    finally:
        client.close()
