"""Plug-in registry: which class implements a backend, by kind and name.

Backend choice is data. Each *kind* of backend (artifact stores and online stores today; offline
engines and launchers as they land) maps names, or URI schemes, to ``"module:Class"`` strings
that are imported only when first used, so an optional driver costs nothing until it is needed.

Griffin's own backends are registered in :data:`BUILTINS`, exactly as a third party's would be.
A package adds or replaces one through an entry point in the group ``griffin.<kind>``::

    # pyproject.toml of a plug-in package
    [project.entry-points."griffin.artifact_store"]
    azureblob = "acme_griffin.blob:BlobArtifactStore"

after which ``artifact_root = "azureblob://container/prefix"`` uses it. An entry point with a
built-in's name replaces the built-in. Every kind is documented in ``docs/plugins.md``.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from griffin.errors import ConfigError

__all__ = ["BUILTINS", "KINDS", "Kind", "available", "resolve"]


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of backend: what it is, and the protocol its classes implement."""

    name: str
    description: str
    protocol: str  # "module:Class" of the base class every implementation subclasses
    fallback: str | None = None  # the name used when no other name matches ("*")
    # name -> the pip requirement that provides its optional driver, for a useful error
    extras: dict[str, str] = field(default_factory=dict)


KINDS: dict[str, Kind] = {
    "artifact_store": Kind(
        name="artifact_store",
        description="Where run artifacts are stored, chosen by the URI scheme of artifact_root.",
        protocol="griffin.artifacts.store:ArtifactStore",
        fallback="*",
    ),
    "online_store": Kind(
        name="online_store",
        description="Where served feature values live, chosen by the URL scheme of online_store.",
        protocol="griffin.features.online.base:OnlineStore",
        extras={"redis": "griffin-ml[redis]", "rediss": "griffin-ml[redis]"},
    ),
    "launcher": Kind(
        name="launcher",
        description="What runs a job's process, chosen by the `backend` of the job's spec.",
        protocol="griffin.launcher.base:Launcher",
        extras={"ray": "griffin-ml[ray]"},
    ),
}

BUILTINS: dict[str, dict[str, str]] = {
    "artifact_store": {
        "": "griffin.artifacts.local:LocalArtifactStore",  # a plain path
        "file": "griffin.artifacts.local:LocalArtifactStore",
        # Any other scheme goes to fsspec (s3://, gs://, memory://, ...), whose own registry
        # then needs the scheme's driver installed (s3fs for s3://).
        "*": "griffin.artifacts.fsspec_store:FsspecArtifactStore",
    },
    "online_store": {
        "sqlite": "griffin.features.online.sqlite:SqliteOnlineStore",
        # redis-py is the optional extra griffin-ml[redis]; it is imported only here.
        "redis": "griffin.features.online.redis:RedisOnlineStore",
        "rediss": "griffin.features.online.redis:RedisOnlineStore",
    },
    "launcher": {
        "local": "griffin.launcher.local:LocalLauncher",
        "ray": "griffin.launcher.ray:RayLauncher",  # ray is the optional extra griffin-ml[ray]
    },
}


@functools.cache
def _entry_points(kind: str) -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=f"griffin.{kind}")}


def available(kind: str) -> dict[str, str]:
    """Every registered name of ``kind`` and its target; entry points override built-ins."""
    if kind not in KINDS:
        raise ConfigError(f"unknown plug-in kind {kind!r}; known kinds: {', '.join(KINDS)}")
    return {**BUILTINS.get(kind, {}), **_entry_points(kind)}


def resolve(kind: str, name: str) -> type[Any]:
    """The class registered as ``name`` for ``kind`` (or the kind's fallback), imported now.

    Raises:
        ConfigError: nothing is registered under ``name``, or its target cannot be imported,
            or it does not implement the kind's protocol.
    """
    spec = KINDS.get(kind)
    registered = available(kind)
    target = registered.get(name)
    if target is None and spec is not None and spec.fallback is not None:
        target = registered.get(spec.fallback)
    if target is None:
        names = ", ".join(sorted(n for n in registered if n not in ("", "*"))) or "none"
        raise ConfigError(f"no {kind} named {name!r}; registered: {names}")
    try:
        cls = _load(kind, name, target)
    except ConfigError as exc:
        extra = spec.extras.get(name) if spec else None
        if extra and isinstance(exc.__cause__, ModuleNotFoundError):
            raise ConfigError(
                f"{kind} {name!r} needs an optional driver that is not installed "
                f"({exc.__cause__.name}): pip install '{extra}'"
            ) from exc
        raise
    protocol = _load(kind, "protocol", spec.protocol) if spec else object
    if not (isinstance(cls, type) and issubclass(cls, protocol)):
        raise ConfigError(f"{kind} {target!r} is not a subclass of {protocol.__name__}")
    found: type[Any] = cls
    return found


def _load(kind: str, name: str, target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(
            f"{kind} {name or 'path'!r} -> {target!r} cannot be loaded: {exc}"
        ) from exc
