"""Launchers: the backends that run job processes (``local`` today), chosen by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from griffin import plugins
from griffin.launcher.base import Handle, Launcher, LaunchRequest, LaunchState, LaunchStatus

if TYPE_CHECKING:
    from griffin.config import Settings

__all__ = [
    "Handle",
    "LaunchRequest",
    "LaunchState",
    "LaunchStatus",
    "Launcher",
    "open_launcher",
]


def open_launcher(name: str, settings: Settings) -> Launcher:
    """The launcher registered as ``name`` (kind ``launcher``), built on ``settings``.

    Raises:
        ConfigError: no launcher has that name, or it cannot be imported.
    """
    cls = plugins.resolve("launcher", name)
    launcher: Launcher = cls(settings)
    launcher.name = name
    return launcher
